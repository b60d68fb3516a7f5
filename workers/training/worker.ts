/**
 * The training worker: a BullMQ worker on the `train` queue with concurrency 1 (one training job per worker
 * at a time; more jobs wait in the queue, visibly). The training itself runs in a child process, so this
 * process's event loop keeps renewing the job's lock; if this process dies, the lock expires and another
 * worker's stalled-job check puts the job back in the queue, where it resumes from its bucket checkpoint.
 */
import { Worker, type ConnectionOptions } from 'bullmq';
import { trainingProcessor, type TrainingContext, type TrainJobResult } from './processor.js';
import { TRAIN_QUEUE, type TrainJobData } from './queue.js';

export interface TrainingWorkerOptions {
  readonly connection: ConnectionOptions;
  readonly prefix: string;
  readonly context: TrainingContext;
  /**
   * The job's lock lives this long without renewal (renewed every half of it while this process runs).
   * @default 30000
   */
  readonly lockDurationMs?: number;
  /** How often this worker looks for jobs whose worker died. @default 15000 */
  readonly stalledIntervalMs?: number;
  /** Times a job may lose its worker before it fails (preemptible GPU nodes die often). @default 5 */
  readonly maxStalledCount?: number;
}

export interface RunningTrainingWorker {
  readonly worker: Worker<TrainJobData, TrainJobResult>;
  /** Stops taking jobs; `force` returns a running job to the queue now (it resumes from its checkpoint). */
  close(force?: boolean): Promise<void>;
}

export function startTrainingWorker(o: TrainingWorkerOptions): RunningTrainingWorker {
  const ctx = o.context;
  const worker = new Worker<TrainJobData, TrainJobResult>(TRAIN_QUEUE, trainingProcessor(ctx), {
    connection: o.connection,
    prefix: o.prefix,
    concurrency: 1,
    lockDuration: o.lockDurationMs ?? 30_000,
    stalledInterval: o.stalledIntervalMs ?? 15_000,
    maxStalledCount: o.maxStalledCount ?? 5,
  });
  worker.on('error', (err) => ctx.log(`train worker: ${err.message}`));
  // A job that stalled too often fails without its processor running: put the reason on its record.
  worker.on('failed', (job, err) => {
    if (!job) return;
    void job
      .getState()
      .then(async (state) => {
        if (state === 'failed')
          await ctx.records.finish(job.data.trainingId, 'failed', { reason: err.message });
      })
      .catch((e: unknown) => ctx.log(`train worker: ${String(e)}`));
  });
  return {
    worker,
    close: (force = false) => worker.close(force),
  };
}

/** The settings of a training worker from the environment (all optional). */
export function trainingWorkerEnv(env: Readonly<Record<string, string | undefined>> = process.env): {
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  scratchDir?: string;
} {
  const ms = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < 100)
      throw new Error(`'${name}' must be an integer >= 100 (ms); got ${JSON.stringify(raw)}`);
    return v;
  };
  const lock = ms('KIOSK_TRAIN_LOCK_MS');
  const stalled = ms('KIOSK_TRAIN_STALLED_MS');
  return {
    ...(lock !== undefined ? { lockDurationMs: lock } : {}),
    ...(stalled !== undefined ? { stalledIntervalMs: stalled } : {}),
    ...(env.KIOSK_TRAIN_SCRATCH ? { scratchDir: env.KIOSK_TRAIN_SCRATCH } : {}),
  };
}

import { Worker, type ConnectionOptions, type Job } from 'bullmq';
import { JOB, QUEUE, type Pool } from '../queues/names.js';
import type { ImageJobData, PackJobData, StageResult } from '../queues/payloads.js';
import { ComputeSlot } from './compute-slot.js';
import { importModelProcessor, type ImportModelJobData, type ImportModelResult } from './import-model.js';
import { failureRecorded, type WorkerContext } from './context.js';
import { packProcessor } from './pack.js';
import { postprocessProcessor } from './postprocess.js';
import { predictProcessor } from './predict.js';
import { preprocessProcessor } from './preprocess.js';

export interface PoolOptions {
  readonly pool: Pool;
  readonly connection: ConnectionOptions;
  readonly prefix: string;
  readonly context: WorkerContext;
  /**
   * Jobs one process runs at once per queue. CPU stages: 2, whose compute takes turns (one ComputeSlot per
   * process), so one job's Redis round trips overlap the other's math (batch pack jobs, which hold only
   * compressed TIFFs and mostly wait on Redis, do not take turns); predict > 1 lets the batcher run tiles
   * of several jobs per model call.
   * @default - 2 for cpu queues, 4 for predict
   */
  readonly concurrency?: number;
  /** A job whose worker stops renewing its lock for this long is stalled and goes back to the queue (workers/main.ts: KIOSK_LOCK_MS). @default 60000 */
  readonly lockDurationMs?: number;
  /** How often stalled jobs are looked for (workers/main.ts: KIOSK_STALLED_INTERVAL_MS). @default 30000 */
  readonly stalledIntervalMs?: number;
  /** Times a job may stall before it fails. @default 2 */
  readonly maxStalledCount?: number;
  /** ONNX Runtime threads of a model import's test run (cpu pool; workers/main.ts: KIOSK_ONNX_THREADS). @default 1 */
  readonly importThreads?: number;
}

export interface RunningPool {
  readonly workers: readonly Worker[];
  /**
   * Stops taking jobs and waits for the running ones to finish (`force`: return them to the queue now —
   * another worker picks them up after the lock expires).
   */
  close(force?: boolean): Promise<void>;
}

/**
 * Starts the BullMQ workers of one pool in this process: cpu = preprocess + postprocess + model imports
 * (`models`, one at a time), gpu = predict.
 */
export function startPool(o: PoolOptions): RunningPool {
  const ctx: WorkerContext =
    o.pool === 'cpu' && !o.context.computeSlot ? { ...o.context, computeSlot: new ComputeSlot() } : o.context;
  const common = {
    connection: o.connection,
    prefix: o.prefix,
    lockDuration: o.lockDurationMs ?? 60_000,
    stalledInterval: o.stalledIntervalMs ?? 30_000,
    maxStalledCount: o.maxStalledCount ?? 2,
  };
  const workers: Worker[] = [];
  if (o.pool === 'cpu') {
    const pre = preprocessProcessor(ctx);
    const post = postprocessProcessor(ctx);
    const pack = packProcessor(ctx);
    workers.push(
      new Worker<ImageJobData, StageResult>(QUEUE.preprocess, pre, {
        ...common,
        concurrency: o.concurrency ?? 2,
      }),
    );
    workers.push(
      new Worker<ImageJobData | PackJobData, StageResult>(
        QUEUE.postprocess,
        (job, token) =>
          job.name === JOB.pack
            ? pack(job as Job<PackJobData, StageResult>, token)
            : post(job as Job<ImageJobData, StageResult>, token),
        { ...common, concurrency: o.concurrency ?? 2 },
      ),
    );
    workers.push(
      new Worker<ImportModelJobData, ImportModelResult>(
        QUEUE.models,
        importModelProcessor(ctx, { threads: o.importThreads ?? 1 }),
        { ...common, concurrency: 1 },
      ),
    );
  } else {
    workers.push(
      new Worker<ImageJobData, StageResult>(QUEUE.predict, predictProcessor(ctx), {
        ...common,
        concurrency: o.concurrency ?? 4,
      }),
    );
  }
  for (const w of workers) {
    w.on('error', (err) => ctx.log(`worker ${w.name}: ${err.message}`));
    // A stage can fail for good without its processor running: BullMQ fails a job that stalled more than
    // maxStalledCount times (one that kills its worker each time, e.g. out of memory). Its record must still
    // end failed, with a reason, not stay in its last status (a record already final is left as it is).
    w.on('failed', (job, err) => {
      if (!job?.finishedOn) return; // it will be retried
      if (w.name === QUEUE.models) return; // an import has no job record: its failed reason is its outcome
      if (failureRecorded(err)) return; // runStage finished the record already, with the reason
      // A stage failed because its child stage failed (failParentOnFailure): the child's failure was recorded.
      if (/^child \S+ failed$/.test(err.message)) return;
      const { jobId } = job.data as { jobId: string };
      const reason = /stalled more than allowable limit/.test(err.message)
        ? `its worker was lost ${(o.maxStalledCount ?? 2) + 1} times while running it (killed, or out of memory)`
        : err.message;
      ctx.records
        .finish(jobId, 'failed', { reason: `${job.name}: ${reason}` })
        .catch((e: unknown) => ctx.log(`record ${jobId}: ${String(e)}`));
    });
  }
  return {
    workers,
    async close(force = false) {
      await Promise.all(workers.map((w) => w.close(force)));
    },
  };
}

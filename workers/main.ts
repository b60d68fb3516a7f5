/**
 * A worker process: `node --import tsx workers/main.ts --pool cpu|gpu`.
 * cpu: preprocess + postprocess (and batch packing), and bioimage.io model imports (the `models` queue); gpu: predict (model inference, tiles batched across
 * jobs) and the `train` queue (one training job at a time, trained in a child process; KIOSK_GPU_TRAIN=0
 * leaves training to separate `kiosk start --role trainer` processes). Configuration from the environment
 * (see core/config.ts; REDIS_URL required). Prints `worker <pool> ready` when it takes jobs.
 * SIGTERM/SIGINT (also during start-up): stop taking jobs, finish the running ones, exit — a running training
 * job goes back to the queue at once and resumes from its checkpoint; a second signal returns running jobs
 * to the queue at once (another worker picks them up), or exits after 10 s when it cannot (Redis away: they
 * go back as stalled).
 *
 * Metrics (workers/metrics): stage durations and jobs by outcome for every stage job, model time and batch
 * size for every model call. KIOSK_METRICS_PORT serves them on GET /metrics (0: any free port, printed);
 * KIOSK_METRICS_SHARE=redis writes them to Redis every 5 s for the API's /metrics to add up (the local
 * kiosk, whose workers come and go on no fixed port).
 * KIOSK_TRIVIAL_MODEL=1 serves the trivial threshold model with the trivial stages (tests/benchmarks only).
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../core/config.js';
import { createServices, type KioskServices } from '../core/services.js';
import { instrumentWorker, kioskMetrics } from './metrics/index.js';
import { serveMetrics, type MetricsServer } from './metrics/serve.js';
import { shareMetrics, type SharedMetrics } from './metrics/shared.js';
import type { TileBatcher } from './processors/batcher.js';
import type { WorkerContext } from './processors/context.js';
import { pipelineStages } from './processors/pipeline-stages.js';
import { startPool, type RunningPool } from './processors/pool.js';
import { trivialModels, trivialStages } from './processors/trivial-stages.js';
import { watchParent } from './parent-watch.js';
import { bullConnection } from './queues/connection.js';
import type { Pool } from './queues/names.js';
import type { RunningTrainingWorker } from './training/worker.js';

/** How long a second signal waits for the running jobs to go back to the queue before the worker exits. */
const FORCE_EXIT_MS = 10_000;

export async function runWorker(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { pool: { type: 'string' } }, strict: true });
  const pool = values.pool as Pool;
  if (pool !== 'cpu' && pool !== 'gpu')
    throw new Error(`--pool must be cpu or gpu; got ${JSON.stringify(values.pool)}`);
  const share = process.env.KIOSK_METRICS_SHARE;
  if (share !== undefined && share !== '' && share !== 'redis')
    throw new Error(`KIOSK_METRICS_SHARE must be redis or unset; got ${JSON.stringify(share)}`);
  const log = (msg: string) => process.stderr.write(`worker ${pool}: ${msg}\n`);

  // The signal handlers go in before anything is awaited: a SIGTERM during start-up (the autoscaler
  // scaling down a worker still loading) must stop it cleanly, never find the default action (kill).
  let signals = 0;
  const on: { shutdown?: (force: boolean) => void } = {};
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) log(`${signal}: finishing running jobs`);
    else log(`${signal} again: returning running jobs to the queue`);
    if (on.shutdown) on.shutdown(signals > 1);
    else if (signals > 1) process.exit(1); // still starting: nothing runs yet
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  watchParent((why) => {
    log(`${why}: stopping`);
    if (signals === 0) onSignal('SIGTERM');
  });
  log(`starting (pid ${process.pid})`);

  const config = loadConfig();
  const trivial = process.env.KIOSK_TRIVIAL_MODEL === '1';
  const services: KioskServices = await createServices(config, {
    ...(trivial ? { customModels: trivialModels() } : {}),
  });
  const metrics = kioskMetrics();
  const context: WorkerContext = {
    storage: services.storage,
    records: services.records,
    registry: services.registry,
    stages: trivial ? trivialStages : pipelineStages,
    submitter: services.submitter,
    maxPixels: config.maxPixels,
    maxFrames: config.maxFrames,
    maxBatchTiles: config.maxBatchTiles,
    batchers: new Map<string, TileBatcher>(),
    log,
  };
  const running: RunningPool = startPool({
    pool,
    connection: bullConnection(config.redisUrl),
    prefix: config.prefix,
    context,
    concurrency: pool === 'gpu' ? config.predictConcurrency : config.cpuConcurrency,
    importThreads: config.onnxThreads,
    lockDurationMs: config.lockMs,
    stalledIntervalMs: config.stalledIntervalMs,
  });
  for (const w of running.workers) instrumentWorker(metrics, w);
  // Training is imported only where it runs: it loads TensorFlow.js, ~20 MB of heap that would make every
  // full GC of a CPU worker dearer.
  let trainer: RunningTrainingWorker | undefined;
  if (pool === 'gpu' && process.env.KIOSK_GPU_TRAIN !== '0') {
    const [{ startTrainingWorkerFor }, { trainingWorkerEnv }] = await Promise.all([
      import('./training/services.js'),
      import('./training/worker.js'),
    ]);
    trainer = startTrainingWorkerFor(services, { ...trainingWorkerEnv(), log });
  }
  if (trainer) instrumentWorker(metrics, trainer.worker);

  let server: MetricsServer | undefined;
  let shared: SharedMetrics | undefined;
  let stopped: Promise<void> | undefined;
  on.shutdown = (force) => {
    // Training is long: its job goes back to the queue at once and resumes from its checkpoint.
    const closing = Promise.all([running.close(force), trainer?.close(true)]);
    if (force) {
      void closing.finally(() => process.exit(1));
      // Returning jobs needs Redis: when it is away the close would wait for it forever (issue 18 #3).
      setTimeout(() => {
        log(
          `running jobs not returned to the queue within ${FORCE_EXIT_MS / 1000} s (Redis away?): exiting; ` +
            'they go back to the queue as stalled',
        );
        process.exit(1);
      }, FORCE_EXIT_MS).unref();
      return;
    }
    stopped ??= closing
      .then(() => shared?.stop())
      .then(() => server?.close())
      .then(() => services.close())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log(`stopping: ${String(err)}`);
          process.exit(1);
        },
      );
  };
  if (signals > 0) {
    on.shutdown(signals > 1); // a signal came while the services were being made
    return;
  }

  const port = process.env.KIOSK_METRICS_PORT;
  if (port !== undefined && port !== '') {
    server = await serveMetrics(metrics.registry, Number(port));
    log(`metrics on :${server.port}/metrics`);
  }
  if (share === 'redis' && signals === 0)
    shared = shareMetrics({
      redis: services.redis,
      prefix: config.prefix,
      registry: metrics.registry,
      onError: (err) => log(`sharing metrics: ${String(err)}`),
    });

  await Promise.all(
    [...running.workers, ...(trainer ? [trainer.worker] : [])].map((w) => w.waitUntilReady()),
  );
  if (signals === 0) process.stdout.write(`worker ${pool} ready\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runWorker(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`worker: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

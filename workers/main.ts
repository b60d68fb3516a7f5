/**
 * A worker process: `node --import tsx workers/main.ts --pool cpu|gpu`.
 * cpu: preprocess + postprocess (and batch packing); gpu: predict (model inference, tiles batched across
 * jobs). Configuration from the environment (see api/config.ts; REDIS_URL required). Prints
 * `worker <pool> ready` when it takes jobs. SIGTERM/SIGINT: stop taking jobs, finish the running ones, exit;
 * a second signal returns running jobs to the queue at once (another worker picks them up).
 * KIOSK_TRIVIAL_MODEL=1 serves the trivial threshold model with the trivial stages (tests/benchmarks only).
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../api/config.js';
import { createServices } from '../api/services.js';
import type { TileBatcher } from './processors/batcher.js';
import type { WorkerContext } from './processors/context.js';
import { pipelineStages } from './processors/pipeline-stages.js';
import { startPool } from './processors/pool.js';
import { trivialModels, trivialStages } from './processors/trivial-stages.js';
import { bullConnection } from './queues/connection.js';
import type { Pool } from './queues/names.js';

export async function runWorker(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { pool: { type: 'string' } }, strict: true });
  const pool = values.pool as Pool;
  if (pool !== 'cpu' && pool !== 'gpu')
    throw new Error(`--pool must be cpu or gpu; got ${JSON.stringify(values.pool)}`);
  const config = loadConfig();
  const trivial = process.env.KIOSK_TRIVIAL_MODEL === '1';
  const services = await createServices(config, {
    ...(trivial ? { customModels: trivialModels() } : {}),
  });
  const log = (msg: string) => process.stderr.write(`worker ${pool}: ${msg}\n`);
  const context: WorkerContext = {
    storage: services.storage,
    records: services.records,
    registry: services.registry,
    stages: trivial ? trivialStages : pipelineStages,
    submitter: services.submitter,
    maxPixels: config.maxPixels,
    maxBatchTiles: config.maxBatchTiles,
    batchers: new Map<string, TileBatcher>(),
    log,
  };
  const running = startPool({
    pool,
    connection: bullConnection(config.redisUrl),
    prefix: config.prefix,
    context,
    concurrency: pool === 'gpu' ? config.predictConcurrency : config.cpuConcurrency,
  });
  await Promise.all(running.workers.map((w) => w.waitUntilReady()));
  process.stdout.write(`worker ${pool} ready\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log(`${signal} again: returning running jobs to the queue`);
      void running.close(true).then(() => process.exit(1));
      return;
    }
    stopping = true;
    log(`${signal}: finishing running jobs`);
    void running
      .close()
      .then(() => services.close())
      .then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runWorker(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`worker: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

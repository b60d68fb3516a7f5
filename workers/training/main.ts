/**
 * A training worker process: `node --import tsx workers/training/main.ts`. Takes jobs from the `train`
 * queue one at a time (configuration from the environment, see api/config.ts; REDIS_URL required; optional
 * KIOSK_TRAIN_LOCK_MS, KIOSK_TRAIN_STALLED_MS, KIOSK_TRAIN_SCRATCH). Prints `worker train ready` when it
 * takes jobs. SIGTERM/SIGINT: stop taking jobs and return a running one to the queue (it resumes from its
 * last checkpoint on the next worker); training is long, so it is not waited for.
 */
import { loadConfig } from '../../api/config.js';
import { createServices } from '../../api/services.js';
import { startTrainingWorkerFor } from './services.js';
import { trainingWorkerEnv } from './worker.js';

export async function runTrainingWorker(): Promise<void> {
  const services = await createServices(loadConfig());
  const log = (msg: string) => process.stderr.write(`worker train: ${msg}\n`);
  const running = startTrainingWorkerFor(services, { ...trainingWorkerEnv(), log });
  await running.worker.waitUntilReady();
  process.stdout.write('worker train ready\n');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: returning the running job to the queue`);
    void running
      .close(true)
      .then(() => services.close())
      .then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runTrainingWorker().catch((err: unknown) => {
    process.stderr.write(`worker train: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

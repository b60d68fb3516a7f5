/**
 * A training worker process: `node --import tsx workers/training/main.ts`. Takes jobs from the `train`
 * queue one at a time (configuration from the environment, see core/config.ts; REDIS_URL required; optional
 * KIOSK_TRAIN_LOCK_MS, KIOSK_TRAIN_STALLED_MS, KIOSK_TRAIN_SCRATCH). Prints `worker train ready` when it
 * takes jobs. SIGTERM/SIGINT: stop taking jobs and return a running one to the queue (it resumes from its
 * last checkpoint on the next worker); training is long, so it is not waited for.
 */
import { loadConfig } from '../../core/config.js';
import { createServices } from '../../core/services.js';
import { startTrainingWorkerFor } from './services.js';
import { trainingWorkerEnv } from './worker.js';

export async function runTrainingWorker(): Promise<void> {
  const log = (msg: string) => process.stderr.write(`worker train: ${msg}\n`);
  // The handlers go in before anything is awaited: a SIGTERM between `ready` and a later process.on()
  // would meet the default action and kill the worker (exit by signal, no job returned).
  let stopping: string | undefined;
  const ready: { stopNow?: (signal: string) => void } = {}; // set once started
  const onSignal = (signal: string) => {
    if (stopping) return;
    stopping = signal;
    ready.stopNow?.(signal);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  log(`starting (pid ${process.pid})`);
  const services = await createServices(loadConfig());
  const running = startTrainingWorkerFor(services, { ...trainingWorkerEnv(), log });
  ready.stopNow = (signal) => {
    log(`${signal}: returning the running job to the queue`);
    void running
      .close(true)
      .then(() => services.close())
      .then(() => process.exit(0));
  };
  if (stopping) return ready.stopNow(stopping); // signalled during start-up
  await running.worker.waitUntilReady();
  if (!stopping) process.stdout.write('worker train ready\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runTrainingWorker().catch((err: unknown) => {
    process.stderr.write(`worker train: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

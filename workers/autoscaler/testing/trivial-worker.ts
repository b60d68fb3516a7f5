/**
 * A TRIVIAL worker process for autoscaler tests and the planner bench — not the kiosk's worker entry.
 * It consumes the given BullMQ queues with a processor that only waits `--job-ms` (a stand-in for a model
 * call) and returns `{ pid, startedAt, finishedAt }`. On SIGTERM it drains like the real worker: BullMQ
 * `worker.close()` (no new job; the running one finishes), then exits 0.
 *
 *   node --import tsx workers/autoscaler/testing/trivial-worker.ts \
 *     --redis redis://127.0.0.1:6390 --prefix test-x --queues predict --job-ms 50 [--concurrency 1]
 */
import { parseArgs } from 'node:util';
import { Worker } from 'bullmq';
import { bullConnection } from '../../queues/connection.js';

const { values } = parseArgs({
  options: {
    redis: { type: 'string' },
    prefix: { type: 'string' },
    queues: { type: 'string' },
    'job-ms': { type: 'string', default: '50' },
    concurrency: { type: 'string', default: '1' },
  },
});
if (!values.redis || !values.prefix || !values.queues) {
  process.stderr.write('trivial-worker: --redis, --prefix and --queues are required\n');
  process.exit(2);
}
const jobMs = Number(values['job-ms']);
const connection = bullConnection(values.redis);
const workers = values.queues.split(',').map(
  (queue) =>
    new Worker(
      queue,
      async () => {
        const startedAt = Date.now();
        await new Promise((r) => setTimeout(r, jobMs));
        return { pid: process.pid, startedAt, finishedAt: Date.now() };
      },
      { connection, prefix: values.prefix, concurrency: Number(values.concurrency) },
    ),
);
// The drain handler goes in before anything is awaited: a SIGTERM must never find the default (kill) action.
process.once('SIGTERM', () => {
  Promise.all(workers.map((w) => w.close()))
    .then(() => {
      process.stdout.write(`${JSON.stringify({ event: 'drained', pid: process.pid })}\n`);
      process.exit(0);
    })
    .catch((err: unknown) => {
      process.stderr.write(`trivial-worker: close failed: ${String(err)}\n`);
      process.exit(1);
    });
});
for (const w of workers)
  w.on('error', (err) => process.stderr.write(`trivial-worker ${w.name}: ${err.message}\n`));
await Promise.all(workers.map((w) => w.waitUntilReady()));
process.stdout.write(`${JSON.stringify({ event: 'ready', pid: process.pid, queues: values.queues })}\n`);

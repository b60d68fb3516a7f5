/**
 * The autoscaler process: `node --import tsx workers/autoscaler/main.ts --driver local|kubernetes`.
 * Environment: REDIS_URL (required), KIOSK_PREFIX, KIOSK_SCALE_CPU / KIOSK_SCALE_GPU (pools; the local
 * driver has defaults), KIOSK_SCALE_INTERVAL_S, KIOSK_SCALE_IDLE_GRACE_S, KIOSK_SCALE_DOWN_WINDOW_S,
 * KIOSK_METRICS_PORT, KIOSK_SCALE_LOG (all | changes), KIOSK_NAMESPACE (kubernetes). Prints one JSON line per decision. With the local driver
 * the workers it starts are its child processes and write to its stdout/stderr (so `kiosk start` sees their
 * `worker <pool> ready` lines). SIGTERM/SIGINT: stop, drain the workers, exit; a second signal is passed on.
 */
import { parseArgs } from 'node:util';
import { runAutoscalerUntilSignal } from './service.js';

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { driver: { type: 'string' } }, strict: true });
  if (values.driver !== 'local' && values.driver !== 'kubernetes')
    throw new Error(`--driver must be local or kubernetes; got ${JSON.stringify(values.driver)}`);
  return runAutoscalerUntilSignal({ driver: values.driver });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`autoscaler: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}

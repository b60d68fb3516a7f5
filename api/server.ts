import { buildApp } from './app.js';
import { listenAddress } from './auth.js';
import { loadConfig } from '../core/config.js';
import { createServices } from '../core/services.js';
import { watchParent } from '../workers/parent-watch.js';
import { trivialModels } from '../workers/processors/trivial-stages.js';

/** How long the API takes to stop on SIGTERM/SIGINT before it exits anyway. */
const STOP_TIMEOUT_MS = 10_000;

/**
 * The API process: validates the configuration (cloud mode without authentication is refused), builds the
 * app, listens on HOST:PORT (127.0.0.1 only while authentication is off, and says so), and on SIGTERM or
 * SIGINT stops accepting requests, finishes the ones in flight and closes its connections (exiting after 10 s
 * in any case: a Redis that is away would hold it forever).
 */
export async function startServer(): Promise<void> {
  // The handlers go in before anything is awaited: a SIGTERM between `api listening` and a later
  // process.on() would meet the default action (exit by signal, requests in flight cut).
  let stopping = false;
  const ready: { stopNow?: (signal: string) => void } = {}; // set once started
  let pending: string | undefined;
  const onSignal = (signal: string) => {
    if (stopping) process.exit(1); // a second signal: now
    stopping = true;
    if (ready.stopNow) ready.stopNow(signal);
    else pending = signal;
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const config = loadConfig();
  // KIOSK_TRIVIAL_MODEL=1: list the trivial test model too (tests and benchmarks only)
  const services = await createServices(
    config,
    process.env.KIOSK_TRIVIAL_MODEL === '1' ? { customModels: trivialModels() } : {},
  );
  const app = await buildApp({ config, services, logger: { level: process.env.LOG_LEVEL ?? 'info' } });
  const { host, notice } = listenAddress(config);
  if (notice) process.stderr.write(`api: ${notice}\n`);
  if (config.auth === 'tokens' && !(await services.tokens.anyActive()))
    process.stderr.write(
      'api: KIOSK_AUTH=tokens but no token exists yet: every request will answer 401 until an admin runs ' +
        '`npx kiosk token create --lab LAB --role admin` against this Redis\n',
    );
  const url = await app.listen({ host, port: config.port });
  app.log.info(`cellkiosk API listening on ${url} (authentication: ${config.auth}, ${config.mode} mode)`);
  process.stdout.write(`api listening on ${url}\n`);
  const stop = async (signal: string) => {
    app.log.info(`${signal}: shutting down`);
    // Closing waits for the requests in flight and for Redis: bounded, as a Redis that is away never answers.
    setTimeout(() => {
      process.stderr.write(
        `api: not stopped within ${STOP_TIMEOUT_MS / 1000} s of ${signal} (requests in flight, or Redis not answering): exiting\n`,
      );
      process.exit(1);
    }, STOP_TIMEOUT_MS).unref();
    await app.close();
    await services.close();
    process.exit(0);
  };
  ready.stopNow = (signal) => void stop(signal);
  if (pending) ready.stopNow(pending); // signalled while starting
  watchParent((why) => {
    process.stderr.write(`api: ${why}: stopping\n`);
    if (!stopping) onSignal('SIGTERM');
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  startServer().catch((err: unknown) => {
    process.stderr.write(`api: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

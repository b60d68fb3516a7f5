import { buildApp } from './app.js';
import { loadConfig } from './config.js';
import { trivialModels } from '../workers/processors/trivial-stages.js';

/**
 * The API process: validates the configuration, builds the app, listens on HOST:PORT, and on SIGTERM or
 * SIGINT stops accepting requests, finishes the ones in flight and closes its connections.
 */
export async function startServer(): Promise<void> {
  const config = loadConfig();
  const app = await buildApp({
    config,
    logger: { level: process.env.LOG_LEVEL ?? 'info' },
    // KIOSK_TRIVIAL_MODEL=1: list the trivial test model too (tests and benchmarks only)
    ...(process.env.KIOSK_TRIVIAL_MODEL === '1' ? { overrides: { customModels: trivialModels() } } : {}),
  });
  const url = await app.listen({ host: config.host, port: config.port });
  app.log.info(`cellkiosk API listening on ${url}`);
  process.stdout.write(`api listening on ${url}\n`);
  const stop = async (signal: string) => {
    app.log.info(`${signal}: shutting down`);
    await app.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  startServer().catch((err: unknown) => {
    process.stderr.write(`api: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

/**
 * A whole local kiosk for browser tests: the API (with the freshly built web UI) listening on a free port,
 * a CPU and an inference worker pool in this process, the private test Redis, a temp-folder bucket and a
 * `test-<uuid>` prefix. Uses the shipped `nuclear` model with the real pipeline stages when
 * models/nuclear/ exists, else the trivial test model. `close()` removes everything it made.
 *
 * As in the cluster, each role's code has its own services over its own view of the bucket, which allows
 * only what that role's grants allow (constructs/roles.ts, workers/storage/grant-check.ts): the API (api),
 * the CPU pool (cpu-worker), the inference pool and the training worker (gpu-worker: the GPU worker trains).
 * `close()` fails, listing them, if any role's code made a bucket call outside its grants.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app.js';
import { loadConfig } from '../../core/config.js';
import { createServices, type KioskServices } from '../../core/services.js';
import type { KioskRole } from '../../constructs/roles.js';
import { bullConnection } from '../../workers/queues/connection.js';
import { QUEUE } from '../../workers/queues/names.js';
import type { TileBatcher } from '../../workers/processors/batcher.js';
import type { WorkerContext } from '../../workers/processors/context.js';
import { pipelineStages } from '../../workers/processors/pipeline-stages.js';
import { startPool, type RunningPool } from '../../workers/processors/pool.js';
import {
  TRIVIAL_CARD,
  TrivialThresholdRunner,
  trivialStages,
} from '../../workers/processors/trivial-stages.js';
import { GrantAudit } from '../../workers/storage/grant-check.js';
import { openStorage } from '../../workers/storage/index.js';
import { TRAIN_QUEUE } from '../../workers/training/queue.js';
import { startTrainingWorkerFor } from '../../workers/training/services.js';
import { buildWeb } from '../build.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Kiosk {
  readonly url: string;
  /** The API's services. */
  readonly services: KioskServices;
  /** The bucket calls each role's code made outside its grants (close() fails on any). */
  readonly audit: GrantAudit;
  /** 'nuclear' (real model) or 'trivial'. */
  readonly model: string;
  close(): Promise<void>;
}

/** True when a shipped nuclear model version with a card is in the repository. */
export function realModelPresent(modelsDir = join(repoRoot, 'models')): boolean {
  const dir = join(modelsDir, 'nuclear');
  return existsSync(dir) && readdirSync(dir).some((v) => existsSync(join(dir, v, 'card.json')));
}

export interface KioskOptions {
  /**
   * Also run a training worker in this process. New models are then written to a temp models folder
   * that links the repository's models (never into the repository). @default false
   */
  readonly trainer?: boolean;
  /** More settings for loadConfig (e.g. KIOSK_AUTH: 'tokens'). @default - none */
  readonly env?: Readonly<Record<string, string>>;
}

export async function startKiosk(redisUrl: string, o: KioskOptions = {}): Promise<Kiosk> {
  const dir = await mkdtemp(join(tmpdir(), 'kiosk-web-e2e-'));
  const modelsDir = join(dir, 'models');
  await mkdir(modelsDir);
  const repoModels = join(repoRoot, 'models');
  if (existsSync(repoModels))
    for (const name of readdirSync(repoModels)) await symlink(join(repoModels, name), join(modelsDir, name));
  const webRoot = (await buildWeb({ outDir: join(dir, 'web'), minify: false })).outDir;
  const real = realModelPresent();
  const model = real ? 'nuclear' : 'trivial';
  const prefix = `test-${randomUUID()}`;
  const config = loadConfig({
    REDIS_URL: redisUrl,
    KIOSK_BUCKET: join(dir, 'bucket'),
    KIOSK_PREFIX: prefix,
    KIOSK_DEFAULT_MODEL: model,
    KIOSK_MODEL_CACHE: join(dir, 'model-cache'),
    KIOSK_MODELS_DIR: modelsDir,
    KIOSK_BACKOFF_MS: '50',
    ...o.env,
  });
  const runner = new TrivialThresholdRunner(0.5);
  const audit = new GrantAudit(await openStorage(config.bucket, { scratchDir: config.scratchDir }));
  const servicesOf = (role: KioskRole) =>
    createServices(config, {
      storage: audit.storageFor(role),
      ...(real
        ? {}
        : { customModels: { 'trivial@1': { card: TRIVIAL_CARD, createRunner: async () => runner } } }),
    });
  const services = await servicesOf('api');
  const cpuServices = await servicesOf('cpu-worker');
  const gpuServices = await servicesOf('gpu-worker');
  const app: FastifyInstance = await buildApp({ config, services: services, webRoot });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const context = (s: KioskServices): WorkerContext => ({
    storage: s.storage,
    records: s.records,
    registry: s.registry,
    stages: real ? pipelineStages : trivialStages,
    submitter: s.submitter,
    maxPixels: config.maxPixels,
    maxBatchTiles: config.maxBatchTiles,
    batchers: new Map<string, TileBatcher>(),
    log: (msg) => process.stderr.write(`[e2e worker] ${msg}\n`),
  });
  const pools: RunningPool[] = (['cpu', 'gpu'] as const).map((pool) =>
    startPool({
      pool,
      connection: bullConnection(redisUrl),
      prefix,
      context: context(pool === 'cpu' ? cpuServices : gpuServices),
      stalledIntervalMs: 5000,
    }),
  );
  const trainer = o.trainer
    ? startTrainingWorkerFor(gpuServices, { scratchDir: join(dir, 'training'), log: () => undefined })
    : undefined;
  return {
    url,
    services: services,
    audit,
    model,
    async close() {
      await Promise.all(pools.map((p) => p.close(true)));
      await trainer?.close();
      await app.close();
      for (const name of [...Object.values(QUEUE), TRAIN_QUEUE]) {
        const q = new Queue(name, { connection: bullConnection(redisUrl), prefix });
        await q.obliterate({ force: true });
        await q.close();
      }
      const stale = await services.redis.keys(`${prefix}:*`);
      if (stale.length) await services.redis.del(...stale);
      for (const s of [cpuServices, gpuServices, services]) await s.close();
      await rm(dir, { recursive: true, force: true });
      audit.assertNone(); // last, so a violation fails the suite after everything is cleaned up
    },
  };
}

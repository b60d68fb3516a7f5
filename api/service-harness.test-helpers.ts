import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { KioskRole } from '../constructs/roles.js';
import type { TileBatcher } from '../workers/processors/batcher.js';
import { startPool, type RunningPool } from '../workers/processors/pool.js';
import type { SegmentationStages } from '../workers/processors/stages.js';
import { TRIVIAL_CARD, TrivialThresholdRunner, trivialStages } from '../workers/processors/trivial-stages.js';
import { bullConnection } from '../workers/queues/connection.js';
import type { JobRecord } from '../workers/queues/records.js';
import type { CustomModel } from '../workers/registry/registry.js';
import { GrantAudit } from '../workers/storage/grant-check.js';
import { openStorage } from '../workers/storage/index.js';
import type { Storage } from '../workers/storage/storage.js';
import { buildApp } from './app.js';
import { loadConfig } from '../core/config.js';
import { createServices, type KioskServices } from '../core/services.js';

/**
 * A whole service for tests: the API (fastify, not listening unless `listen`), a cpu and a gpu pool in
 * this process, the private test Redis under a `test-<uuid>` prefix, a temp-folder bucket. The trivial
 * model is the default unless other models/stages are given. `close()` obliterates the queues and keys.
 */
export interface TestService {
  readonly app: FastifyInstance;
  /** The API's services (with `grantCheck`, its bucket is the API role's grant-checked view). */
  readonly services: KioskServices;
  /** The bucket itself, unchecked: what a test reads or plants directly. */
  readonly bucket: Storage;
  /** With `grantCheck`: every bucket call a role's code made outside its grants (close() fails on any). */
  readonly audit?: GrantAudit;
  /**
   * The services of one role's process (made on first use, closed by close()): with `grantCheck`, separate
   * services over that role's grant-checked view of the bucket, as the role's own process would have;
   * without, the API's services.
   */
  servicesFor(role: KioskRole): Promise<KioskServices>;
  /** `http://127.0.0.1:<port>` when listening. */
  readonly url: string;
  readonly runner: TrivialThresholdRunner;
  wait(id: string, timeoutMs?: number): Promise<JobRecord>;
  close(): Promise<void>;
}

export interface TestServiceOptions {
  readonly env?: Record<string, string>;
  readonly stages?: SegmentationStages;
  readonly customModels?: Record<string, CustomModel>;
  readonly modelsDir?: string;
  readonly listen?: boolean;
  readonly pools?: boolean;
  /**
   * Each role's code gets its own view of the bucket that allows only what that role's grants allow
   * (constructs/roles.ts; workers/storage/grant-check.ts): the API, the cpu pool (cpu-worker) and the gpu pool
   * (gpu-worker) run on separate services, as their processes would, and close() fails listing every call
   * outside a role's grants. @default false
   */
  readonly grantCheck?: boolean;
}

/**
 * Starts a CPU and a GPU pool of in-process workers on `services` (the trivial stages unless others are
 * given), as the worker processes would run them. Tests that make jobs before any worker runs call this
 * themselves; close each pool when done.
 */
export function startWorkerPools(
  services: KioskServices,
  stages: SegmentationStages = trivialStages,
  /** The gpu pool's own services (its role's bucket view). @default - `services` */
  gpuServices: KioskServices = services,
): RunningPool[] {
  const context = (s: KioskServices) => ({
    storage: s.storage,
    records: s.records,
    registry: s.registry,
    stages,
    submitter: s.submitter,
    maxPixels: s.config.maxPixels,
    maxFrames: s.config.maxFrames,
    maxBatchTiles: s.config.maxBatchTiles,
    batchers: new Map<string, TileBatcher>(),
    log: () => undefined,
  });
  const { config } = services;
  return (['cpu', 'gpu'] as const).map((pool) =>
    startPool({
      pool,
      connection: bullConnection(config.redisUrl),
      prefix: config.prefix,
      context: context(pool === 'gpu' ? gpuServices : services),
      concurrency: pool === 'gpu' ? 4 : 1,
    }),
  );
}

export async function startTestService(redisUrl: string, o: TestServiceOptions = {}): Promise<TestService> {
  const prefix = `test-${randomUUID()}`;
  const dir = await mkdtemp(join(tmpdir(), 'kiosk-api-'));
  await mkdir(join(dir, 'no-models'));
  const config = loadConfig({
    REDIS_URL: redisUrl,
    KIOSK_PREFIX: prefix,
    KIOSK_BUCKET: join(dir, 'bucket'),
    KIOSK_SCRATCH_DIR: join(dir, 'scratch'), // not /dev/shm: everything of a test stays in its folder
    KIOSK_MODELS_DIR: o.modelsDir ?? join(dir, 'no-models'),
    KIOSK_MODEL_CACHE: join(dir, 'cache'),
    KIOSK_DEFAULT_MODEL: o.customModels ? 'nuclear' : 'trivial',
    KIOSK_BACKOFF_MS: '50',
    KIOSK_JOB_TTL_S: '3600',
    ...o.env,
  });
  const runner = new TrivialThresholdRunner();
  const customModels = o.customModels ?? {
    'trivial@1': { card: TRIVIAL_CARD, createRunner: async () => runner },
  };
  const bucket = await openStorage(config.bucket, { scratchDir: config.scratchDir });
  const audit = o.grantCheck ? new GrantAudit(bucket) : undefined;
  const services = await createServices(config, {
    customModels,
    storage: audit?.storageFor('api') ?? bucket,
  });
  const roleServices = new Map<KioskRole, Promise<KioskServices>>();
  const servicesFor = (role: KioskRole): Promise<KioskServices> => {
    if (!audit || role === 'api') return Promise.resolve(services);
    let made = roleServices.get(role);
    if (!made) {
      made = createServices(config, { customModels, storage: audit.storageFor(role) });
      roleServices.set(role, made);
    }
    return made;
  };
  const app = await buildApp({ config, services });
  const pools: RunningPool[] =
    o.pools !== false
      ? startWorkerPools(await servicesFor('cpu-worker'), o.stages, await servicesFor('gpu-worker'))
      : [];
  const url = o.listen ? await app.listen({ host: '127.0.0.1', port: 0 }) : '';
  return {
    app,
    services,
    bucket,
    ...(audit ? { audit } : {}),
    servicesFor,
    url,
    runner,
    wait: (id, timeoutMs = 30_000) => services.watcher.waitForFinal(id, timeoutMs),
    async close() {
      await Promise.all(pools.map((p) => p.close(true)));
      await app.close();
      for (const q of Object.values(services.queues))
        await q.obliterate({ force: true }).catch(() => undefined);
      const stale = await services.redis.keys(`${prefix}:*`);
      if (stale.length) await services.redis.del(...stale);
      for (const made of roleServices.values()) await (await made).close();
      await services.close();
      await rm(dir, { recursive: true, force: true });
      audit?.assertNone(); // last, so a violation fails the suite after everything is cleaned up
    },
  };
}

/** A multipart/form-data body for app.inject: `files` as [field, file name, bytes]. */
export async function multipart(
  files: readonly [string, string, Uint8Array][],
  fields: Record<string, string> = {},
) {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  for (const [field, name, bytes] of files) fd.append(field, new Blob([new Uint8Array(bytes)]), name);
  const req = new Request('http://local/', { method: 'POST', body: fd });
  return {
    payload: Buffer.from(await req.arrayBuffer()),
    headers: { 'content-type': req.headers.get('content-type')! },
  };
}

/** Uploads `files` ([name, bytes]) in one POST /v1/uploads, expects 201, and returns their keys. */
export async function uploadFiles(
  svc: TestService,
  files: readonly [string, Uint8Array][],
): Promise<string[]> {
  const res = await svc.app.inject({
    method: 'POST',
    url: '/v1/uploads',
    ...(await multipart(files.map(([n, b]) => ['file', n, b]))),
  });
  if (res.statusCode !== 201)
    throw new Error(`POST /v1/uploads: expected 201, got ${res.statusCode}: ${res.body}`);
  return (res.json() as { uploads: { key: string }[] }).uploads.map((u) => u.key);
}

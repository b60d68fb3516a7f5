import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { connectRedis, bullConnection } from '../queues/connection.js';
import { QUEUE } from '../queues/names.js';
import { JobRecords, type JobRecord } from '../queues/records.js';
import { DEFAULT_RETRY, JobSubmitter, type RetryPolicy } from '../queues/submit.js';
import { JobWatcher } from '../queues/watcher.js';
import { ModelRegistry, type CustomModel } from '../registry/registry.js';
import { LocalFolderStorage } from '../storage/local.js';
import type { TileBatcher } from './batcher.js';
import type { WorkerContext } from './context.js';
import { startPool, type PoolOptions, type RunningPool } from './pool.js';
import type { SegmentationStages } from './stages.js';
import { TRIVIAL_CARD, TrivialThresholdRunner, trivialStages } from './trivial-stages.js';

/**
 * A whole job service on the private test Redis, for tests: unique prefix `test-<uuid>`, a temp-folder
 * bucket, the trivial model (or given stages/models), a cpu and a gpu pool in this process.
 * `close()` stops the workers, obliterates the queues, deletes the prefix's keys and the bucket.
 */
export interface Harness {
  readonly prefix: string;
  readonly redisUrl: string;
  readonly redis: Redis;
  readonly storage: LocalFolderStorage;
  readonly records: JobRecords;
  readonly submitter: JobSubmitter;
  readonly registry: ModelRegistry;
  readonly context: WorkerContext;
  readonly runner: TrivialThresholdRunner;
  pools: RunningPool[];
  startPools(opts?: Partial<PoolOptions>): void;
  wait(id: string, timeoutMs?: number): Promise<JobRecord>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly stages?: SegmentationStages;
  readonly custom?: Record<string, CustomModel>;
  readonly builtinDir?: string;
  readonly retry?: Partial<RetryPolicy>;
  readonly maxPixels?: number;
  readonly startPools?: boolean;
  /** Time each trivial model call takes. @default 0 */
  readonly modelDelayMs?: number;
}

export async function createHarness(redisUrl: string, o: HarnessOptions = {}): Promise<Harness> {
  const prefix = `test-${randomUUID()}`;
  const dir = await mkdtemp(join(tmpdir(), 'kiosk-svc-'));
  const storage = new LocalFolderStorage(join(dir, 'bucket'));
  const redis = connectRedis(redisUrl);
  const records = new JobRecords(redis, prefix, 3600);
  const watcher = new JobWatcher(records, connectRedis(redisUrl));
  const runner = new TrivialThresholdRunner(0.5, o.modelDelayMs ?? 0);
  const registry = new ModelRegistry({
    storage,
    cacheDir: join(dir, 'cache'),
    ...(o.builtinDir ? { builtinDir: o.builtinDir } : {}),
    custom: o.custom ?? { 'trivial@1': { card: TRIVIAL_CARD, createRunner: async () => runner } },
  });
  const retry = { ...DEFAULT_RETRY, backoffMs: 50, ...o.retry };
  const submitter = new JobSubmitter(bullConnection(redisUrl), prefix, records, retry);
  const context: WorkerContext = {
    storage,
    records,
    registry,
    stages: o.stages ?? trivialStages,
    submitter,
    maxPixels: o.maxPixels ?? 2 ** 26,
    maxBatchTiles: 16,
    batchers: new Map<string, TileBatcher>(),
    log: () => undefined,
  };
  const h: Harness = {
    prefix,
    redisUrl,
    redis,
    storage,
    records,
    submitter,
    registry,
    context,
    runner,
    pools: [],
    startPools(opts = {}) {
      for (const pool of ['cpu', 'gpu'] as const) {
        this.pools.push(
          startPool({
            pool,
            connection: bullConnection(redisUrl),
            prefix,
            context,
            stalledIntervalMs: 5000,
            ...opts,
          }),
        );
      }
    },
    wait: (id, timeoutMs = 30_000) => watcher.waitForFinal(id, timeoutMs),
    async close() {
      await Promise.all(h.pools.map((p) => p.close(true)));
      await submitter.close();
      for (const name of Object.values(QUEUE)) {
        const q = new Queue(name, { connection: bullConnection(redisUrl), prefix });
        await q.obliterate({ force: true });
        await q.close();
      }
      const stale = await redis.keys(`${prefix}:*`);
      if (stale.length) await redis.del(...stale);
      await registry.close();
      redis.disconnect();
      await watcher.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  if (o.startPools !== false) h.startPools();
  return h;
}

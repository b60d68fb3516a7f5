import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { bullConnection, connectRedis } from '../workers/queues/connection.js';
import { QUEUE, type QueueName } from '../workers/queues/names.js';
import { JobRecords } from '../workers/queues/records.js';
import { JobSubmitter } from '../workers/queues/submit.js';
import { JobWatcher } from '../workers/queues/watcher.js';
import { ModelRegistry, type CustomModel } from '../workers/registry/registry.js';
import { openStorage } from '../workers/storage/index.js';
import { withStorageFaults } from '../workers/storage/flaky.js';
import { withGrantCheck } from '../workers/storage/grant-check.js';
import type { Storage } from '../workers/storage/storage.js';
import type { ServiceConfig } from './config.js';
import { TokenStore } from './tokens.js';

/** Everything the API (and a worker process) shares: one of each per process. */
export interface KioskServices {
  readonly config: ServiceConfig;
  readonly storage: Storage;
  /** A normal connection (records, health). */
  readonly redis: Redis;
  readonly records: JobRecords;
  /** Per-lab API tokens and signed download links (core/tokens.ts). */
  readonly tokens: TokenStore;
  readonly submitter: JobSubmitter;
  readonly registry: ModelRegistry;
  /** Job events for the SSE streams (its own subscriber connection). */
  readonly watcher: JobWatcher;
  /** The pipeline's queues, for depth metrics and health. */
  readonly queues: Readonly<Record<QueueName, Queue>>;
  close(): Promise<void>;
}

export interface ServiceOverrides {
  readonly storage?: Storage;
  /** Models registered in code (tests and the orchestration bench use the trivial model). */
  readonly customModels?: Readonly<Record<string, CustomModel>>;
}

export async function createServices(
  config: ServiceConfig,
  o: ServiceOverrides = {},
): Promise<KioskServices> {
  // Test aids, off unless their variables are set: withStorageFaults (KIOSK_FAULT_STORAGE_WRITE_FAIL_RATE, the
  // fault suite), withGrantCheck (KIOSK_GRANT_CHECK=<role>: only the calls that role's grants allow).
  const storage =
    o.storage ??
    withStorageFaults(withGrantCheck(await openStorage(config.bucket, { scratchDir: config.scratchDir })));
  const redis = connectRedis(config.redisUrl);
  const records = new JobRecords(redis, config.prefix, config.finishedTtlS);
  const connection = bullConnection(config.redisUrl);
  const submitter = new JobSubmitter(
    connection,
    config.prefix,
    records,
    { attempts: config.attempts, backoffMs: config.backoffMs, keepFinishedS: config.finishedTtlS },
    { fair: config.fairScheduling },
  );
  const registry = new ModelRegistry({
    storage,
    builtinDir: config.modelsDir,
    cacheDir: join(config.modelCacheDir),
    runtime: config.runtime,
    int8: config.int8,
    threads: config.onnxThreads,
    spin: config.onnxSpin,
    ...(o.customModels ? { custom: o.customModels } : {}),
  });
  const watcher = new JobWatcher(records, connectRedis(config.redisUrl));
  const queues = Object.fromEntries(
    Object.values(QUEUE).map((name) => [name, new Queue(name, { connection, prefix: config.prefix })]),
  ) as Record<QueueName, Queue>;
  return {
    config,
    storage,
    redis,
    records,
    tokens: new TokenStore(redis, config.prefix),
    submitter,
    registry,
    watcher,
    queues,
    async close() {
      await submitter.close();
      await Promise.all(Object.values(queues).map((q) => q.close()));
      await watcher.close();
      await registry.close();
      redis.disconnect();
    },
  };
}

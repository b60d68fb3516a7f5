/**
 * Wiring of the training service onto the job service's shared objects (core/services.ts): the records,
 * the `train` queue, and a training worker built from the same storage, registry and configuration.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KioskServices } from '../../core/services.js';
import type { RuntimePreference } from '../model/runtime.js';
import { bullConnection } from '../queues/connection.js';
import { TrainingQueue } from './queue.js';
import { TrainingRecords } from './records.js';
import { startTrainingWorker, type RunningTrainingWorker } from './worker.js';

export interface TrainingServices {
  readonly records: TrainingRecords;
  readonly queue: TrainingQueue;
  close(): Promise<void>;
}

/** Records + queue over the services' Redis (the API side). */
export function createTrainingServices(s: KioskServices): TrainingServices {
  const records = new TrainingRecords(s.redis, s.config.prefix);
  const queue = new TrainingQueue(bullConnection(s.config.redisUrl), s.config.prefix, {
    attempts: s.config.attempts,
    backoffMs: Math.max(s.config.backoffMs, 1000),
  });
  return { records, queue, close: () => queue.close() };
}

export interface TrainingWorkerSetup {
  /** @default - `<os tmp>/kiosk-training` */
  readonly scratchDir?: string;
  readonly lockDurationMs?: number;
  readonly stalledIntervalMs?: number;
  readonly tfjsPrefer?: RuntimePreference;
  readonly log?: (msg: string) => void;
}

/** Starts a training worker (concurrency 1) in this process over the services' storage and registry. */
export function startTrainingWorkerFor(s: KioskServices, o: TrainingWorkerSetup = {}): RunningTrainingWorker {
  return startTrainingWorker({
    connection: bullConnection(s.config.redisUrl),
    prefix: s.config.prefix,
    ...(o.lockDurationMs !== undefined ? { lockDurationMs: o.lockDurationMs } : {}),
    ...(o.stalledIntervalMs !== undefined ? { stalledIntervalMs: o.stalledIntervalMs } : {}),
    context: {
      storage: s.storage,
      records: new TrainingRecords(s.redis, s.config.prefix),
      registry: s.registry,
      modelsDir: s.config.modelsDir,
      scratchDir: o.scratchDir ?? join(tmpdir(), 'kiosk-training'),
      ...(o.tfjsPrefer ? { tfjsPrefer: o.tfjsPrefer } : {}),
      log: o.log ?? ((msg) => process.stderr.write(`${msg}\n`)),
    },
  });
}

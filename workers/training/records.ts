/**
 * The user-visible state of training jobs: one Redis hash `<prefix>:training:<id>` per job (JSON values),
 * an index `<prefix>:trainings` (sorted by creation time) and an event channel `<prefix>:training-events`
 * on which every change is published (the API's SSE stream relays it).
 *
 * Statuses: new → waiting (queued; `position` says where) → started (loading data and the base model) →
 * training (per-epoch progress) → saving-results → done | failed. `done`/`failed` are final: a late update
 * never overwrites them; a failed job always has a `reason` (a cancelled one: 'cancelled by the user').
 */
import type { Redis } from 'ioredis';
import type { TrainingDataSummary } from './data-format.js';

export const TRAINING_STATUSES = [
  'new',
  'waiting',
  'started',
  'training',
  'saving-results',
  'done',
  'failed',
] as const;
export type TrainingStatus = (typeof TRAINING_STATUSES)[number];

/** What the user asked for. */
export interface TrainingParams {
  /** Name of the model version written at the end. */
  readonly modelName: string;
  /** Model to fine-tune; absent = from scratch. */
  readonly baseModel?: string;
  /** Its version (resolved to a number at creation). */
  readonly baseVersion?: string;
  readonly epochs: number;
  readonly stepsPerEpoch: number;
  readonly batchSize: number;
  /** Side of the square training crops (px); a multiple of the network's size multiple. */
  readonly cropSize: number;
  /** Peak learning rate (Adam, warmup + cosine). */
  readonly learningRate: number;
  /** µm per pixel of the training images, when known (sets the new model's µm/px in its card). */
  readonly micronsPerPixel?: number;
  readonly seed: number;
}

/** One epoch as the engine reports it (see workers/model/checkpoint.ts EpochRecord). */
export interface EpochProgress {
  readonly epoch: number;
  readonly step: number;
  readonly trainLoss: number;
  readonly valF1?: number;
  readonly valDsb?: number;
  readonly seconds: number;
  readonly lr: number;
}

export interface TrainingRecord {
  readonly id: string;
  readonly lab: string;
  readonly status: TrainingStatus;
  /** 0..100 */
  readonly progress: number;
  readonly params: TrainingParams;
  readonly data: TrainingDataSummary;
  /** Bucket prefix of the checked pairs (`training/<id>/data/`). */
  readonly dataPrefix: string;
  readonly epoch: number;
  readonly step: number;
  /** Loss of the latest step. */
  readonly loss?: number;
  readonly history: readonly EpochProgress[];
  /** Epoch and step the latest attempt resumed from (a checkpoint of an earlier, killed attempt). */
  readonly resumedFrom?: { readonly epoch: number; readonly step: number };
  /** Epoch of the newest checkpoint in the bucket. */
  readonly checkpointEpoch?: number;
  readonly attempts: number;
  /** The model version written (set once, kept across retries so a retry never makes two versions). */
  readonly model?: { readonly name: string; readonly version: string };
  readonly runtime?: string;
  readonly reason?: string;
  readonly cancelled?: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
}

export interface TrainingEvent {
  readonly id: string;
  readonly status?: TrainingStatus;
  readonly progress?: number;
  readonly epoch?: number;
  readonly step?: number;
  readonly loss?: number;
  /** Present on the update that completes an epoch. */
  readonly epochRecord?: EpochProgress;
  readonly reason?: string;
  readonly model?: { readonly name: string; readonly version: string };
  /** New place in the queue of a waiting job (sent by the API's event stream, not stored). */
  readonly position?: number;
}

// Sets fields while the record is not final; publishes the event. 1 set, 0 final, -1 missing.
const GUARDED_SET = `
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return -1 end
st = cjson.decode(st)
if st == 'done' or st == 'failed' then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1`;

// Next version of a model name: max(stored counter, floor) + 1.
const NEXT_VERSION = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local floor = tonumber(ARGV[1])
if floor > cur then cur = floor end
cur = cur + 1
redis.call('SET', KEYS[1], cur)
return cur`;

type Patch = Partial<Omit<TrainingRecord, 'id' | 'createdAt'>>;

export class TrainingRecords {
  readonly channel: string;
  private readonly indexKey: string;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.channel = `${prefix}:training-events`;
    this.indexKey = `${prefix}:trainings`;
  }

  key(id: string): string {
    return `${this.prefix}:training:${id}`;
  }

  async create(rec: TrainingRecord): Promise<void> {
    await this.redis
      .multi()
      .hset(this.key(rec.id), toFields({ ...rec }))
      .zadd(this.indexKey, Date.parse(rec.createdAt), rec.id)
      .publish(this.channel, JSON.stringify({ id: rec.id, status: rec.status, progress: rec.progress }))
      .exec();
  }

  async get(id: string): Promise<TrainingRecord | undefined> {
    const raw = await this.redis.hgetall(this.key(id));
    return Object.keys(raw).length ? fromFields(raw) : undefined;
  }

  /**
   * Updates a record that is not final and publishes `event` (default: the changed status/progress).
   * Resolves false when the record is final or gone.
   */
  async update(id: string, patch: Patch, event: Omit<TrainingEvent, 'id'> = {}): Promise<boolean> {
    const fields = toFields({ ...patch, updatedAt: new Date().toISOString() });
    const ev: TrainingEvent = {
      id,
      ...(patch.status ? { status: patch.status } : {}),
      ...(patch.progress !== undefined ? { progress: patch.progress } : {}),
      ...(patch.epoch !== undefined ? { epoch: patch.epoch } : {}),
      ...(patch.step !== undefined ? { step: patch.step } : {}),
      ...(patch.loss !== undefined ? { loss: patch.loss } : {}),
      ...(patch.reason ? { reason: patch.reason } : {}),
      ...(patch.model ? { model: patch.model } : {}),
      ...event,
    };
    const r = (await this.redis.eval(
      GUARDED_SET,
      1,
      this.key(id),
      this.channel,
      JSON.stringify(ev),
      ...Object.entries(fields).flat(),
    )) as number;
    return r === 1;
  }

  /** Moves a job to `done` or `failed` (with `finishedAt`). */
  finish(id: string, status: 'done' | 'failed', patch: Patch = {}): Promise<boolean> {
    return this.update(id, { ...patch, status, finishedAt: new Date().toISOString() });
  }

  /** Newest first. Records that no longer exist are dropped from the index. */
  async list(opts: { limit: number; offset: number; lab?: string }): Promise<TrainingRecord[]> {
    const ids = await this.redis.zrevrange(this.indexKey, 0, -1);
    const out: TrainingRecord[] = [];
    let skipped = 0;
    for (const id of ids) {
      const rec = await this.get(id);
      if (!rec) {
        await this.redis.zrem(this.indexKey, id);
        continue;
      }
      if (opts.lab && rec.lab !== opts.lab) continue;
      if (skipped++ < opts.offset) continue;
      out.push(rec);
      if (out.length >= opts.limit) break;
    }
    return out;
  }

  /** Reserves the next version number of `name`, above `atLeast` (the newest version the registry knows). */
  async nextVersion(name: string, atLeast: number): Promise<number> {
    return (await this.redis.eval(
      NEXT_VERSION,
      1,
      `${this.prefix}:model-version:${name}`,
      String(atLeast),
    )) as number;
  }
}

function toFields(rec: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(rec)) if (v !== undefined) out[k] = JSON.stringify(v);
  return out;
}

function fromFields(raw: Record<string, string>): TrainingRecord {
  const rec: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) rec[k] = JSON.parse(v) as unknown;
  return rec as unknown as TrainingRecord;
}

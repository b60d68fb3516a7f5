import type { Redis } from 'ioredis';
import type { SegmentationOptions } from './payloads.js';

/**
 * Kiosk statuses, in order. Batch (zip / multi-file) parents sit in `waiting` until their children finish.
 * `done` and `failed` are final; a failed job always has a `reason`.
 */
export const STATUSES = [
  'new',
  'waiting',
  'started',
  'pre-processing',
  'predicting',
  'post-processing',
  'saving-results',
  'done',
  'failed',
] as const;
export type JobStatus = (typeof STATUSES)[number];
export const FINAL_STATUSES: readonly JobStatus[] = ['done', 'failed'];

export interface ChildFailure {
  readonly name: string;
  readonly reason: string;
}

/**
 * The user-visible state of one job: a Redis hash `<prefix>:job:<id>` whose field names are the DeepCell
 * Kiosk's (the compatible `/api/redis` route reads them raw). Times are ISO-8601 (UTC); durations seconds.
 */
export interface JobRecord {
  readonly id: string;
  readonly type: string;
  /** `image`: one image; `batch`: a zip or several files, whose children are image jobs. */
  readonly kind: 'image' | 'batch';
  readonly lab: string;
  readonly name: string;
  readonly model: string;
  readonly model_version: string;
  readonly options: SegmentationOptions;
  readonly status: JobStatus;
  /** 0..100 */
  readonly progress: number;
  readonly reason?: string;
  readonly failures?: readonly ChildFailure[];
  /** Bucket key of the result zip (`<stem>_feature_0.tif` inside, as the Kiosk made). */
  readonly output_key?: string;
  /** Bucket key of the label TIFF (image jobs). */
  readonly labels_key?: string;
  readonly object_count?: number;
  readonly created_at: string;
  readonly updated_at: string;
  readonly started_at?: string;
  readonly finished_at?: string;
  readonly total_time?: number;
  readonly preprocess_time?: number;
  readonly prediction_time?: number;
  readonly postprocess_time?: number;
  readonly parent?: string;
  readonly children?: readonly string[];
  readonly total_jobs?: number;
  readonly cancelled?: boolean;
}

export interface JobEvent {
  readonly id: string;
  readonly status: JobStatus;
  readonly progress: number;
  readonly parent?: string;
  readonly reason?: string;
}

type Fields = Record<string, string | number>;

// Sets fields only while the job is not final; publishes an event. Returns 1 set, 0 final already, -1 missing.
const GUARDED_SET = `
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return -1 end
if st == 'done' or st == 'failed' then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
local ttl = tonumber(ARGV[3])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1`;

const NUMERIC = [
  'progress',
  'object_count',
  'total_time',
  'preprocess_time',
  'prediction_time',
  'postprocess_time',
  'total_jobs',
];
const JSONS = ['options', 'failures', 'children'];

/** Reads and writes job records; every change is published on `<prefix>:job-events` for the SSE stream. */
export class JobRecords {
  readonly channel: string;
  private readonly indexKey: string;

  /**
   * @param redis a normal (non-subscriber) connection
   * @param prefix the deployment's key prefix (the BullMQ prefix)
   * @param finishedTtlS seconds a finished record is kept (the Kiosk's EXPIRE); 0 = forever
   */
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly finishedTtlS: number,
  ) {
    this.channel = `${prefix}:job-events`;
    this.indexKey = `${prefix}:jobs`;
  }

  key(id: string): string {
    return `${this.prefix}:job:${id}`;
  }

  /** Creates a record; top-level jobs (no parent) go into the listing index. */
  async create(rec: Omit<JobRecord, 'updated_at' | 'progress'>): Promise<void> {
    const fields = toFields({ ...rec, progress: 0, updated_at: rec.created_at });
    const multi = this.redis.multi().hset(this.key(rec.id), fields);
    if (!rec.parent) multi.zadd(this.indexKey, Date.parse(rec.created_at), rec.id);
    multi.publish(this.channel, JSON.stringify(eventOf(rec.id, fields)));
    await multi.exec();
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const raw = await this.redis.hgetall(this.key(id));
    return Object.keys(raw).length ? parseRecord(raw) : undefined;
  }

  /** The raw hash fields (strings), as the DeepCell-compatible `/api/redis` returns them. */
  async raw(id: string, fields: readonly string[]): Promise<(string | null)[] | undefined> {
    const [exists, values] = await Promise.all([
      this.redis.exists(this.key(id)),
      this.redis.hmget(this.key(id), ...fields),
    ]);
    return exists ? values : undefined;
  }

  /**
   * Updates a job that is not final yet (a late progress report never overwrites `done`/`failed`).
   * Resolves to false when the job is final or gone.
   */
  async update(id: string, fields: Partial<JobRecord>): Promise<boolean> {
    return this.guardedSet(id, { ...fields, updated_at: new Date().toISOString() }, 0);
  }

  /** Moves a job to `done` or `failed`; sets finished_at and total_time; starts its expiry clock. */
  async finish(id: string, status: 'done' | 'failed', fields: Partial<JobRecord> = {}): Promise<boolean> {
    const rec = await this.get(id);
    if (!rec) return false;
    const now = new Date();
    const total = (now.getTime() - Date.parse(rec.created_at)) / 1000;
    const ok = await this.guardedSet(
      id,
      {
        ...fields,
        status,
        progress: status === 'done' ? 100 : rec.progress,
        finished_at: now.toISOString(),
        updated_at: now.toISOString(),
        total_time: total,
      },
      this.finishedTtlS,
    );
    if (ok && rec.parent) await this.childFinished(rec.parent);
    return ok;
  }

  /** Counts a finished child in its parent's progress. */
  private async childFinished(parentId: string): Promise<void> {
    const key = this.key(parentId);
    const [[, finished], [, total]] = (await this.redis
      .multi()
      .hincrby(key, 'finished_children', 1)
      .hget(key, 'total_jobs')
      .exec()) as [[unknown, number], [unknown, string | null]];
    const n = Number(total ?? 0);
    if (n > 0) await this.update(parentId, { progress: Math.min(99, Math.floor((100 * finished) / n)) });
  }

  /** Sets a finished job's remaining lifetime (the Kiosk's `expire`). Resolves false for an unknown id. */
  async expire(id: string, seconds: number): Promise<boolean> {
    const rec = await this.get(id);
    if (!rec) return false;
    const multi = this.redis.multi().expire(this.key(id), seconds);
    for (const child of rec.children ?? []) multi.expire(this.key(child), seconds);
    await multi.exec();
    return true;
  }

  /** Newest first; records that expired are dropped from the index as they are met. */
  async list(opts: {
    limit: number;
    offset: number;
    lab?: string;
    status?: JobStatus;
  }): Promise<JobRecord[]> {
    const out: JobRecord[] = [];
    let start = 0;
    let skipped = 0;
    const page = Math.max(50, opts.limit);
    for (;;) {
      const ids = await this.redis.zrevrange(this.indexKey, start, start + page - 1);
      if (ids.length === 0) return out;
      const pipe = this.redis.pipeline();
      for (const id of ids) pipe.hgetall(this.key(id));
      const rows = (await pipe.exec()) ?? [];
      const gone: string[] = [];
      rows.forEach(([, raw], i) => {
        const fields = raw as Record<string, string>;
        if (!Object.keys(fields).length) return void gone.push(ids[i]!);
        const rec = parseRecord(fields);
        if ((opts.lab && rec.lab !== opts.lab) || (opts.status && rec.status !== opts.status)) return;
        if (skipped < opts.offset) return void skipped++;
        if (out.length < opts.limit) out.push(rec);
      });
      if (gone.length) await this.redis.zrem(this.indexKey, ...gone);
      if (out.length >= opts.limit) return out;
      start += ids.length - gone.length;
    }
  }

  async isCancelled(id: string): Promise<boolean> {
    return (await this.redis.hget(this.key(id), 'cancelled')) === '1';
  }

  private async guardedSet(
    id: string,
    fields: Partial<JobRecord> & { updated_at: string },
    ttlS: number,
  ): Promise<boolean> {
    const flat = toFields(fields);
    const args = Object.entries(flat).flat();
    const event = JSON.stringify(eventOf(id, flat));
    const r = (await this.redis.eval(
      GUARDED_SET,
      1,
      this.key(id),
      this.channel,
      event,
      String(ttlS),
      ...args,
    )) as number;
    return r === 1;
  }
}

function toFields(rec: Partial<JobRecord> & Record<string, unknown>): Fields {
  const out: Fields = {};
  for (const [k, v] of Object.entries(rec)) {
    if (v === undefined) continue;
    if (JSONS.includes(k)) out[k] = JSON.stringify(v);
    else if (typeof v === 'boolean') out[k] = v ? '1' : '0';
    else out[k] = v as string | number;
  }
  return out;
}

function eventOf(id: string, f: Fields): Partial<JobEvent> & { id: string } {
  const ev: Record<string, unknown> = { id };
  for (const k of ['status', 'progress', 'parent', 'reason'] as const)
    if (f[k] !== undefined) ev[k] = k === 'progress' ? Number(f[k]) : f[k];
  return ev as Partial<JobEvent> & { id: string };
}

/** Parses a record hash; unknown extra fields are ignored. */
export function parseRecord(raw: Record<string, string>): JobRecord {
  const rec: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (NUMERIC.includes(k)) rec[k] = Number(v);
    else if (JSONS.includes(k)) rec[k] = JSON.parse(v) as unknown;
    else if (k === 'cancelled') rec[k] = v === '1';
    else rec[k] = v;
  }
  return rec as unknown as JobRecord;
}

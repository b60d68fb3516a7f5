import { createHash } from 'node:crypto';
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
  /** seconds reading the input image from the bucket (the Kiosk's `download_time`) */
  readonly download_time?: number;
  /** seconds writing the results to the bucket (the Kiosk's `upload_time`) */
  readonly upload_time?: number;
  /** times the predict stage was retried before it ran through (the Kiosk's `predict_retries`) */
  readonly predict_retries?: number;
  /** a batch: seconds its pack stage took to gather and zip its images' results (the Kiosk's `cleanup_time`) */
  readonly cleanup_time?: number;
  readonly parent?: string;
  readonly children?: readonly string[];
  readonly total_jobs?: number;
  readonly cancelled?: boolean;
  /**
   * Bucket key of the job's input: an image job's image (a zip child's lies under `<zip>.d/`); a batch's
   * zip when all its images came from one. @default - unknown (records made before inputs were kept)
   */
  readonly input_key?: string;
  /** Top-level jobs: the upload folders (`uploads/<lab>/<id>/`) its inputs came from, deleted with it. */
  readonly uploads?: readonly string[];
}

export interface JobEvent {
  readonly id: string;
  readonly status: JobStatus;
  readonly progress: number;
  readonly parent?: string;
  readonly reason?: string;
}

type Fields = Record<string, string | number>;

/**
 * A Lua script run by its SHA-1 (EVALSHA: the body is sent only when Redis does not have it cached yet,
 * e.g. after a restart or SCRIPT FLUSH).
 */
class Script {
  private readonly sha: string;
  constructor(private readonly body: string) {
    this.sha = createHash('sha1').update(body).digest('hex');
  }

  async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return redis.eval(this.body, keys.length, ...keys, ...args);
    }
  }
}

// Sets fields only while the job is not final; publishes its events. ARGV: channel, n, n events, then
// field/value pairs. Returns 1 set, 0 final already, -1 missing.
const GUARDED_SET = new Script(`
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return -1 end
if st == 'done' or st == 'failed' then return 0 end
local n = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 3 + n))
for i = 3, 2 + n do redis.call('PUBLISH', ARGV[1], ARGV[i]) end
return 1`);

// Moves a job that is not final yet to done/failed in one step: status, progress (100 when done, else as it
// was), finished_at, updated_at, total_time (from created_at), the given fields; starts its expiry clock
// (unless the job has one already: a user's expire, set while it ran, is kept);
// publishes its event; and counts it in its batch parent's progress (publishing that too).
// KEYS[1] job; ARGV: channel, ttl, status, now (ISO), now (ms), id, reason ('' = none), record key prefix,
// then field/value pairs. Returns 1 finished, 0 final already, -1 missing.
const FINISH = new Script(`
local function iso_ms(s)
  local y, mo, d, h, mi, sec, frac = string.match(s or '', '^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)%.?(%d*)Z$')
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((mo + 9) % 12) + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  local ms = 0
  if frac ~= '' then ms = tonumber(string.sub(frac .. '00', 1, 3)) end
  return ((days * 24 + tonumber(h)) * 60 + tonumber(mi)) * 60000 + tonumber(sec) * 1000 + ms
end
local key = KEYS[1]
local cur = redis.call('HMGET', key, 'status', 'progress', 'created_at', 'parent')
if not cur[1] then return -1 end
if cur[1] == 'done' or cur[1] == 'failed' then return 0 end
local status, now = ARGV[3], ARGV[4]
local progress = 100
if status ~= 'done' then progress = tonumber(cur[2]) or 0 end
redis.call('HSET', key, 'status', status, 'progress', progress, 'finished_at', now, 'updated_at', now)
if #ARGV > 8 then redis.call('HSET', key, unpack(ARGV, 9)) end
local created = iso_ms(cur[3])
if created then
  local total = string.format('%.3f', (tonumber(ARGV[5]) - created) / 1000):gsub('0+$', ''):gsub('%.$', '')
  redis.call('HSET', key, 'total_time', total)
end
local ttl = tonumber(ARGV[2])
if ttl > 0 and redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, ttl) end
local ev = { id = ARGV[6], status = status, progress = progress }
if ARGV[7] ~= '' then ev.reason = ARGV[7] end
redis.call('PUBLISH', ARGV[1], cjson.encode(ev))
if cur[4] then
  local pkey = ARGV[8] .. cur[4]
  local p = redis.call('HMGET', pkey, 'status', 'total_jobs')
  if p[1] then
    local finished = redis.call('HINCRBY', pkey, 'finished_children', 1)
    local n = tonumber(p[2]) or 0
    if n > 0 and p[1] ~= 'done' and p[1] ~= 'failed' then
      local pp = math.min(99, math.floor(100 * finished / n))
      redis.call('HSET', pkey, 'progress', pp, 'updated_at', now)
      redis.call('PUBLISH', ARGV[1], cjson.encode({ id = cur[4], progress = pp }))
    end
  end
end
return 1`);

const NUMERIC = [
  'progress',
  'object_count',
  'total_time',
  'preprocess_time',
  'prediction_time',
  'postprocess_time',
  'download_time',
  'upload_time',
  'predict_retries',
  'cleanup_time',
  'total_jobs',
];
const JSONS = ['options', 'failures', 'children', 'uploads'];

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

  /** The set of job ids whose inputs came from upload folder `folder` (`uploads/<lab>/<id>/`). */
  private uploadJobsKey(folder: string): string {
    return `${this.prefix}:upload-jobs:${folder}`;
  }

  /**
   * Creates a record; top-level jobs (no parent) go into the listing index, and each of its `uploads`
   * notes the job as one of its users (so deleting another job of the same upload keeps it). Resolves to
   * the record as written (progress 0, updated_at = created_at).
   */
  async create(rec: Omit<JobRecord, 'updated_at' | 'progress'>): Promise<JobRecord> {
    const full: JobRecord = { ...rec, progress: 0, updated_at: rec.created_at };
    const fields = toFields({ ...full });
    const multi = this.redis.multi().hset(this.key(rec.id), fields);
    if (!rec.parent) multi.zadd(this.indexKey, Date.parse(rec.created_at), rec.id);
    for (const folder of rec.uploads ?? []) multi.sadd(this.uploadJobsKey(folder), rec.id);
    multi.publish(this.channel, JSON.stringify(eventOf(rec.id, fields)));
    await multi.exec();
    return full;
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
   *
   * `via`: statuses the job passes through on its way to `fields.status` with nothing to do in between
   * (a worker that takes an image job is `started` and at once `pre-processing`): their events are
   * published first, in order, so event watchers see the Kiosk's whole sequence, while the record is
   * written once — one Redis call instead of one per status.
   */
  async update(
    id: string,
    fields: Partial<JobRecord>,
    via: readonly Pick<JobEvent, 'status' | 'progress'>[] = [],
  ): Promise<boolean> {
    const flat = toFields({ ...fields, updated_at: new Date().toISOString() });
    const events = [...via.map((v) => ({ id, ...v })), eventOf(id, flat)].map((e) => JSON.stringify(e));
    const r = await GUARDED_SET.run(
      this.redis,
      [this.key(id)],
      [this.channel, events.length, ...events, ...Object.entries(flat).flat()],
    );
    return r === 1;
  }

  /**
   * Moves a job to `done` or `failed` (progress 100 when done), sets finished_at and total_time, starts its
   * expiry clock and counts it in its batch parent's progress — one Redis call. Resolves to false when the
   * job is final already or gone.
   */
  async finish(id: string, status: 'done' | 'failed', fields: Partial<JobRecord> = {}): Promise<boolean> {
    const now = new Date();
    const flat = toFields(fields);
    delete flat.status;
    const r = await FINISH.run(
      this.redis,
      [this.key(id)],
      [
        this.channel,
        this.finishedTtlS,
        status,
        now.toISOString(),
        now.getTime(),
        id,
        typeof flat.reason === 'string' ? flat.reason : '',
        `${this.prefix}:job:`,
        ...Object.entries(flat).flat(),
      ],
    );
    return r === 1;
  }

  /**
   * Sets a job's remaining lifetime (the Kiosk's `expire`), its children's too; a job still running keeps
   * it when it finishes (instead of the finished-job TTL). Resolves to Redis' answer for the job's record:
   * true when the expiry is set, false for an unknown id. Throws when Redis refuses the command (an
   * expiry Redis cannot represent), so success is never reported for an expiry that was not set.
   */
  async expire(id: string, seconds: number): Promise<boolean> {
    if (!Number.isSafeInteger(seconds) || seconds < 1)
      throw new RangeError(`an expiry must be a whole number of seconds >= 1; got ${seconds}`);
    const rec = await this.get(id);
    if (!rec) return false;
    const multi = this.redis.multi().expire(this.key(id), seconds);
    for (const child of rec.children ?? []) multi.expire(this.key(child), seconds);
    const replies = (await multi.exec()) ?? [];
    const failed = replies.find(([err]) => err);
    if (failed) throw failed[0]!;
    return replies[0]?.[1] === 1;
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

  /**
   * Deletes a job's record and its children's, takes it out of the listing index and out of its uploads'
   * user sets. Resolves to the upload folders no live job uses any more (the caller deletes them from the
   * bucket, then calls `forgetUploads`).
   */
  async delete(rec: JobRecord): Promise<string[]> {
    const multi = this.redis
      .multi()
      .del(this.key(rec.id), ...(rec.children ?? []).map((c) => this.key(c)))
      .zrem(this.indexKey, rec.id);
    for (const folder of rec.uploads ?? []) multi.srem(this.uploadJobsKey(folder), rec.id);
    await multi.exec();
    return this.unusedUploads(rec.uploads ?? []);
  }

  /**
   * The folders of `folders` that no live job uses: every job in their user set is gone (its record
   * expired or was deleted), or no job ever used them.
   */
  async unusedUploads(folders: readonly string[]): Promise<string[]> {
    const states = await this.uploadStates(folders);
    return folders.filter((_, i) => states[i] !== 'used');
  }

  /**
   * Per upload folder: `used` (a job with a record used it), `unused` (every job that used it is gone) or
   * `never` (no job used it: uploaded and not submitted, or uploaded before jobs noted their uploads).
   */
  async uploadStates(folders: readonly string[]): Promise<('used' | 'unused' | 'never')[]> {
    const out: ('used' | 'unused' | 'never')[] = [];
    for (const folder of folders) {
      const users = await this.redis.smembers(this.uploadJobsKey(folder));
      if (users.length === 0) out.push('never');
      else out.push((await this.existing(users)).some(Boolean) ? 'used' : 'unused');
    }
    return out;
  }

  /** Drops the user sets of upload folders that were deleted from the bucket. */
  async forgetUploads(folders: readonly string[]): Promise<void> {
    if (folders.length) await this.redis.del(...folders.map((f) => this.uploadJobsKey(f)));
  }

  /** Whether a record exists, per id (one pipelined round trip). */
  async existing(ids: readonly string[]): Promise<boolean[]> {
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.exists(this.key(id));
    return ((await pipe.exec()) ?? []).map(([, n]) => n === 1);
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

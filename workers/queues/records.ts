/**
 * `JobRecords`: stores, updates, lists and deletes job records in Redis, and keeps each upload folder's
 * set of jobs. The record model lives in job-record.ts (re-exported here), the Lua scripts in
 * record-scripts.ts.
 */
import type { Redis } from 'ioredis';
import {
  eventOf,
  parseRecord,
  toFields,
  type JobEvent,
  type JobRecord,
  type JobStatus,
} from './job-record.js';
import { FINISH, GUARDED_SET } from './record-scripts.js';

export {
  FINAL_STATUSES,
  STATUSES,
  parseRecord,
  type ChildFailure,
  type JobEvent,
  type JobRecord,
  type JobStatus,
} from './job-record.js';

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

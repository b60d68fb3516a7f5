import type { RedisClient } from 'bullmq';
import { QUEUE } from './names.js';

/**
 * Fair scheduling between labs (issue 18 #13), with open-source BullMQ's job priorities.
 *
 * Every stage job of an image (preprocess, predict, postprocess, and a second pass's) carries the same BullMQ
 * `priority`: the image's start tag in virtual time (start-time fair queuing). Lower runs first; equal tags
 * run in the order they were queued. Work is split into lanes, one per lab and kind of submission — a lab's
 * single images (`image`) and its batches (`batch`, the children of zips and multi-file jobs) — and each lane
 * gets one image per unit of virtual time: a lane's next image gets the tag after its previous one, or the
 * current virtual time when the lane has nothing in flight. So two labs' batches take turns image by image,
 * another lab's single image joins the queues at the current virtual time instead of behind a batch, and so
 * does a lab's own single image behind its own batch. A lab's batches run one after another.
 *
 * Nothing is counted up and down: the virtual time is read from BullMQ's own queues (the lowest priority
 * waiting in any stage queue), and a lane's previous tag counts only while the lane's last image is
 * unfinished (its record exists and is not done or failed). So a retried, failed, cancelled, deleted or
 * expired job, or a lost worker, cannot leave a count behind: stale state is recognised as stale and ignored.
 * (A retried stage keeps its priority; a stage whose worker was lost goes back to the head of its queue,
 * BullMQ's stalled-job handling, ahead of the prioritized ones.) The one trace an API killed half-way through
 * a submission can leave — a lane whose last image was recorded but never queued — places that lane's next
 * submission after the tags it had taken, once; then the lane points at a real image again. Tags start again
 * at 1 whenever nothing waits in the stage queues and no lane has an unfinished image; under a backlog that
 * never empties they grow by one per image, and past BullMQ's limit (2^21 − 1, about two million images of
 * uninterrupted backlog) they are held at it: the queues then run first in, first out among those jobs, as
 * without fair scheduling, and nothing is refused or lost.
 */
export type Lane = 'image' | 'batch';

/** BullMQ's highest priority value (`PRIORITY_LIMIT` in bullmq 6: 2^21 − 1); lower numbers run first. */
export const MAX_PRIORITY = 2 ** 21 - 1;

/** Seconds a lane's state is kept after its last submission (stale state is ignored anyway; this tidies). */
const LANE_TTL_S = 7 * 86_400;

// KEYS: the three stage queues' prioritized sets, the lane's hash. ARGV: images, the submission's last image
// id, record key prefix (`<prefix>:job:`), lane TTL. BullMQ scores a prioritized job priority * 2^32 + a
// counter (getPriorityScore.lua), so the lowest score's priority is the virtual time now. Returns the first
// image's tag; the submission's images get it and the n − 1 after it.
const TAKE = `
local now = nil
for i = 1, 3 do
  local top = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
  if top[2] then
    local p = math.floor(tonumber(top[2]) / 4294967296)
    if now == nil or p < now then now = p end
  end
end
local base = 0
if now then base = now - 1 end
local lane = redis.call('HMGET', KEYS[4], 'last', 'job')
local last = tonumber(lane[1])
if last and last > base and lane[2] then
  local st = redis.call('HGET', ARGV[3] .. lane[2], 'status')
  if st and st ~= 'done' and st ~= 'failed' then base = last end
end
local n = tonumber(ARGV[1])
redis.call('HSET', KEYS[4], 'last', base + n, 'job', ARGV[2])
redis.call('EXPIRE', KEYS[4], ARGV[4])
return base + 1`;
const COMMAND = 'kioskFairTake';

/** Hands out the BullMQ priorities (start tags) of submissions; see the module comment. */
export class FairScheduler {
  private ready: Promise<RedisClient> | undefined;

  /** @param client the connection to use (a BullMQ queue's: `() => queue.getBackend().client`). */
  constructor(
    private readonly client: () => Promise<RedisClient>,
    private readonly prefix: string,
  ) {}

  /**
   * Tags for a submission of `n` images of `lab` in `lane`, whose last image's job id is `lastImageId` (its
   * record must exist already: a submission made meanwhile in the same lane then queues after this one).
   * Resolves to the first image's tag; image i (0-based) gets `priorityOf(first, i)`.
   */
  async take(lab: string, lane: Lane, n: number, lastImageId: string): Promise<number> {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`a submission has at least one image; got ${n}`);
    // The script is sent by its SHA-1 (ioredis sends the body when Redis has not cached it, e.g. after a
    // restart).
    this.ready ??= this.client().then((c) => {
      c.defineCommand(COMMAND, { numberOfKeys: 4, lua: TAKE });
      return c;
    });
    const redis = await this.ready.catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    const keys = [
      ...[QUEUE.preprocess, QUEUE.predict, QUEUE.postprocess].map((q) => `${this.prefix}:${q}:prioritized`),
      `${this.prefix}:fair:${lane}:${lab}`,
    ];
    const first: unknown = await redis.runCommand(COMMAND, [
      ...keys,
      n,
      lastImageId,
      `${this.prefix}:job:`,
      LANE_TTL_S,
    ]);
    return Number(first);
  }
}

/** The priority of image `i` (0-based) of a submission whose first tag is `first`, within BullMQ's range. */
export function priorityOf(first: number, i: number): number {
  return Math.min(Math.max(1, first + i), MAX_PRIORITY);
}

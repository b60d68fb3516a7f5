/**
 * The Lua scripts `JobRecords` (records.ts) runs in Redis, each one atomic step: a guarded update that
 * never overwrites a final job, and finishing a job (status, times, expiry, its batch parent's progress).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

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
export const GUARDED_SET = new Script(`
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
export const FINISH = new Script(`
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

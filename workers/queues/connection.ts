import type { ConnectionOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';

/**
 * ioredis options for a `redis://[:password@]host:port[/db]` URL, with BullMQ's requirement for workers
 * (`maxRetriesPerRequest: null`: blocking commands must not time out).
 */
export function redisOptions(url: string): RedisOptions {
  const u = new URL(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new Error(`REDIS_URL must start with redis:// or rediss://; got ${JSON.stringify(url)}`);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}

/**
 * A new connection to `url` (callers close it). ioredis reconnects by itself; while Redis is away it emits
 * `error` events, which without a listener print "[ioredis] Unhandled error event" with a stack for every
 * retry. This prints one line per distinct error at most every 10 s instead.
 */
export function connectRedis(url: string, log: (msg: string) => void = defaultLog): Redis {
  const redis = new Redis(redisOptions(url));
  const lastSeen = new Map<string, number>();
  redis.on('error', (err: Error) => {
    const now = Date.now();
    const key = err.message;
    if ((lastSeen.get(key) ?? 0) + 10_000 > now) return;
    lastSeen.set(key, now);
    log(`redis ${redactUrl(url)}: ${err.message} (reconnecting)`);
  });
  return redis;
}

const defaultLog = (msg: string): void => {
  process.stderr.write(`${msg}\n`);
};

/** `url` without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(bad url)';
  }
}

/** The same options typed for BullMQ (its Queue, Worker and FlowProducer open their own connections). */
export function bullConnection(url: string): ConnectionOptions {
  return redisOptions(url) as ConnectionOptions;
}

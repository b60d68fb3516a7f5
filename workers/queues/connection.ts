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

/** A new connection to `url` (callers close it). */
export function connectRedis(url: string): Redis {
  return new Redis(redisOptions(url));
}

/** The same options typed for BullMQ (its Queue, Worker and FlowProducer open their own connections). */
export function bullConnection(url: string): ConnectionOptions {
  return redisOptions(url) as ConnectionOptions;
}

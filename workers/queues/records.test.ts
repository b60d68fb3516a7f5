import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { connectRedis } from './connection.js';
import { JobRecords } from './records.js';

let redis: Redis;
let sub: Redis;
let prefix: string;
beforeEach(() => {
  redis = connectRedis(inject('redisUrl'));
  sub = connectRedis(inject('redisUrl'));
  prefix = `test-${randomUUID()}`;
});
afterEach(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  sub.disconnect();
});

/** Collects the events published on the records' channel. */
async function listen(records: JobRecords): Promise<unknown[]> {
  const events: unknown[] = [];
  await sub.subscribe(records.channel);
  sub.on('message', (_c, m: string) => events.push(JSON.parse(m)));
  return events;
}

async function newJob(records: JobRecords): Promise<string> {
  const id = randomUUID();
  await records.create({
    id,
    type: 'segmentation',
    kind: 'image',
    lab: 'default',
    name: 'a.png',
    model: 'trivial',
    model_version: '1',
    options: {},
    status: 'new',
    created_at: new Date().toISOString(),
  });
  return id;
}

describe('JobRecords.update', () => {
  it('writes once and publishes the events of the statuses passed on the way, then its own', async () => {
    const records = new JobRecords(redis, prefix, 3600);
    const id = await newJob(records);
    const events = await listen(records);
    const at = new Date().toISOString();
    expect(
      await records.update(id, { status: 'pre-processing', started_at: at, progress: 5 }, [
        { status: 'started', progress: 1 },
      ]),
    ).toBe(true);
    expect(await records.update(id, { progress: 25, preprocess_time: 0.5 })).toBe(true);
    await expect.poll(() => events.length).toBe(3);
    expect(events).toEqual([
      { id, status: 'started', progress: 1 },
      { id, status: 'pre-processing', progress: 5 },
      { id, progress: 25 },
    ]);
    expect(await records.get(id)).toMatchObject({
      status: 'pre-processing',
      started_at: at,
      progress: 25,
      preprocess_time: 0.5,
    });
    expect(await redis.ttl(records.key(id))).toBe(-1); // no expiry before the job is final
  });

  it('leaves a final or missing job as it is and publishes nothing', async () => {
    const records = new JobRecords(redis, prefix, 3600);
    const id = await newJob(records);
    expect(await records.finish(id, 'failed', { reason: 'cancelled' })).toBe(true);
    const events = await listen(records);
    expect(await records.update(id, { status: 'pre-processing' }, [{ status: 'started', progress: 1 }])).toBe(
      false,
    );
    expect(await records.update(randomUUID(), { status: 'pre-processing' })).toBe(false);
    const other = await newJob(records);
    await records.update(other, { progress: 2 }); // a later event, to know any before it came
    await expect.poll(() => events).toContainEqual({ id: other, progress: 2 });
    expect(events.filter((e) => (e as { id: string }).id === id)).toEqual([]);
    expect(await records.get(id)).toMatchObject({ status: 'failed', reason: 'cancelled' });
  });
});

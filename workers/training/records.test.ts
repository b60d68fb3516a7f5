import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { connectRedis } from '../queues/connection.js';
import { TrainingRecords, type TrainingRecord } from './records.js';

let redis: Redis;
let prefix: string;
beforeEach(() => {
  redis = connectRedis(inject('redisUrl'));
  prefix = `test-${randomUUID()}`;
});
afterEach(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

function record(id: string, createdAt: string): TrainingRecord {
  return {
    id,
    lab: 'default',
    status: 'waiting',
    progress: 0,
    params: {
      modelName: 'm',
      epochs: 2,
      stepsPerEpoch: 3,
      batchSize: 2,
      cropSize: 32,
      learningRate: 1e-3,
      seed: 1,
    },
    data: { trainPairs: 1, valPairs: 0, trainObjects: 4, valObjects: 0, sizes: ['8x8'], ignored: [] },
    dataPrefix: `training/${id}/data/`,
    epoch: 0,
    step: 0,
    history: [],
    attempts: 0,
    createdAt,
    updatedAt: createdAt,
  };
}

describe('TrainingRecords', () => {
  it('round-trips a record, publishes each change, and never changes a final one', async () => {
    const records = new TrainingRecords(redis, prefix);
    const sub = connectRedis(inject('redisUrl'));
    const events: unknown[] = [];
    const threeEvents = new Promise<void>((resolve) =>
      sub.on('message', (_c: string, m: string) => {
        if (events.push(JSON.parse(m)) === 3) resolve();
      }),
    );
    await sub.subscribe(records.channel);
    try {
      await records.create(record('a', '2026-01-01T00:00:00.000Z'));
      expect(await records.get('a')).toMatchObject({
        id: 'a',
        status: 'waiting',
        params: { modelName: 'm' },
      });
      const epochRecord = { epoch: 1, step: 3, trainLoss: 0.5, seconds: 1, lr: 1e-3 };
      expect(
        await records.update('a', { status: 'training', epoch: 1, history: [epochRecord] }, { epochRecord }),
      ).toBe(true);
      expect(await records.finish('a', 'failed', { reason: 'boom' })).toBe(true);
      expect(await records.update('a', { status: 'training', progress: 50 })).toBe(false);
      expect(await records.finish('a', 'done')).toBe(false);
      expect(await records.update('nope', { progress: 1 })).toBe(false);
      const rec = await records.get('a');
      expect(rec).toMatchObject({ status: 'failed', reason: 'boom', epoch: 1, history: [epochRecord] });
      expect(rec!.finishedAt).toBeDefined();
      await threeEvents;
      expect(events).toEqual([
        { id: 'a', status: 'waiting', progress: 0 },
        { id: 'a', status: 'training', epoch: 1, epochRecord },
        { id: 'a', status: 'failed', reason: 'boom' },
      ]);
    } finally {
      sub.disconnect();
    }
  });

  it('lists newest first with offset/limit, dropping expired ids; versions count up from the registry floor', async () => {
    const records = new TrainingRecords(redis, prefix);
    await records.create(record('old', '2026-01-01T00:00:00.000Z'));
    await records.create(record('mid', '2026-01-02T00:00:00.000Z'));
    await records.create(record('new', '2026-01-03T00:00:00.000Z'));
    await redis.del(records.key('mid'));
    expect((await records.list({ limit: 10, offset: 0 })).map((r) => r.id)).toEqual(['new', 'old']);
    expect((await records.list({ limit: 1, offset: 1 })).map((r) => r.id)).toEqual(['old']);
    expect(await redis.zrange(`${prefix}:trainings`, 0, -1)).toEqual(['old', 'new']);
    expect(await records.nextVersion('m', 1)).toBe(2);
    expect(await records.nextVersion('m', 1)).toBe(3);
    expect(await records.nextVersion('m', 7)).toBe(8);
    expect(await records.nextVersion('other', 0)).toBe(1);
  });
});

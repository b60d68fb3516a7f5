import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, expect, inject, it } from 'vitest';
import { connectRedis } from './connection.js';
import { JobRecords } from './records.js';
import { JobWatcher } from './watcher.js';

let redis: Redis;
let records: JobRecords;
let watcher: JobWatcher;
beforeEach(async () => {
  redis = connectRedis(inject('redisUrl'));
  records = new JobRecords(redis, `test-${randomUUID()}`, 3600);
  watcher = new JobWatcher(records, connectRedis(inject('redisUrl')));
  await watcher.start();
});
afterEach(async () => {
  await watcher.close();
  redis.disconnect();
});

const create = (id: string) =>
  records.create({
    id,
    kind: 'image',
    type: 'segmentation',
    lab: 'default',
    name: `${id}.png`,
    model: 'trivial',
    model_version: '1',
    options: {},
    status: 'new',
    created_at: new Date().toISOString(),
  });

it("listenTo hears its own job's events only, listen hears every job's; both stop when removed", async () => {
  const [a, b] = [randomUUID(), randomUUID()];
  const own: string[] = [];
  const all: string[] = [];
  const stopOwn = watcher.listenTo(a, (ev) => own.push(`${ev.id === a ? 'a' : 'b'}:${ev.status}`));
  const stopAll = watcher.listen((ev) => all.push(`${ev.id === a ? 'a' : 'b'}:${ev.status}`));
  await create(a);
  await create(b);
  await records.update(b, { status: 'predicting', progress: 30 });
  await records.finish(a, 'done');
  const done = watcher.waitForFinal(b, 5000); // a waiter of b among the listeners
  await records.finish(b, 'failed', { reason: 'test' });
  expect((await done).status).toBe('failed');
  // waitForFinal may read the final record before the event reaches the other listeners: wait for it
  await expect.poll(() => all.length).toBe(5);
  expect(own).toEqual(['a:new', 'a:done']);
  expect(all).toEqual(['a:new', 'b:new', 'b:predicting', 'a:done', 'b:failed']);
  stopOwn();
  stopAll();
  await records.finish(a, 'failed', { reason: 'too late: a is final' });
  await create(randomUUID());
  await new Promise((r) => setTimeout(r, 100)); // time for an event that should not come
  expect(own).toHaveLength(2);
  expect(all).toHaveLength(5);
});

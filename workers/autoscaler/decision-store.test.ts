/** The autoscaler's Redis publication (decision-store.ts) on the private test Redis. */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { connectRedis } from '../queues/connection.js';
import {
  decisionsKey,
  DecisionPublisher,
  readAutoscalerReport,
  stateKey,
  type PublishedDecision,
} from './decision-store.js';

const redis = connectRedis(inject('redisUrl'));
const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) {
    const keys = await redis.keys(`${p}:*`);
    if (keys.length) await redis.del(...keys);
  }
  redis.disconnect();
});

const pools = [
  { pool: 'gpu', queues: ['predict', 'train'], upstream: [{ queue: 'preprocess' }], min: 0, max: 2 },
];
const decision = (
  action: PublishedDecision['action'],
  current: number,
  desired: number,
  i = 0,
): PublishedDecision => ({
  time: new Date(1_700_000_000_000 + i * 1000).toISOString(),
  driver: 'local',
  pool: 'gpu',
  action,
  current,
  desired,
  actual: desired,
  raw: desired,
  readyWork: desired * 8,
  futureWork: 0,
  counts: { predict: { waiting: desired * 8 } },
  reasons: [`step ${i}`],
});

function publisher(keep?: number) {
  const prefix = `test-${randomUUID()}`;
  prefixes.push(prefix);
  return {
    prefix,
    p: new DecisionPublisher({
      redis,
      prefix,
      driver: 'local',
      intervalMs: 2000,
      pools,
      ...(keep ? { keep } : {}),
    }),
  };
}

describe('DecisionPublisher / readAutoscalerReport', () => {
  it('lists changes and the first decision, keeps the newest `keep`, counts every decision in the state', async () => {
    const { prefix, p } = publisher(3);
    await p.decisions([decision('hold', 0, 0, 0)]); // first of the pool: listed
    await p.decisions([decision('hold', 0, 0, 1)]); // a hold that changed nothing: not listed
    for (let i = 2; i < 6; i++)
      await p.decisions([decision(i % 2 ? 'down' : 'up', i % 2 ? 2 : 0, i % 2 ? 0 : 2, i)]);
    const r = await readAutoscalerReport(redis, prefix);
    expect(r.decisions.map((d) => d.reasons[0])).toEqual(['step 3', 'step 4', 'step 5']); // oldest first, 3 kept
    expect(r.state?.pools).toEqual([
      expect.objectContaining({
        pool: 'gpu',
        queues: ['predict', 'train'],
        upstream: ['preprocess'],
        desired: 0,
        actual: 0,
        work: 0,
        decisions: { up: 2, down: 2, hold: 2 },
      }),
    ]);
    expect(r.state?.intervalMs).toBe(2000);
    const ttl = await redis.ttl(stateKey(prefix));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60); // max(60 s, 6 × 2 s): a stopped autoscaler's state goes away
    expect((await readAutoscalerReport(redis, prefix, 1)).decisions.map((d) => d.reasons[0])).toEqual([
      'step 5',
    ]);
  });

  it('keeps worker events newest last, skips entries that are not JSON, and refuses a bad limit or keep', async () => {
    const { prefix, p } = publisher();
    await p.event({ event: 'worker-start', pool: 'gpu', pid: 10 });
    await p.event({
      event: 'worker-exit',
      pool: 'gpu',
      pid: 10,
      code: null,
      signal: 'SIGKILL',
      unexpected: true,
    });
    await redis.lpush(decisionsKey(prefix), 'not json');
    const r = await readAutoscalerReport(redis, prefix);
    expect(r.state).toBeUndefined(); // no decision published yet
    expect(r.decisions).toEqual([]);
    expect(r.events.map((e) => [e.event, e.pid, e.signal ?? null])).toEqual([
      ['worker-start', 10, null],
      ['worker-exit', 10, 'SIGKILL'],
    ]);
    await expect(readAutoscalerReport(redis, prefix, 0)).rejects.toThrow(
      /'limit' must be an integer >= 1; got 0/,
    );
    expect(
      () => new DecisionPublisher({ redis, prefix, driver: 'x', intervalMs: 1, pools, keep: 0 }),
    ).toThrow(/'keep' must be an integer >= 1; got 0/);
  });
});

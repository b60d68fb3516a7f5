/**
 * Fair scheduling between labs (issue 18 #13) on the suite's private Redis with real in-process workers
 * (the trivial model): the order images finish in, and the priorities their stage jobs carry.
 */
import { Queue } from 'bullmq';
import { encode } from 'fast-png';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createHarness, type Harness } from '../processors/service-harness.test-helpers.js';
import { trivialStages } from '../processors/trivial-stages.js';
import { bullConnection } from './connection.js';
import { MAX_PRIORITY, priorityOf } from './fair.js';
import { keys, QUEUE, stageJobId } from './names.js';
import { JobSubmitter, type SubmitOptions, type SubmittedImage } from './submit.js';

let h: Harness | undefined;
let extra: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  for (const x of extra) await x.close();
  extra = [];
  await h?.close();
  h = undefined;
});

const opts = (lab: string): SubmitOptions => ({
  lab,
  type: 'segmentation',
  model: { name: 'trivial', version: '1' },
  options: { channels: [0] },
});

/** A small PNG with one bright square (one nucleus for the trivial model). */
function png(): Uint8Array {
  const data = new Uint8Array(32 * 32);
  for (let y = 8; y < 20; y++) for (let x = 8; x < 20; x++) data[y * 32 + x] = 220;
  return encode({ width: 32, height: 32, data, channels: 1, depth: 8 });
}

/** `n` images of `lab`, all the same uploaded PNG. */
async function images(harness: Harness, lab: string, n: number): Promise<SubmittedImage[]> {
  const key = keys.upload(lab, 'u', 'cells.png');
  await harness.storage.put(key, png());
  return Array.from({ length: n }, (_, i) => ({ name: `cells_${i}.png`, inputKey: key }));
}

/** Ids of image jobs in the order their records turned done (from the record event channel). */
async function finishOrder(harness: Harness): Promise<{ order: string[]; stop(): void }> {
  const sub: Redis = harness.redis.duplicate();
  const order: string[] = [];
  await sub.subscribe(harness.records.channel);
  sub.on('message', (_c, m) => {
    const ev = JSON.parse(m) as { id: string; status?: string };
    if (ev.status === 'done') order.push(ev.id);
  });
  return { order, stop: () => sub.disconnect() };
}

/** The BullMQ priority of an image job's stage job in `queue` (0: none, first in, first out). */
async function priority(harness: Harness, queue: string, id: string): Promise<number> {
  const q = new Queue(queue, { connection: bullConnection(harness.redisUrl), prefix: harness.prefix });
  try {
    const stage = queue === QUEUE.preprocess ? 'pre' : queue === QUEUE.predict ? 'predict' : 'post';
    const job = await q.getJob(stageJobId(id, stage));
    if (!job) throw new Error(`no ${queue} job for ${id}`);
    return job.priority;
  } finally {
    await q.close();
  }
}

describe('fair scheduling between labs (real Redis, real workers, trivial model)', () => {
  it("issue 18 #13: lab B's single image, and lab A's own, sent behind lab A's 200-image batch finish before most of it", async () => {
    const N = 200;
    h = await createHarness(inject('redisUrl'), { startPools: false });
    // Everything is queued before a worker runs: the batch first, then the two single images behind it.
    const batch = await h.submitter.submitBatchJob('plate.zip', await images(h, 'lab-a', N), opts('lab-a'));
    const [b] = await images(h, 'lab-b', 1);
    const single = await h.submitter.submitImageJob(b!, opts('lab-b'));
    const [a] = await images(h, 'lab-a', 1);
    const own = await h.submitter.submitImageJob(a!, opts('lab-a'));
    const seen = await finishOrder(h);
    h.startPools();
    const done = await h.wait(batch.id, 120_000);
    seen.stop();
    expect(done.status).toBe('done');
    expect((await h.records.get(single.id))?.status).toBe('done');
    expect((await h.records.get(own.id))?.status).toBe('done');
    const children = new Set(batch.children.map((c) => c.id));
    // How many of lab A's batch images finished before each single image: first in, first out, every one
    // of the batch's preprocess jobs runs first (118 of the 200 images finished by then, measured); fairly
    // shared, a few.
    const before = (id: string) => seen.order.slice(0, seen.order.indexOf(id)).filter((x) => children.has(x));
    expect(seen.order).toContain(single.id);
    expect(seen.order).toContain(own.id);
    expect(before(single.id).length).toBeLessThan(N / 10);
    expect(before(own.id).length).toBeLessThan(N / 10);
  }, 180_000);

  it('issue 18 #13: two labs’ batches take turns instead of the later one waiting for the whole earlier one', async () => {
    const N = 100;
    h = await createHarness(inject('redisUrl'), { startPools: false });
    const first = await h.submitter.submitBatchJob('a.zip', await images(h, 'lab-a', N), opts('lab-a'));
    const second = await h.submitter.submitBatchJob('b.zip', await images(h, 'lab-b', N), opts('lab-b'));
    const seen = await finishOrder(h);
    h.startPools();
    await h.wait(first.id, 120_000);
    await h.wait(second.id, 120_000);
    seen.stop();
    // Lab A's images that finished before lab B's first: first in, first out lab B's batch starts only
    // once every image of lab A's has been preprocessed (about half of them finished by then); shared,
    // they take turns from the start.
    const ofB = new Set(second.children.map((c) => c.id));
    const ofBoth = new Set([...first.children, ...second.children].map((c) => c.id));
    const order = seen.order.filter((id) => ofBoth.has(id)); // images only, not the batches
    expect(order.length).toBe(2 * N);
    expect(order.findIndex((id) => ofB.has(id))).toBeLessThan(N / 10);
    // ...and keep taking turns: lab B has about half of the first half.
    expect(order.slice(0, N).filter((id) => ofB.has(id)).length).toBeGreaterThan(N / 3);
  }, 180_000);

  it('priorities come from the queues and the lanes’ unfinished images: nothing is counted that could leak', async () => {
    h = await createHarness(inject('redisUrl'), { startPools: false });
    const pre = (id: string) => priority(h!, QUEUE.preprocess, id);
    // A batch of 5 takes 1..5 at every stage; another lab's image, and the lab's own single image, join at
    // the virtual time now (1: the lowest priority waiting), not after the batch.
    const a1 = await h.submitter.submitBatchJob('a1', await images(h, 'lab-a', 5), opts('lab-a'));
    expect(await Promise.all(a1.children.map((c) => pre(c.id)))).toEqual([1, 2, 3, 4, 5]);
    for (const c of a1.children) {
      expect(await priority(h, QUEUE.predict, c.id)).toBe(await pre(c.id));
      expect(await priority(h, QUEUE.postprocess, c.id)).toBe(await pre(c.id));
    }
    const [b] = await images(h, 'lab-b', 1);
    const single = await h.submitter.submitImageJob(b!, opts('lab-b'));
    expect(await pre(single.id)).toBe(1);
    expect(await priority(h, QUEUE.postprocess, single.id)).toBe(1);
    const [a] = await images(h, 'lab-a', 1);
    expect(await pre((await h.submitter.submitImageJob(a!, opts('lab-a'))).id)).toBe(1);
    // The lab's next batch queues after its first (its lane's last image is unfinished)...
    const a2 = await h.submitter.submitBatchJob('a2', await images(h, 'lab-a', 3), opts('lab-a'));
    expect(await Promise.all(a2.children.map((c) => pre(c.id)))).toEqual([6, 7, 8]);
    // ...but not after a batch that was cancelled: its lane then starts at the virtual time again.
    await h.submitter.cancel(a2.id);
    const a3 = await h.submitter.submitBatchJob('a3', await images(h, 'lab-a', 2), opts('lab-a'));
    expect(await Promise.all(a3.children.map((c) => pre(c.id)))).toEqual([1, 2]);
    // Once everything has run (here: finished as failed, e.g. retries used up, and removed from the queues),
    // every lane starts again at 1.
    for (const id of [a1.id, single.id, a3.id]) await h.submitter.cancel(id);
    for (const name of Object.values(QUEUE)) {
      const q = new Queue(name, { connection: bullConnection(h.redisUrl), prefix: h.prefix });
      await q.obliterate({ force: true });
      await q.close();
    }
    const a4 = await h.submitter.submitBatchJob('a4', await images(h, 'lab-a', 2), opts('lab-a'));
    expect(await Promise.all(a4.children.map((c) => pre(c.id)))).toEqual([1, 2]);
  });

  it('a second pass (autoscale) keeps its image’s priority', async () => {
    // Stages that ask for a second pass at the same scale: its preprocess and predict are added by the
    // running postprocess job.
    h = await createHarness(inject('redisUrl'), {
      startPools: false,
      stages: { ...trivialStages, nextScale: (_l, _m, _c, _o, pass) => (pass === 1 ? 1 : undefined) },
    });
    await h.submitter.submitBatchJob('a', await images(h, 'lab-a', 3), opts('lab-a'));
    const [b] = await images(h, 'lab-b', 1);
    const single = await h.submitter.submitImageJob(b!, opts('lab-b'));
    expect(await priority(h, QUEUE.preprocess, single.id)).toBe(1);
    h.startPools();
    expect((await h.wait(single.id)).status).toBe('done');
    const q = new Queue(QUEUE.preprocess, { connection: bullConnection(h.redisUrl), prefix: h.prefix });
    extra.push(q);
    expect((await q.getJob(stageJobId(single.id, 'pre', 2)))?.priority).toBe(1);
  });

  it('past BullMQ’s highest priority, jobs are held at it and still run; KIOSK_FAIR_SCHEDULING=0 queues first in, first out', async () => {
    expect(priorityOf(MAX_PRIORITY - 1, 0)).toBe(MAX_PRIORITY - 1);
    expect(priorityOf(MAX_PRIORITY - 1, 5)).toBe(MAX_PRIORITY);
    h = await createHarness(inject('redisUrl'), { startPools: false });
    // A lane whose unfinished last image sits near the limit (a backlog that never emptied for 2 million
    // images): the next batch is accepted at the limit, runs, and is done.
    const live = await h.submitter.submitBatchJob('old', await images(h, 'lab-a', 1), opts('lab-a'));
    await h.redis.hset(`${h.prefix}:fair:batch:lab-a`, 'last', MAX_PRIORITY - 1);
    const next = await h.submitter.submitBatchJob('next', await images(h, 'lab-a', 3), opts('lab-a'));
    expect(await Promise.all(next.children.map((c) => priority(h!, QUEUE.preprocess, c.id)))).toEqual([
      MAX_PRIORITY,
      MAX_PRIORITY,
      MAX_PRIORITY,
    ]);
    h.startPools();
    expect((await h.wait(next.id, 60_000)).status).toBe('done');
    expect((await h.wait(live.id, 60_000)).status).toBe('done');
    // Fair scheduling off: no priorities, and no lane state written.
    const fifo = new JobSubmitter(bullConnection(h.redisUrl), h.prefix, h.records, undefined, {
      fair: false,
    });
    extra.push(fifo);
    const off = await fifo.submitBatchJob('off', await images(h, 'lab-c', 2), opts('lab-c'));
    expect(await h.redis.exists(`${h.prefix}:fair:batch:lab-c`)).toBe(0);
    expect((await h.wait(off.id, 60_000)).status).toBe('done');
    const q = new Queue(QUEUE.preprocess, { connection: bullConnection(h.redisUrl), prefix: h.prefix });
    extra.push(q);
    for (const c of off.children) expect((await q.getJob(stageJobId(c.id, 'pre')))?.priority).toBe(0);
  }, 120_000);
});

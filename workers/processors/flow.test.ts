import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { decodeImage } from '../image/decode.js';
import { labelsFromRaw } from '../image/files.js';
import type { Labels } from '../image/types.js';
import { Queue } from 'bullmq';
import { bullConnection } from '../queues/connection.js';
import { keys, QUEUE, stageJobId } from '../queues/names.js';
import type { SubmitOptions } from '../queues/submit.js';
import type { Storage } from '../storage/storage.js';
import { startPool } from './pool.js';
import { createHarness, type Harness } from './service-harness.test-helpers.js';
import type { SegmentationStages } from './stages.js';
import { TRIVIAL_CARD, TrivialThresholdRunner, trivialStages } from './trivial-stages.js';
import { NUCLEI_VAL } from '../../test/data.js';

const VAL = NUCLEI_VAL;
const valNames = ['dsb_03398329ced0c23b', 'dsb_077f026f4ab0f0bc', 'dsb_0acd2c223d300ea5'];
const opts: SubmitOptions = {
  lab: 'default',
  type: 'segmentation',
  model: { name: 'trivial', version: '1' },
  options: { channels: [0] },
};

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function upload(harness: Harness, name: string, bytes: Uint8Array): Promise<string> {
  const key = keys.upload('default', 'u', name);
  await harness.storage.put(key, bytes);
  return key;
}

const valImage = (stem: string) => readFile(join(VAL, `${stem}.image.png`));
const decodeLabels = (bytes: Uint8Array, name: string): Labels =>
  labelsFromRaw(decodeImage(bytes, { name }), name);

async function inProcess(bytes: Uint8Array, name: string): Promise<Labels> {
  const o = { channels: [0], maxPixels: 2 ** 26 };
  const p = await trivialStages.preprocess(bytes, name, TRIVIAL_CARD, o);
  return trivialStages.postprocess(
    await trivialStages.predict(p, new TrivialThresholdRunner(), TRIVIAL_CARD),
    p.meta,
    TRIVIAL_CARD,
    o,
  );
}

describe('job flows on a real Redis (trivial model)', () => {
  it('submitImageJob / submitBatchJob resolve to the records exactly as Redis holds them', async () => {
    h = await createHarness(inject('redisUrl'), { startPools: false });
    const key = await upload(h, 'cells.png', await valImage(valNames[0]!));
    const one = await h.submitter.submitImageJob({ name: 'cells.png', inputKey: key }, opts);
    expect(one.children).toEqual([]);
    expect(await h.records.get(one.id)).toEqual(one.record);
    const batch = await h.submitter.submitBatchJob(
      'two',
      [
        { name: 'a.png', inputKey: key },
        { name: 'b.png', inputKey: key },
      ],
      opts,
    );
    expect(await h.records.get(batch.id)).toEqual(batch.record);
    expect(batch.record.children).toEqual(batch.children.map((c) => c.id));
    for (const c of batch.children) expect(await h.records.get(c.id)).toEqual(c);
  });

  it('runs one image through preprocess → predict → postprocess, with Kiosk statuses and the in-process labels', async () => {
    h = await createHarness(inject('redisUrl'));
    const bytes = await valImage(valNames[0]!);
    const seen: string[] = [];
    const sub = h.redis.duplicate();
    await sub.subscribe(h.records.channel);
    sub.on('message', (_c, m) => {
      const ev = JSON.parse(m) as { status?: string };
      if (ev.status && seen.at(-1) !== ev.status) seen.push(ev.status);
    });
    const id = await h.submitter.submitImage(
      { name: 'cells.png', inputKey: await upload(h, 'cells.png', bytes) },
      opts,
    );
    const rec = await h.wait(id);
    sub.disconnect();
    expect(rec.status).toBe('done');
    expect(rec.progress).toBe(100);
    expect(seen).toEqual([
      'new',
      'started',
      'pre-processing',
      'predicting',
      'post-processing',
      'saving-results',
      'done',
    ]);
    expect(rec.output_key).toBe(`results/default/${id}/cells.zip`);
    expect(rec.total_time).toBeGreaterThan(0);
    expect(rec.finished_at! >= rec.created_at).toBe(true);
    // each stage's time (preprocess's and predict's travel with the arrays and are written by postprocess)
    for (const t of [rec.preprocess_time, rec.prediction_time, rec.postprocess_time]) {
      expect(t).toBeGreaterThanOrEqual(0);
      expect(t).toBeLessThan(rec.total_time!);
    }
    const labels = decodeLabels(await h.storage.get(rec.labels_key!), 'labels');
    const expected = await inProcess(bytes, 'cells.png');
    expect(labels.width).toBe(expected.width);
    expect(Buffer.from(labels.data.buffer).equals(Buffer.from(expected.data.buffer))).toBe(true);
    expect(rec.object_count).toBeGreaterThan(0);
    // a local folder bucket holds the label TIFF once: the API makes the zip when it is downloaded
    expect(await h.storage.list(`results/default/${id}/`)).toEqual([rec.labels_key]);
    // intermediate arrays are cleaned up once the job is done (just after its record turns done)
    await expect.poll(() => h!.storage.list('scratch/')).toEqual([]);
    expect(await h.redis.ttl(h.records.key(id))).toBeGreaterThan(3000); // finished records expire
  });

  it('a bucket that signs URLs stores the zip too (a local folder standing in for GCS / S3)', async () => {
    h = await createHarness(inject('redisUrl'), { startPools: false });
    // the same folder, but its kind says cloud: output_url would be a signed URL to the zip object
    const cloud = Object.assign(Object.create(h.storage) as object, { kind: 'gcs' }) as Storage;
    for (const pool of ['cpu', 'gpu'] as const)
      h.pools.push(
        startPool({
          pool,
          connection: bullConnection(h.redisUrl),
          prefix: h.prefix,
          context: { ...h.context, storage: cloud },
        }),
      );
    const key = await upload(h, 'cells.png', await valImage(valNames[0]!));
    const id = await h.submitter.submitImage({ name: 'cells.png', inputKey: key }, opts);
    const rec = await h.wait(id);
    expect(rec.status).toBe('done');
    expect((await h.storage.list(`results/default/${id}/`)).sort()).toEqual(
      [rec.labels_key, rec.output_key].sort(),
    );
    const zip = unzipSync(await h.storage.get(rec.output_key!));
    expect(Object.keys(zip)).toEqual(['cells_feature_0.tif']);
    expect(Buffer.from(zip['cells_feature_0.tif']!).equals(await h.storage.get(rec.labels_key!))).toBe(true);
  });

  it('packs a batch into one zip and names the failed file with its reason', async () => {
    h = await createHarness(inject('redisUrl'));
    const images = [];
    for (const stem of valNames)
      images.push({
        name: `dir/${stem}.png`,
        inputKey: await upload(h, `${stem}.png`, await valImage(stem)),
      });
    images.push({
      name: 'notes.png',
      inputKey: await upload(h, 'notes.png', Buffer.from('this is not an image at all')),
    });
    const id = await h.submitter.submitBatch('plate1.zip', images, opts);
    expect((await h.records.get(id))?.status).toBe('waiting');
    const rec = await h.wait(id);
    expect(rec.status).toBe('done');
    expect(rec.failures).toHaveLength(1);
    expect(rec.failures![0]!.name).toBe('notes.png');
    expect(rec.failures![0]!.reason).toMatch(/notes\.png.*not/i);
    expect(rec.reason).toBe('1 of 4 images failed');
    const zip = unzipSync(await h.storage.get(rec.output_key!));
    expect(Object.keys(zip).sort()).toEqual(valNames.map((s) => `dir_${s}_feature_0.tif`).sort());
    const child = await h.records.get(rec.children![3]!);
    expect(child).toMatchObject({ status: 'failed', parent: id });
  });

  it('fails a batch whose images all fail, listing every reason', async () => {
    h = await createHarness(inject('redisUrl'));
    const bad = [
      {
        name: 'a.tif',
        inputKey: await upload(h, 'a.tif', Uint8Array.from([0x49, 0x49, 0x2a, 0, 8, 0, 0, 0, 1])),
      },
      { name: 'b.png', inputKey: await upload(h, 'b.png', Buffer.from('nope')) },
    ];
    const rec = await h.wait(await h.submitter.submitBatch('two', bad, opts));
    expect(rec.status).toBe('failed');
    expect(rec.reason).toMatch(/^all 2 images failed: a\.tif: .*; b\.png: /);
  });

  it('fails bad input at once with a reason, without retries', async () => {
    h = await createHarness(inject('redisUrl'), { maxPixels: 1000 });
    const finishes: string[] = [];
    const finish = h.records.finish.bind(h.records);
    h.records.finish = (id, ...rest) => (finishes.push(`${id} ${rest[0]}`), finish(id, ...rest));
    const big = await h.wait(
      await h.submitter.submitImage(
        { name: 'big.png', inputKey: await upload(h, 'big.png', await valImage(valNames[0]!)) },
        opts,
      ),
    );
    expect(big.status).toBe('failed');
    expect(big.reason).toMatch(/^preprocess: .*big\.png/);
    expect(big.reason).toMatch(/pixel|values|large/i);
    // The record is finished once, by the stage; the pool's `failed` handler, which runs after BullMQ has
    // failed the stage and its parent stages, leaves it alone (it finishes only jobs whose stage never ran).
    await new Promise((r) => setTimeout(r, 300));
    expect(finishes.filter((f) => f.startsWith(big.id))).toEqual([`${big.id} failed`]);
    const missing = await h.wait(
      await h.submitter.submitImage({ name: 'gone.png', inputKey: 'uploads/default/x/gone.png' }, opts),
    );
    expect(missing.reason).toMatch(/no object uploads\/default\/x\/gone\.png/);
    const unknown = await h.wait(
      await h.submitter.submitImage(
        { name: 'c.png', inputKey: await upload(h, 'c.png', await valImage(valNames[0]!)) },
        { ...opts, model: { name: 'trivial', version: '7' } },
      ),
    );
    expect(unknown.reason).toMatch(/model trivial has no version "7"; available: 1/);
  });

  it('retries a transient error with backoff and then succeeds', async () => {
    let failures = 0;
    const flaky: SegmentationStages = {
      ...trivialStages,
      async predict(p, runner, card) {
        if (failures++ < 2) throw new Error('ECONNRESET: model server went away');
        return trivialStages.predict(p, runner, card);
      },
    };
    h = await createHarness(inject('redisUrl'), { stages: flaky });
    const rec = await h.wait(
      await h.submitter.submitImage(
        { name: 'x.png', inputKey: await upload(h, 'x.png', await valImage(valNames[1]!)) },
        opts,
      ),
    );
    expect(rec.status).toBe('done');
    expect(failures).toBe(3);
  });

  it('fails with the last error when transient errors outlast the attempts', async () => {
    const broken: SegmentationStages = {
      ...trivialStages,
      predict: () => Promise.reject(new Error('out of GPU memory')),
    };
    h = await createHarness(inject('redisUrl'), { stages: broken, retry: { attempts: 2 } });
    const rec = await h.wait(
      await h.submitter.submitImage(
        { name: 'x.png', inputKey: await upload(h, 'x.png', await valImage(valNames[1]!)) },
        opts,
      ),
    );
    expect(rec).toMatchObject({ status: 'failed', reason: 'predict: out of GPU memory' });
  });

  it('cancels a queued job: its record fails as cancelled and no stage runs', async () => {
    h = await createHarness(inject('redisUrl'), { startPools: false });
    const id = await h.submitter.submitImage(
      { name: 'x.png', inputKey: await upload(h, 'x.png', await valImage(valNames[1]!)) },
      opts,
    );
    expect(await h.submitter.cancel(id)).toBe(true);
    expect(await h.submitter.cancel('no-such-job')).toBe(false);
    h.startPools();
    const rec = await h.wait(id);
    expect(rec).toMatchObject({ status: 'failed', reason: 'cancelled by the user' });
    expect(h.runner.calls).toEqual([]);
  });

  it('a stage of a job that turned final before the stage started fails as cancelled, no scratch left', async () => {
    // The record turns final while the stage jobs stay queued (what a cancel that could not remove them
    // leaves): preprocess reads and decodes while its record update is under way, then stops there.
    h = await createHarness(inject('redisUrl'), { startPools: false });
    const id = await h.submitter.submitImage(
      { name: 'x.png', inputKey: await upload(h, 'x.png', await valImage(valNames[1]!)) },
      opts,
    );
    expect(await h.records.finish(id, 'failed', { reason: 'cancelled by the user' })).toBe(true);
    const pre = new Queue(QUEUE.preprocess, { connection: bullConnection(h.redisUrl), prefix: h.prefix });
    try {
      h.startPools();
      const job = (await pre.getJob(stageJobId(id, 'pre')))!;
      for (let i = 0; i < 200 && (await job.getState()) !== 'failed'; i++)
        await new Promise((r) => setTimeout(r, 25));
      expect(await job.getState()).toBe('failed');
      expect((await pre.getJob(stageJobId(id, 'pre')))!.failedReason).toMatch(/cancelled/);
    } finally {
      await pre.close();
    }
    expect(await h.storage.exists(keys.tiles(id, 1))).toBe(false);
    expect(h.runner.calls).toEqual([]);
    expect(await h.records.get(id)).toMatchObject({ status: 'failed', reason: 'cancelled by the user' });
  });

  it('cancelled while a stage runs: that stage finishes, the next one does not call the model', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inStage = new Promise<void>((r) => (entered = r));
    const stages: SegmentationStages = {
      ...trivialStages,
      async preprocess(bytes, name, card, o) {
        entered();
        await gate;
        return trivialStages.preprocess(bytes, name, card, o);
      },
    };
    h = await createHarness(inject('redisUrl'), { stages });
    const id = await h.submitter.submitImage(
      { name: 'x.png', inputKey: await upload(h, 'x.png', await valImage(valNames[1]!)) },
      opts,
    );
    await inStage;
    expect(await h.submitter.cancel(id)).toBe(true); // its flow is running (locked): it stays queued
    release();
    const predict = new Queue(QUEUE.predict, { connection: bullConnection(h.redisUrl), prefix: h.prefix });
    try {
      let state = '';
      for (let i = 0; i < 200 && state !== 'failed'; i++) {
        state = (await (await predict.getJob(stageJobId(id, 'predict')))?.getState()) ?? 'removed';
        if (state !== 'failed') await new Promise((r) => setTimeout(r, 25));
      }
      expect(state).toBe('failed');
    } finally {
      await predict.close();
    }
    expect(h.runner.calls).toEqual([]);
    expect(await h.records.get(id)).toMatchObject({ status: 'failed', reason: 'cancelled by the user' });
  });

  it('a CPU worker runs 2 jobs per queue, but computes one at a time', async () => {
    let computing = 0;
    let most = 0;
    let active = 0;
    let mostActive = 0;
    const busy = async <T>(f: () => T | Promise<T>): Promise<T> => {
      most = Math.max(most, ++computing);
      await new Promise((r) => setTimeout(r, 15)); // a wait inside the compute: another job could step in
      try {
        return await f();
      } finally {
        computing--;
      }
    };
    const stages: SegmentationStages = {
      ...trivialStages,
      preprocess: (bytes, name, card, o) => busy(() => trivialStages.preprocess(bytes, name, card, o)),
      postprocess: (maps, meta, card, o) => busy(() => trivialStages.postprocess(maps, meta, card, o)),
    };
    h = await createHarness(inject('redisUrl'), { stages, startPools: false });
    const ids = [];
    for (let i = 0; i < 6; i++)
      ids.push(
        await h.submitter.submitImage(
          { name: `i${i}.png`, inputKey: await upload(h, `i${i}.png`, await valImage(valNames[i % 3]!)) },
          opts,
        ),
      );
    h.startPools();
    const pre = new Queue(QUEUE.preprocess, { connection: bullConnection(h.redisUrl), prefix: h.prefix });
    const watch = setInterval(() => {
      void pre.getActiveCount().then((n) => (mostActive = Math.max(mostActive, (active = n))));
    }, 5);
    try {
      const recs = await Promise.all(ids.map((id) => h!.wait(id)));
      expect(recs.map((r) => r.status)).toEqual(ids.map(() => 'done'));
    } finally {
      clearInterval(watch);
      await pre.close();
    }
    expect(active).toBe(0);
    expect(mostActive).toBe(2); // two preprocess jobs taken at once by the one CPU worker...
    expect(most).toBe(1); // ...whose compute never overlapped
  });

  it('runs the tiles of several waiting jobs in one model call', async () => {
    h = await createHarness(inject('redisUrl'), { startPools: false, modelDelayMs: 40 });
    const ids = [];
    for (let i = 0; i < 6; i++) {
      ids.push(
        await h.submitter.submitImage(
          { name: `i${i}.png`, inputKey: await upload(h, `i${i}.png`, await valImage(valNames[i % 3]!)) },
          opts,
        ),
      );
    }
    // 4 predict jobs at a time share one batcher; while the model is busy the others' tiles queue up
    h.startPools({ concurrency: 4 });
    const recs = await Promise.all(ids.map((id) => h!.wait(id)));
    expect(recs.every((r) => r.status === 'done')).toBe(true);
    const batcher = [...h.context.batchers.values()][0]!;
    expect(batcher.stats.tiles).toBe(6);
    expect(batcher.stats.runs).toBeLessThan(6);
    expect(batcher.stats.mixedRuns).toBeGreaterThan(0);
  });
});

describe('stalled-job recovery', () => {
  it('gives a job whose worker was lost mid-stage to another worker, which finishes it', async () => {
    let hang = true;
    let entered!: () => void;
    const inStage = new Promise<void>((r) => (entered = r));
    const stages: SegmentationStages = {
      ...trivialStages,
      async predict(p, runner, card) {
        if (hang) {
          hang = false;
          entered();
          return new Promise(() => undefined); // this worker "dies" here: never answers, stops renewing its lock
        }
        return trivialStages.predict(p, runner, card);
      },
    };
    h = await createHarness(inject('redisUrl'), { stages, startPools: false });
    h.startPools({ lockDurationMs: 1000, stalledIntervalMs: 500 });
    const id = await h.submitter.submitImage(
      { name: 'x.png', inputKey: await upload(h, 'x.png', await valImage(valNames[0]!)) },
      opts,
    );
    await inStage;
    const [lostCpu, lostGpu] = h.pools.splice(0, 2);
    await lostGpu!.close(true); // the lost worker: its job stays active with a lock nobody renews
    await lostCpu!.close(true);
    h.startPools({ lockDurationMs: 1000, stalledIntervalMs: 500 });
    const rec = await h.wait(id, 30_000);
    expect(rec.status).toBe('done');
  });
});

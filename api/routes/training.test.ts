import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runRemoteTraining } from '../../cli/train-remote.js';
import { decodeImage } from '../../workers/image/decode.js';
import { labelsFromRaw } from '../../workers/image/files.js';
import { encodePng } from '../../workers/image/png.js';
import { encodeTiff } from '../../workers/image/tiff-write.js';
import { packZip } from '../../workers/image/zip.js';
import { startTrainingWorkerFor } from '../../workers/training/services.js';
import type { TrainingRecord } from '../../workers/training/records.js';
import {
  nextTrainingEvent,
  nucleiZip,
  NUCLEI,
  prepareBaseModel,
  startTrainingService,
  TRAIN_STEMS,
  VAL_STEM,
  type TrainingService,
} from '../../workers/training/training-harness.test-helpers.js';
import { multipart } from '../service-harness.test-helpers.js';

let dir: string;
let modelsDir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiosk-training-api-'));
  modelsDir = join(dir, 'models');
  await prepareBaseModel(modelsDir);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const MiB = 2 ** 20;
const png8 = (h: number, w: number) =>
  encodePng({ data: new Uint8Array(h * w).fill(9), dtype: 'uint8', shape: [h, w], axes: 'YX' });
const labels16 = (h: number, w: number) => {
  const d = new Uint16Array(h * w);
  d.fill(1, 0, 10);
  return encodePng({ data: d, dtype: 'uint16', shape: [h, w], axes: 'YX' });
};

describe('training API: bad data and parameters', () => {
  let svc: TrainingService;
  beforeAll(async () => {
    svc = await startTrainingService(inject('redisUrl'), modelsDir, { trainer: false, listen: true });
  });
  afterAll(async () => {
    await svc.close();
  });

  it('400 lists each problem by file name: missing pair, mismatched shapes, float labels, non-image', async () => {
    const zip = packZip([
      { name: 'train/good.image.png', data: png8(16, 16) },
      { name: 'train/good.labels.png', data: labels16(16, 16) },
      { name: 'train/alone.image.png', data: png8(16, 16) },
      { name: 'train/wide.image.png', data: png8(16, 24) },
      { name: 'train/wide.labels.png', data: labels16(16, 16) },
      { name: 'train/float.image.png', data: png8(16, 16) },
      {
        name: 'train/float.labels.tif',
        data: encodeTiff({
          data: new Float32Array(256).fill(0.5),
          dtype: 'float32',
          shape: [16, 16],
          axes: 'YX',
        }),
      },
      { name: 'train/junk.image.png', data: new TextEncoder().encode('not an image at all') },
      { name: 'train/junk.labels.png', data: labels16(16, 16) },
    ]);
    const res = await svc.app.inject({
      method: 'POST',
      url: '/v1/trainings/upload',
      ...(await multipart([['data', 'set.zip', zip]], { epochs: '1' })),
    });
    expect(res.statusCode).toBe(400);
    const body = res.json<{
      error: string;
      message: string;
      problems: { file: string; code: string; message: string }[];
    }>();
    expect(body.error).toBe('bad-training-data');
    expect(body.problems.map((p) => [p.file, p.code])).toEqual([
      ['train/alone.image.png', 'missing-labels'],
      ['train/float.labels.tif', 'float-labels'],
      ['train/junk.image.png', 'not-an-image'],
      ['train/wide.labels.png', 'shape-mismatch'],
    ]);
    expect(body.message).toMatch(/^4 problems in the training data: /);
    expect(body.problems[3]!.message).toBe(
      'train/wide.image.png is 16x24 (HxW) but train/wide.labels.png is 16x16',
    );
    expect((await svc.app.inject({ method: 'GET', url: '/v1/trainings' })).json()).toEqual({ trainings: [] });
  });

  it('400 for an empty zip, and for a request without files', async () => {
    const empty = await svc.app.inject({
      method: 'POST',
      url: '/v1/trainings/upload',
      ...(await multipart([['data', 'empty.zip', packZip([])]])),
    });
    expect(empty.statusCode).toBe(400);
    expect(empty.json()).toEqual({
      error: 'bad-training-data',
      message: '1 problem in the training data: empty.zip holds no files',
      problems: [{ file: 'empty.zip', code: 'empty', message: 'empty.zip holds no files' }],
    });
    const none = await svc.app.inject({
      method: 'POST',
      url: '/v1/trainings/upload',
      ...(await multipart([], { epochs: '2' })),
    });
    expect(none.statusCode).toBe(400);
    expect(none.json()).toMatchObject({ error: 'bad-training-data', problems: [{ code: 'empty' }] });
  });

  it('JSON creation with upload keys checks the data the same way; unknown keys, models and bad parameters are 4xx', async () => {
    const up = await svc.app.inject({
      method: 'POST',
      url: '/v1/uploads',
      ...(await multipart([['file', 'lonely.labels.png', labels16(8, 8)]])),
    });
    const key = up.json<{ uploads: { key: string }[] }>().uploads[0]!.key;
    const bad = await svc.app.inject({ method: 'POST', url: '/v1/trainings', payload: { data: [key] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ problems: [{ file: 'lonely.labels.png', code: 'missing-image' }] });

    const zip = await nucleiZip(TRAIN_STEMS.slice(0, 1));
    const zipUp = await svc.app.inject({
      method: 'POST',
      url: '/v1/uploads',
      ...(await multipart([['file', 'd.zip', zip]])),
    });
    const zipKey = zipUp.json<{ uploads: { key: string }[] }>().uploads[0]!.key;
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{ data: ['uploads/default/nope/x.zip'] }, 400, /no uploaded file/],
      [{ data: ['results/x'] }, 400, /not an upload of this lab/],
      [{ data: [zipKey], baseModel: 'nope' }, 400, /unknown model "nope"; available: nuclear/],
      [{ data: [zipKey], baseVersion: '7' }, 400, /model nuclear has no version "7"/],
      [{ data: [zipKey], cropSize: 40 }, 400, /cropSize.*multiple of 16/],
      [{ data: [zipKey], epochs: 0 }, 400, /epochs/],
      [
        { data: [zipKey], fromScratch: true, baseModel: 'nuclear' },
        400,
        /either baseModel \(nuclear\) or fromScratch/,
      ],
    ];
    for (const [payload, status, message] of cases) {
      const res = await svc.app.inject({ method: 'POST', url: '/v1/trainings', payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(status);
      expect(res.json<{ message: string }>().message).toMatch(message);
    }
    const form = await svc.app.inject({
      method: 'POST',
      url: '/v1/trainings/upload',
      ...(await multipart([['data', 'd.zip', zip]], { learningRate: 'fast' })),
    });
    expect(form.statusCode).toBe(400);
    expect(form.json<{ message: string }>().message).toMatch(/bad training parameters: \/learningRate/);
  });

  it('queued jobs wait visibly (position in the queue), can be cancelled, and 404 for unknown ids', async () => {
    const zip = await nucleiZip(TRAIN_STEMS.slice(0, 1));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await svc.app.inject({
        method: 'POST',
        url: '/v1/trainings/upload',
        ...(await multipart([['data', 'd.zip', zip]], { epochs: '1', cropSize: '32' })),
      });
      expect(res.statusCode, res.body).toBe(201);
      ids.push(res.json<{ id: string }>().id);
    }
    const first = (await svc.app.inject({ method: 'GET', url: `/v1/trainings/${ids[0]}` })).json();
    const second = (await svc.app.inject({ method: 'GET', url: `/v1/trainings/${ids[1]}` })).json();
    expect(first).toMatchObject({
      status: 'waiting',
      position: 1,
      params: {
        modelName: 'nuclear',
        baseModel: 'nuclear',
        baseVersion: '1',
        epochs: 1,
        cropSize: 32,
        learningRate: 1e-4,
      },
    });
    expect(first.data).toMatchObject({ trainPairs: 1, valPairs: 0 });
    expect(second).toMatchObject({ status: 'waiting', position: 2 });
    // The third job's event stream: a snapshot at place 3, then its new place when the queue moves.
    const stream = await fetch(`${svc.url}/v1/trainings/${ids[2]}/events`);
    const reader = stream.body!.getReader();
    let text = '';
    const until = async (pattern: RegExp): Promise<void> => {
      while (!pattern.test(text)) {
        const { done, value } = await reader.read();
        if (done) throw new Error(`stream ended before ${pattern}: ${text}`);
        text += new TextDecoder().decode(value);
      }
    };
    await until(/event: snapshot\ndata: .*"position":3/);
    const cancelled = (
      await svc.app.inject({ method: 'POST', url: `/v1/trainings/${ids[0]}/cancel` })
    ).json();
    expect(cancelled).toMatchObject({ status: 'failed', reason: 'cancelled by the user' });
    expect(cancelled.position).toBeUndefined();
    expect((await svc.app.inject({ method: 'GET', url: `/v1/trainings/${ids[1]}` })).json()).toMatchObject({
      position: 1,
    });
    await until(new RegExp(`event: training\\ndata: \\{"id":"${ids[2]}","position":2\\}`));
    await svc.app.inject({ method: 'POST', url: `/v1/trainings/${ids[2]}/cancel` });
    await until(/"status":"failed".*\n\n/);
    expect((await reader.read()).done).toBe(true); // the stream ends with the job
    const list = (await svc.app.inject({ method: 'GET', url: '/v1/trainings' })).json<{
      trainings: { id: string }[];
    }>();
    expect(list.trainings.map((t) => t.id)).toEqual([ids[2], ids[1], ids[0]]);
    expect((await svc.app.inject({ method: 'GET', url: '/v1/trainings/nope' })).statusCode).toBe(404);
    expect((await svc.app.inject({ method: 'POST', url: '/v1/trainings/nope/cancel' })).statusCode).toBe(404);
  });

  it('kiosk train --host prints each refused file and exits 1; bad flags are usage errors', async () => {
    const folder = join(dir, 'bad-folder');
    const { mkdir, writeFile } = await import('node:fs/promises');
    await mkdir(join(folder, 'val'), { recursive: true });
    await writeFile(join(folder, 'a.image.png'), png8(16, 16));
    await writeFile(join(folder, 'val', 'b.labels.png'), labels16(16, 16));
    const lines: string[] = [];
    const code = await runRemoteTraining(['--host', svc.url, '--data', folder], {
      out: (l) => lines.push(l),
    });
    expect(code).toBe(1);
    expect(lines.slice(1)).toEqual([
      'the kiosk refused the training data (2 problems):',
      '  a.image.png: a.image.png has no a.labels.(png|tif) beside it',
      '  val/b.labels.png: val/b.labels.png has no b.image.(png|tif) beside it',
    ]);
    await expect(runRemoteTraining(['--data', folder])).rejects.toThrow(/--host URL is required/);
    await expect(runRemoteTraining(['--host', svc.url])).rejects.toThrow(/--data ZIP\|DIR is required/);
    await expect(runRemoteTraining(['--host', svc.url, '--data', join(dir, 'nope')])).rejects.toThrow(
      /does not exist/,
    );
    await expect(
      runRemoteTraining(['--host', svc.url, '--data', folder, '--from', 'x', '--scratch']),
    ).rejects.toThrow(/not both/);
    await expect(runRemoteTraining(['--host', svc.url, '--data', folder, '--bogus'])).rejects.toThrow(
      /Unknown option '--bogus'/,
    );
  });

  it(
    'data that turns bad in the bucket fails the job at once on the worker, with the file in the reason',
    { timeout: 60_000 },
    async () => {
      for (const t of (await svc.app.inject({ method: 'GET', url: '/v1/trainings' })).json<{
        trainings: { id: string }[];
      }>().trainings) {
        await svc.app.inject({ method: 'POST', url: `/v1/trainings/${t.id}/cancel` }); // earlier tests' queued jobs
      }
      const zip = await nucleiZip(TRAIN_STEMS.slice(0, 1));
      const res = await svc.app.inject({
        method: 'POST',
        url: '/v1/trainings/upload',
        ...(await multipart([['data', 'd.zip', zip]], { epochs: '1', stepsPerEpoch: '1', cropSize: '32' })),
      });
      const id = res.json<{ id: string }>().id;
      await svc.bucket.put(
        `training/${id}/data/train/${TRAIN_STEMS[0]}.image.png`,
        new TextEncoder().encode('garbage'),
      );
      const final = nextTrainingEvent(svc, id, (e) => e.status === 'done' || e.status === 'failed', 50_000);
      // a dedicated training process's code (`kiosk start --role trainer`), with the trainer's grants
      const trainer = startTrainingWorkerFor(await svc.servicesFor('trainer'), {
        scratchDir: join(dir, 'scratch-bad'),
        tfjsPrefer: 'wasm',
        log: () => undefined,
      });
      try {
        await final;
        const rec = (
          await svc.app.inject({ method: 'GET', url: `/v1/trainings/${id}` })
        ).json<TrainingRecord>();
        expect(rec).toMatchObject({ status: 'failed', attempts: 1 });
        expect(rec.reason).toMatch(new RegExp(`${TRAIN_STEMS[0]}\\.image\\.png: not a TIFF or PNG file`));
      } finally {
        await trainer.close(true);
      }
    },
  );
});

describe('issue 18: training uploads with a bounded memory footprint', () => {
  let svc: TrainingService;
  beforeAll(async () => {
    svc = await startTrainingService(inject('redisUrl'), modelsDir, { trainer: false, listen: true });
  });
  afterAll(async () => {
    await svc.close();
  });

  /**
   * A zip of stored (uncompressed) entries, written to `out` chunk by chunk: `big` is `bigMiB` MiB made of
   * one random MiB repeated, so neither this side nor the zip needs it whole.
   */
  function storedZip(small: readonly [string, Uint8Array][], big: string, bigMiB: number) {
    const chunk = randomBytes(MiB);
    let bigCrc = 0;
    for (let i = 0; i < bigMiB; i++) bigCrc = crc32(chunk, bigCrc);
    const entries = [
      ...small.map(([name, data]) => ({ name, size: data.length, crc: crc32(data), parts: () => [data] })),
      {
        name: big,
        size: bigMiB * MiB,
        crc: bigCrc,
        parts: function* () {
          for (let i = 0; i < bigMiB; i++) yield chunk;
        },
      },
    ];
    const header = (sig: number, e: (typeof entries)[number], offset?: number) => {
      const name = Buffer.from(e.name);
      const central = offset !== undefined;
      const h = Buffer.alloc(central ? 46 : 30);
      h.writeUInt32LE(sig, 0);
      if (central) h.writeUInt16LE(20, 4); // version made by: only in the central directory
      const p = central ? 6 : 4;
      h.writeUInt16LE(20, p); // needed
      h.writeUInt16LE(0x21, p + 8); // date 1980-01-01
      h.writeUInt32LE(e.crc >>> 0, p + 10);
      h.writeUInt32LE(e.size, p + 14);
      h.writeUInt32LE(e.size, p + 18);
      h.writeUInt16LE(name.length, p + 22);
      if (central) h.writeUInt32LE(offset, 42);
      return Buffer.concat([h, name]);
    };
    const offsets: number[] = [];
    let size = 0;
    for (const e of entries) {
      offsets.push(size);
      size += 30 + Buffer.byteLength(e.name) + e.size;
    }
    const cd = Buffer.concat(entries.map((e, i) => header(0x02014b50, e, offsets[i])));
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(0x06054b50, 0);
    eocd.writeUInt16LE(entries.length, 8);
    eocd.writeUInt16LE(entries.length, 10);
    eocd.writeUInt32LE(cd.length, 12);
    eocd.writeUInt32LE(size, 16);
    return {
      size: size + cd.length + eocd.length,
      *chunks() {
        for (const e of entries) {
          yield header(0x04034b50, e);
          yield* e.parts();
        }
        yield cd;
        yield eocd;
      },
    };
  }

  it('issue 18: a training upload is streamed, not held in memory', { timeout: 120_000 }, async () => {
    // A training zip as a lab sends it: one pair beside a 192 MiB raw stack (ignored: not NAME.image/labels).
    // Before, the API read the whole request into memory (part.toBuffer), then unpacked the zip in memory.
    const BIG_MIB = 192;
    const zip = storedZip(
      [
        ['set/a.image.png', png8(16, 16)],
        ['set/a.labels.png', labels16(16, 16)],
      ],
      'set/raw/stack.bin',
      BIG_MIB,
    );
    const boundary = 'kiosk-issue-18-boundary';
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="epochs"\r\n\r\n1\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="data"; filename="set.zip"\r\n` +
        'Content-Type: application/zip\r\n\r\n',
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const uploadsBefore = await svc.bucket.list('uploads/');

    const base = process.memoryUsage();
    let peak = 0;
    const sample = setInterval(() => {
      const m = process.memoryUsage();
      peak = Math.max(peak, m.arrayBuffers - base.arrayBuffers + (m.heapUsed - base.heapUsed));
    }, 5);
    let res: { status: number; body: string };
    try {
      res = await new Promise((resolve, reject) => {
        const req = request(`${svc.url}/v1/trainings/upload`, {
          method: 'POST',
          headers: {
            'content-type': `multipart/form-data; boundary=${boundary}`,
            'content-length': head.length + zip.size + tail.length,
          },
        });
        req.on('error', reject);
        req.on('response', (r) => {
          let body = '';
          r.setEncoding('utf8');
          r.on('data', (c: string) => (body += c));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
        });
        void (async () => {
          for (const c of [head, ...zip.chunks(), tail])
            if (!req.write(c)) await new Promise((r) => req.once('drain', r));
          req.end();
        })().catch(reject);
      });
    } finally {
      clearInterval(sample);
    }
    console.log(`training upload of ${BIG_MIB} MiB: API memory +${(peak / MiB).toFixed(1)} MiB`);
    expect(res.status, res.body).toBe(201);
    const rec = JSON.parse(res.body) as { id: string; data: { trainPairs: number; ignored: string[] } };
    expect(rec.data).toMatchObject({ trainPairs: 1, ignored: ['set/raw/stack.bin'] });
    // the checked pair is stored for the trainer; the request's zip and its unpacked entries are gone
    expect((await svc.bucket.list(`training/${rec.id}/data/`)).sort()).toEqual([
      `training/${rec.id}/data/train/a.image.png`,
      `training/${rec.id}/data/train/a.labels.png`,
    ]);
    expect(await svc.bucket.list('uploads/')).toEqual(uploadsBefore);
    expect(
      peak,
      `API memory grew by ${(peak / MiB).toFixed(1)} MiB during a ${BIG_MIB} MiB training upload`,
    ).toBeLessThan((BIG_MIB / 2) * MiB); // 28 to 39 MiB measured here; 567 MiB before
    await svc.app.inject({ method: 'POST', url: `/v1/trainings/${rec.id}/cancel` });
  });

  it('a refused training upload leaves none of its files in the bucket (they are streamed there first)', async () => {
    const before = await svc.bucket.list('uploads/');
    const res = await svc.app.inject({
      method: 'POST',
      url: '/v1/trainings/upload',
      ...(await multipart([
        ['data', 'set.zip', packZip([{ name: 'a.image.png', data: png8(16, 16) }])],
        ['data', 'b.labels.png', labels16(16, 16)],
      ])),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ problems: { file: string; code: string }[] }>().problems).toEqual([
      expect.objectContaining({ file: 'b.labels.png', code: 'missing-image' }),
      expect.objectContaining({ file: 'set/a.image.png', code: 'missing-labels' }),
    ]);
    const params = await svc.app.inject({
      method: 'POST',
      url: '/v1/trainings/upload',
      ...(await multipart([['data', 'b.labels.png', labels16(16, 16)]], { epochs: 'many' })),
    });
    expect(params.statusCode).toBe(400);
    expect(await svc.bucket.list('uploads/')).toEqual(before);
  });
});

describe('fine-tuning nuclear through the API (kiosk train --host), then segmenting with the new version', () => {
  let svc: TrainingService;
  beforeAll(async () => {
    svc = await startTrainingService(inject('redisUrl'), modelsDir, { trainer: true, listen: true });
  });
  afterAll(async () => {
    await svc.close();
  });

  it(
    'trains a few steps, lists nuclear v2 with its card, and a predict job with modelVersion 2 gives labels',
    { timeout: 240_000 },
    async () => {
      const zipPath = join(dir, 'subset.zip');
      const { writeFile } = await import('node:fs/promises');
      await writeFile(zipPath, await nucleiZip(TRAIN_STEMS, [VAL_STEM]));
      const lines: string[] = [];
      const code = await runRemoteTraining(
        [
          '--host',
          svc.url,
          '--data',
          zipPath,
          '--from',
          'nuclear',
          '--epochs',
          '1',
          '--steps',
          '3',
          '--batch',
          '2',
          '--crop',
          '32',
          '--mpp',
          '0.5',
        ],
        { out: (l) => lines.push(l) },
      );
      expect(code, lines.join('\n')).toBe(0);
      expect(lines.join('\n')).toMatch(/epoch 1\/1: loss \d+\.\d{4} val F1@0\.5 \d\.\d{3} DSB \d\.\d{3}/);
      expect(lines.at(-1)).toBe(
        'done: model nuclear version 2 is ready (use --model nuclear with version 2)',
      );

      const trainings = (await svc.app.inject({ method: 'GET', url: '/v1/trainings' })).json<{
        trainings: Record<string, unknown>[];
      }>().trainings;
      expect(trainings[0]).toMatchObject({
        status: 'done',
        progress: 100,
        epoch: 1,
        step: 3,
        model: { name: 'nuclear', version: '2' },
        attempts: 1,
      });
      expect(trainings[0]!.history).toHaveLength(1);

      const models = (await svc.app.inject({ method: 'GET', url: '/v1/models' })).json<{
        models: {
          name: string;
          version: string;
          source: string;
          card: { training: { curves: unknown[] }; input: { mpp: number } } & Record<string, unknown>;
        }[];
      }>().models;
      const v2 = models.find((m) => m.name === 'nuclear' && m.version === '2')!;
      expect(v2).toMatchObject({ source: 'bucket' });
      expect(v2.card).toMatchObject({
        name: 'nuclear',
        version: 2,
        lab: 'default', // the training's lab: the registry lists it for that lab only
        parentModel: { name: 'nuclear', version: 1 },
        training: {
          data: { trainPairs: 3, valPairs: 1, micronsPerPixel: 0.5 },
          parameters: { epochs: 1, stepsPerEpoch: 3, batchSize: 2, cropSize: 32 },
          epochsRun: 1,
          steps: 3,
        },
        validation: { images: 1, epoch: 1 },
      });
      expect(v2.card.training.curves).toHaveLength(1);
      expect(v2.card.input.mpp).toBeGreaterThan(0);
      expect((await svc.app.inject({ method: 'GET', url: '/api/models' })).json()).toEqual({
        models: { nuclear: ['1', '2'] },
      });
      expect(await svc.bucket.list(`training/${String(trainings[0]!.id)}/checkpoint/`)).toEqual([]);

      // Segment a val image with the new version (v1 API).
      const image = await readFile(join(NUCLEI, 'val', `${VAL_STEM}.image.png`));
      const up = await svc.app.inject({
        method: 'POST',
        url: '/v1/uploads',
        ...(await multipart([['file', 'a.png', image]])),
      });
      const key = up.json<{ uploads: { key: string }[] }>().uploads[0]!.key;
      const job = await svc.app.inject({
        method: 'POST',
        url: '/v1/jobs',
        payload: { model: 'nuclear', modelVersion: '2', inputs: [key], options: { micronsPerPixel: 0.5 } },
      });
      expect(job.statusCode, job.body).toBe(201);
      const rec = await svc.wait(job.json<{ id: string }>().id, 120_000);
      expect(rec.status, rec.reason).toBe('done');
      expect(rec.model_version).toBe('2');
      const labels = labelsFromRaw(
        decodeImage(await svc.bucket.get(rec.labels_key!), { name: 'labels' }),
        'labels',
      );
      const src = decodeImage(image, { name: 'a.png' });
      expect([labels.height, labels.width]).toEqual([src.shape[0], src.shape[1]]);

      // And through the DeepCell-compatible route with modelName/modelVersion.
      const dc = await svc.app.inject({
        method: 'POST',
        url: '/api/predict',
        payload: {
          jobType: 'segmentation',
          imageName: 'a.png',
          uploadedName: key,
          modelName: 'nuclear',
          modelVersion: '2',
        },
      });
      expect(dc.statusCode, dc.body).toBe(200);
      const dcRec = await svc.wait(dc.json<{ hash: string }>().hash, 120_000);
      expect(dcRec.status, dcRec.reason).toBe('done');
      expect(dcRec.model_version).toBe('2');
    },
  );

  it(
    'trains a new network from scratch through the JSON route (upload keys): custom v1 with no parent',
    { timeout: 120_000 },
    async () => {
      const up = await svc.app.inject({
        method: 'POST',
        url: '/v1/uploads',
        ...(await multipart([['file', 'd.zip', await nucleiZip(TRAIN_STEMS.slice(0, 2))]])),
      });
      const key = up.json<{ uploads: { key: string }[] }>().uploads[0]!.key;
      const res = await svc.app.inject({
        method: 'POST',
        url: '/v1/trainings',
        payload: { data: [key], fromScratch: true, epochs: 1, stepsPerEpoch: 2, batchSize: 2, cropSize: 32 },
      });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json()).toMatchObject({
        params: { modelName: 'custom', learningRate: 1e-3 },
        totalSteps: 2,
      });
      expect(res.json<{ params: Record<string, unknown> }>().params.baseModel).toBeUndefined();
      const id = res.json<{ id: string }>().id;
      const ev = await nextTrainingEvent(
        svc,
        id,
        (e) => e.status === 'done' || e.status === 'failed',
        110_000,
      );
      expect(ev, JSON.stringify(ev)).toMatchObject({
        status: 'done',
        model: { name: 'custom', version: '1' },
      });
      const card = JSON.parse(
        Buffer.from(await svc.bucket.get('models/custom/1/card.json')).toString(),
      ) as Record<string, unknown>;
      expect(card).toMatchObject({
        name: 'custom',
        version: 1,
        lab: 'default',
        parentModel: null,
        network: { depth: 4, baseFilters: 16 },
      });
      expect(card.validation).toBeUndefined();
      expect(
        (await svc.app.inject({ method: 'GET', url: '/api/models' })).json<{
          models: Record<string, string[]>;
        }>().models.custom,
      ).toEqual(['1']);
    },
  );

  it(
    'cancelling a running training stops it: failed with the reason, no new version, checkpoints removed',
    { timeout: 120_000 },
    async () => {
      const zip = await nucleiZip(TRAIN_STEMS.slice(0, 1));
      const res = await svc.app.inject({
        method: 'POST',
        url: '/v1/trainings/upload',
        ...(await multipart([['data', 'd.zip', zip]], {
          epochs: '50',
          stepsPerEpoch: '4',
          batchSize: '2',
          cropSize: '32',
          modelName: 'never',
        })),
      });
      const id = res.json<{ id: string }>().id;
      await nextTrainingEvent(svc, id, (e) => e.epochRecord !== undefined, 100_000);
      const final = nextTrainingEvent(svc, id, (e) => e.status === 'failed' || e.status === 'done', 30_000);
      const cancel = await svc.app.inject({ method: 'POST', url: `/v1/trainings/${id}/cancel` });
      expect(cancel.statusCode).toBe(200);
      expect((await final).status).toBe('failed');
      const rec = (
        await svc.app.inject({ method: 'GET', url: `/v1/trainings/${id}` })
      ).json<TrainingRecord>();
      expect(rec).toMatchObject({ status: 'failed', reason: 'cancelled by the user' });
      expect(rec.epoch).toBeLessThan(50);
      expect(await svc.bucket.list('models/never/')).toEqual([]);
      expect(await svc.bucket.list(`training/${id}/checkpoint/`)).toEqual([]);
    },
  );
});

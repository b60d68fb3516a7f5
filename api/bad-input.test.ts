import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { encode } from 'fast-png';
import { decodeImage } from '../workers/image/decode.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { encodeLabelsTiff } from '../workers/image/tiff-write.js';
import { multipart, startTestService, type TestService } from './service-harness.test-helpers.js';
import { NUCLEI_VAL } from '../test/data.js';

const VAL = NUCLEI_VAL;
const STEM = 'dsb_03398329ced0c23b';

// One service for the whole file (small limits so each one can be hit cheaply); an image job accepted
// first must still finish after every bad request.
let svc: TestService;
let acceptedId: string;
beforeAll(async () => {
  svc = await startTestService(inject('redisUrl'), {
    env: {
      KIOSK_MAX_UPLOAD_MB: '1',
      KIOSK_MAX_ZIP_ENTRIES: '3',
      KIOSK_MAX_ZIP_RATIO: '10',
      KIOSK_MAX_PIXELS: '50000',
    },
    pools: false,
  });
  // a 128x128 crop of a val image: under KIOSK_MAX_PIXELS, unlike the full 256x256
  const full = decodeImage(await readFile(join(VAL, `${STEM}.image.png`)), { name: STEM });
  const crop = new Uint8Array(128 * 128);
  for (let y = 0; y < 128; y++) crop.set((full.data as Uint8Array).subarray(y * 256, y * 256 + 128), y * 128);
  const [key] = await uploads([
    ['first.png', encode({ width: 128, height: 128, data: crop, channels: 1, depth: 8 })],
  ]);
  const res = await svc.app.inject({ method: 'POST', url: '/v1/jobs', payload: { inputs: [key] } });
  acceptedId = (res.json() as { id: string }).id;
});
afterAll(async () => {
  await svc.close();
});

async function uploads(files: [string, Uint8Array][]): Promise<string[]> {
  const res = await svc.app.inject({
    method: 'POST',
    url: '/v1/uploads',
    ...(await multipart(files.map(([n, b]) => ['file', n, b]))),
  });
  expect(res.statusCode, res.body).toBe(201);
  return (res.json() as { uploads: { key: string }[] }).uploads.map((u) => u.key);
}

async function create(body: object) {
  const res = await svc.app.inject({ method: 'POST', url: '/v1/jobs', payload: body });
  return { status: res.statusCode, body: res.json() as { error: string; message: string; id: string } };
}

describe('bad input → 4xx with a reason, before anything is queued', () => {
  it('refuses non-image bytes with an image name', async () => {
    const [key] = await uploads([['cells.png', Buffer.from('GIF89a is not what this is')]]);
    expect(await create({ inputs: [key] })).toEqual({
      status: 400,
      body: {
        error: 'not-an-image',
        message: 'cells.png is not a TIFF or PNG image (it starts with bytes 47 49 46 38 39 61 20 69)',
      },
    });
  });

  it('refuses unknown job types, models and versions, naming what exists', async () => {
    const [key] = await uploads([['a.png', await readFile(join(VAL, `${STEM}.image.png`))]]);
    expect((await create({ inputs: [key], type: 'tracking' })).body).toEqual({
      error: 'unknown-job-type',
      message: 'unknown job type "tracking"; available: segmentation',
    });
    expect((await create({ inputs: [key], model: 'cyto' })).body).toEqual({
      error: 'unknown-model',
      message: 'unknown model "cyto"; available: trivial',
    });
    expect((await create({ inputs: [key], model: 'trivial', modelVersion: '4' })).body).toEqual({
      error: 'unknown-model-version',
      message: 'model trivial has no version "4"; available: 1',
    });
  });

  it('refuses missing or malformed fields and inputs that are not uploads', async () => {
    const missing = await create({ options: {} });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ error: 'bad-request' });
    expect(missing.body.message).toMatch(/inputs/);
    const badOpt = await create({ inputs: ['uploads/default/x/a.png'], options: { micronsPerPixel: -1 } });
    expect(badOpt.status).toBe(400);
    expect(badOpt.body.message).toMatch(/micronsPerPixel/);
    expect((await create({ inputs: ['uploads/default/nope/a.png'] })).body).toEqual({
      error: 'upload-not-found',
      message: 'a.png: no uploaded file "uploads/default/nope/a.png"',
    });
    expect((await create({ inputs: ['results/default/x/a.zip'] })).body.error).toBe('upload-not-found');
    const notMultipart = await svc.app.inject({ method: 'POST', url: '/v1/uploads', payload: { file: 'x' } });
    expect(notMultipart.statusCode).toBe(415);
  });

  it('refuses zips with ../ paths, too many entries, or an extreme compression ratio', async () => {
    const png = new Uint8Array(await readFile(join(VAL, `${STEM}.image.png`)));
    const [evil] = await uploads([['evil.zip', zipSync({ '../../etc/cron.png': png })]]);
    const e = await create({ inputs: [evil] });
    expect(e.status).toBe(400);
    expect(e.body.error).toBe('bad-archive');
    expect(e.body.message).toMatch(/^evil\.zip: .*\.\./);
    const [many] = await uploads([
      ['many.zip', zipSync({ 'a.png': png, 'b.png': png, 'c.png': png, 'd.png': png })],
    ]);
    const m = await create({ inputs: [many] });
    expect(m.body.error).toBe('bad-archive');
    expect(m.body.message).toMatch(/^many\.zip: .*(4|entries)/);
    const [bomb] = await uploads([
      ['bomb.zip', zipSync({ 'zeros.tif': new Uint8Array(4 << 20) }, { level: 9 })],
    ]);
    const b = await create({ inputs: [bomb] });
    expect(b.body.error).toBe('bad-archive');
    expect(b.body.message).toMatch(/^bomb\.zip: .*ratio/i);
    const [empty] = await uploads([['empty.zip', zipSync({})]]);
    expect((await create({ inputs: [empty] })).body).toEqual({
      error: 'empty-archive',
      message: 'empty.zip holds no files',
    });
  });

  it('refuses an upload over the size limit with 413 and keeps no partial file', async () => {
    const res = await svc.app.inject({
      method: 'POST',
      url: '/v1/uploads',
      ...(await multipart([['file', 'huge.tif', new Uint8Array(1.5 * 2 ** 20)]])),
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({
      error: 'upload-too-large',
      message: 'huge.tif is larger than the 1 MiB upload limit',
    });
    const stored = await svc.services.storage.list('uploads/');
    expect(stored.some((k) => k.endsWith('huge.tif'))).toBe(false);
  });
});

describe('bad input only a worker can see → a failed job with a reason', () => {
  it('fails a truncated TIFF and a too-large image by name, and the job accepted first still finishes', async () => {
    const tiff = encodeLabelsTiff({ data: new Uint32Array(64 * 64).fill(3), width: 64, height: 64 });
    const [cut, big] = await uploads([
      ['cut.tif', tiff.subarray(0, Math.floor(tiff.length / 2))],
      ['big.png', await readFile(join(VAL, `${STEM}.image.png`))], // 65,536 px > KIOSK_MAX_PIXELS
    ]);
    const a = await create({ inputs: [cut] });
    expect(a.status).toBe(201);
    const { startPool } = await import('../workers/processors/pool.js');
    const { trivialStages } = await import('../workers/processors/trivial-stages.js');
    const { bullConnection } = await import('../workers/queues/connection.js');
    const context = {
      storage: svc.services.storage,
      records: svc.services.records,
      registry: svc.services.registry,
      stages: trivialStages,
      submitter: svc.services.submitter,
      maxPixels: svc.services.config.maxPixels,
      maxBatchTiles: 16,
      batchers: new Map(),
      log: () => undefined,
    };
    const b = await create({ inputs: [big] });
    const pools = (['cpu', 'gpu'] as const).map((pool) =>
      startPool({
        pool,
        connection: bullConnection(svc.services.config.redisUrl),
        prefix: svc.services.config.prefix,
        context,
      }),
    );
    try {
      const cutRec = await svc.wait(a.body.id);
      expect(cutRec.status).toBe('failed');
      expect(cutRec.reason).toMatch(/^preprocess: cut\.tif.*(truncat|ends|past)/i);
      const bigRec = await svc.wait(b.body.id);
      expect(bigRec.status).toBe('failed');
      expect(bigRec.reason).toMatch(/big\.png/);
      expect(bigRec.reason).toMatch(/65536|pixels|values/);
      expect((await svc.wait(acceptedId)).status).toBe('done');
    } finally {
      await Promise.all(pools.map((p) => p.close(true)));
    }
  });
});

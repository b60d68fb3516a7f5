import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { encode } from 'fast-png';
import { decodeImage } from '../workers/image/decode.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { craftTiff } from '../workers/image/test-helpers.js';
import { encodeLabelsTiff } from '../workers/image/tiff-write.js';
import {
  multipart,
  startTestService,
  startWorkerPools,
  type TestService,
  uploadFiles,
} from './service-harness.test-helpers.js';
import { NUCLEI_VAL } from '../test/data.js';

const VAL = NUCLEI_VAL;
const STEM = 'dsb_03398329ced0c23b';
const FIXTURES = join(import.meta.dirname, '..', 'test', 'fixtures', 'tiff');

// One service for the whole file, with small limits so each one can be hit cheaply; an image job accepted
// first must still finish after every bad request.
let svc: TestService;
let acceptedId: string;
let smallPng: Uint8Array;
beforeAll(async () => {
  svc = await startTestService(inject('redisUrl'), {
    env: {
      KIOSK_MAX_UPLOAD_MB: '1',
      KIOSK_MAX_REQUEST_MB: '2',
      KIOSK_MAX_FILES: '3',
      KIOSK_MAX_BODY_KB: '16',
      KIOSK_MAX_ZIP_ENTRIES: '3',
      KIOSK_MAX_ZIP_RATIO: '10',
      KIOSK_MAX_ZIP_MB: '1',
      KIOSK_MAX_PIXELS: '50000',
      KIOSK_MAX_FRAMES: '2',
    },
    pools: false,
  });
  // a 128x128 crop of a val image: under KIOSK_MAX_PIXELS, unlike the full 256x256
  const full = decodeImage(await readFile(join(VAL, `${STEM}.image.png`)), { name: STEM });
  const crop = new Uint8Array(128 * 128);
  for (let y = 0; y < 128; y++) crop.set((full.data as Uint8Array).subarray(y * 256, y * 256 + 128), y * 128);
  smallPng = encode({ width: 128, height: 128, data: crop, channels: 1, depth: 8 });
  const [key] = await uploads([['first.png', smallPng]]);
  const res = await svc.app.inject({ method: 'POST', url: '/v1/jobs', payload: { inputs: [key] } });
  acceptedId = (res.json() as { id: string }).id;
});
afterAll(async () => {
  await svc.close();
});

const uploads = (files: [string, Uint8Array][]) => uploadFiles(svc, files);

async function create(body: object) {
  const res = await svc.app.inject({ method: 'POST', url: '/v1/jobs', payload: body });
  return { status: res.statusCode, body: res.json() as { error: string; message: string; id: string } };
}

/** Creates a job over one uploaded file and returns the answer. */
async function submit(name: string, bytes: Uint8Array) {
  const [key] = await uploads([[name, bytes]]);
  return create({ inputs: [key] });
}

/** A zip entry made a Unix symbolic link (mode lrwxrwxrwx in the external attributes). */
function withSymlink(zip: Uint8Array): Uint8Array {
  const v = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const cd = v.getUint32(zip.length - 22 + 16, true);
  v.setUint16(cd + 4, (3 << 8) | 20, true);
  v.setUint32(cd + 38, (0o120777 << 16) >>> 0, true);
  return zip;
}

/** `n` bytes of 4-bit noise: deflates about 2:1 (under KIOSK_MAX_ZIP_RATIO), so only the total limit bites. */
function nibbles(n: number): Uint8Array {
  let s = 7;
  return Uint8Array.from({ length: n }, () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), s >>> 28));
}

describe('bad input → 4xx with a reason, before anything is queued', () => {
  it('decides what a file is by its bytes: a PNG named .tif is a PNG, non-image bytes named .png are refused', async () => {
    expect((await submit('cells.tif', smallPng)).status).toBe(201);
    expect(await submit('cells.png', Buffer.from('GIF89a is not what this is'))).toEqual({
      status: 400,
      body: {
        error: 'not-an-image',
        message:
          'cells.png is not a TIFF or PNG image (a GIF file; it starts with bytes 47 49 46 38 39 61 20 69)',
      },
    });
    expect(await submit('notes.tif', Buffer.from('hello, not an image'))).toEqual({
      status: 400,
      body: {
        error: 'not-an-image',
        message: 'notes.tif is not a TIFF or PNG image (it starts with bytes 68 65 6c 6c 6f 2c 20 6e)',
      },
    });
    expect(await submit('cells.zip', Buffer.from('hello, not a zip'))).toEqual({
      status: 400,
      body: {
        error: 'bad-archive',
        message: 'cells.zip is not a zip archive (it starts with bytes 68 65 6c 6c 6f 2c 20 6e)',
      },
    });
    // A zip named .png is a zip: unpacked (and held to the zip limits).
    const zipNamedPng = await submit('plate.png', zipSync({ 'a.png': smallPng, 'b.png': smallPng }));
    expect(zipNamedPng.status).toBe(201);
  });

  it('refuses an image over KIOSK_MAX_PIXELS or KIOSK_MAX_FRAMES from its header (413)', async () => {
    expect(await submit('big.png', await readFile(join(VAL, `${STEM}.image.png`)))).toEqual({
      status: 413,
      body: {
        error: 'too-many-pixels',
        message: 'big.png: PNG of 256x256x1 = 65536 values is over the limit of 50000',
      },
    });
    expect(await submit('stack.tif', await readFile(join(FIXTURES, 'stack-3pages.tif')))).toEqual({
      status: 413,
      body: {
        error: 'too-many-frames',
        message:
          'stack.tif: TIFF has more than 2 pages (IFDs), the limit; split the stack into smaller files',
      },
    });
  });

  it('refuses a damaged or unsupported image header (400 bad-image) naming the file and the problem', async () => {
    const tiff = encodeLabelsTiff({ data: new Uint32Array(64 * 64).fill(3), width: 64, height: 64 });
    const cut = await submit('cut.tif', tiff.subarray(0, 100)); // inside the IFD
    expect(cut.status).toBe(400);
    expect(cut.body.error).toBe('bad-image');
    expect(cut.body.message).toMatch(/^cut\.tif: TIFF file ends at byte 100 but IFD 0/);
    const jpeg = await submit('jpeg.tif', await readFile(join(FIXTURES, 'jpeg-rgb.tif')));
    expect(jpeg).toEqual({
      status: 400,
      body: { error: 'bad-image', message: 'jpeg.tif: TIFF page 0 uses compression 7 (JPEG)' },
    });
  });

  it('refuses unknown job types, models and versions, naming what exists', async () => {
    const [key] = await uploads([['a.png', smallPng]]);
    expect((await create({ inputs: [key], type: 'tracking' })).body).toEqual({
      error: 'unknown-job-type',
      message: 'unknown job type "tracking"; available: segmentation, whole-cell',
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

  it('refuses a JSON body over KIOSK_MAX_BODY_KB with 413', async () => {
    const res = await svc.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: { inputs: ['uploads/default/x/a.png'], name: 'x'.repeat(20_000) },
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({
      error: 'request-too-large',
      message: 'the request body is over the 16384 byte limit (KIOSK_MAX_BODY_KB)',
    });
  });

  it('refuses unsafe zips: ../, absolute and backslash paths, symlinks, nested zips, duplicates, encryption', async () => {
    const cases: [string, Uint8Array, RegExp][] = [
      ['evil.zip', zipSync({ '../../etc/cron.png': smallPng }), /'\.\.\/\.\.\/etc\/cron\.png' has a '\.\.' segment/],
      ['abs.zip', zipSync({ '/etc/cron.png': smallPng }), /'\/etc\/cron\.png' is an absolute path/],
      ['drive.zip', zipSync({ 'C:/x.png': smallPng }), /'C:\/x\.png' is an absolute path/],
      ['slash.zip', zipSync({ 'a\\..\\x.png': smallPng }), /contains a backslash/],
      ['link.zip', withSymlink(zipSync({ 'cells.png': new TextEncoder().encode('/etc/passwd') })), /'cells\.png' is a symbolic link/],
      ['nested.zip', zipSync({ 'inner.zip': zipSync({ 'a.png': smallPng }) }), /'inner\.zip' is itself a zip archive/],
      ['twice.zip', zipSync({ 'a/b.png': smallPng, 'a/./b.png': smallPng }), /'a\/b\.png' appears twice/],
    ]; // prettier-ignore
    const encrypted = zipSync({ 'a.png': smallPng }, { level: 0 });
    const cd = new DataView(encrypted.buffer).getUint32(encrypted.length - 22 + 16, true);
    encrypted[cd + 8]! |= 1;
    cases.push(['locked.zip', encrypted, /'a\.png' is encrypted/]);
    for (const [name, zip, why] of cases) {
      const r = await submit(name, zip);
      expect(r.status, name).toBe(400);
      expect(r.body.error, name).toBe('bad-archive');
      expect(r.body.message, name).toMatch(new RegExp(`^${name.replace('.', '\\.')}: `));
      expect(r.body.message, name).toMatch(why);
    }
  });

  it('refuses zips over KIOSK_MAX_ZIP_ENTRIES, KIOSK_MAX_ZIP_RATIO or KIOSK_MAX_ZIP_MB, and empty zips', async () => {
    const m = await submit('many.zip', zipSync({ 'a.png': smallPng, 'b.png': smallPng, 'c.png': smallPng, 'd.png': smallPng }));
    expect(m.body).toEqual({ error: 'bad-archive', message: 'many.zip: zip lists 4 entries, more than the limit of 3 (KIOSK_MAX_ZIP_ENTRIES)' });
    const b = await submit('bomb.zip', zipSync({ 'zeros.tif': new Uint8Array(4 << 20) }, { level: 9 }));
    expect(b.body.error).toBe('bad-archive');
    expect(b.body.message).toMatch(/^bomb\.zip: zip entry 'zeros\.tif' expands \d+ to 4194304 bytes \(ratio \d+ > 10\) \(KIOSK_MAX_ZIP_RATIO\)$/);
    const big = await submit('big.zip', zipSync({ 'noise.tif': nibbles(1.5 * 2 ** 20) }, { level: 9 }));
    expect(big.body.error).toBe('bad-archive');
    expect(big.body.message).toMatch(/^big\.zip: zip entry 'noise\.tif' brings the uncompressed total to 1572864 bytes, over the limit of 1048576 \(KIOSK_MAX_ZIP_MB\)$/);
    expect(await submit('empty.zip', zipSync({}))).toEqual({
      status: 400,
      body: { error: 'empty-archive', message: 'empty.zip holds no files' },
    });
  }); // prettier-ignore

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

  it('refuses more than KIOSK_MAX_FILES files in one upload with 413, keeping none of them', async () => {
    const res = await svc.app.inject({
      method: 'POST',
      url: '/v1/uploads',
      ...(await multipart(
        ['f1', 'f2', 'f3', 'f4'].map((n) => ['file', `${n}.png`, smallPng] as [string, string, Uint8Array]),
      )),
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: 'too-many-files' });
    const stored = await svc.services.storage.list('uploads/');
    expect(stored.filter((k) => /\/f[1234]\.png$/.test(k))).toEqual([]);
  });

  it('refuses files over KIOSK_MAX_REQUEST_MB together with 413, keeping none of them', async () => {
    const part = new Uint8Array(0.8 * 2 ** 20);
    const res = await svc.app.inject({
      method: 'POST',
      url: '/v1/uploads',
      ...(await multipart([
        ['file', 'p1.tif', part],
        ['file', 'p2.tif', part],
        ['file', 'p3.tif', part],
      ])),
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({
      error: 'request-too-large',
      message:
        'the files of this upload are larger than the 2 MiB request limit (reached in p3.tif); upload them in several requests',
    });
    const stored = await svc.services.storage.list('uploads/');
    expect(stored.filter((k) => /\/p[123]\.tif$/.test(k))).toEqual([]);
  });
});

describe('bad input only a worker can see → a failed job with a reason', () => {
  it('fails the bad entries of zips by name (pixel data past the end, too many pixels or pages); the good ones and the job accepted first finish', async () => {
    // Its header is fine (the API's check passes); its one strip lies past the end of the file.
    const pastEnd = craftTiff([[[256, 3, [8]], [257, 3, [8]], [258, 3, [8]], [273, 4, [100_000]], [279, 4, [64]]]]);
    // KIOSK_MAX_ZIP_ENTRIES is 3: two zips.
    const [one, two] = await uploads([
      ['plate1.zip', zipSync({ 'good.png': smallPng, 'past-end.tif': pastEnd, 'big.png': await readFile(join(VAL, `${STEM}.image.png`)) })],
      ['plate2.zip', zipSync({ 'stack.tif': await readFile(join(FIXTURES, 'stack-3pages.tif')) })],
    ]); // 'big.png': 65,536 px > KIOSK_MAX_PIXELS; 'stack.tif': 3 pages > KIOSK_MAX_FRAMES
    const a = await create({ inputs: [one] });
    expect(a.status, JSON.stringify(a.body)).toBe(201);
    const b = await create({ inputs: [two] });
    expect(b.status, JSON.stringify(b.body)).toBe(201);
    const pools = startWorkerPools(svc.services);
    try {
      const rec = await svc.wait(a.body.id);
      expect(rec.status).toBe('done');
      expect(rec.reason).toBe('2 of 3 images failed');
      const reasons = Object.fromEntries((rec.failures ?? []).map((f) => [f.name, f.reason]));
      expect(Object.keys(reasons).sort()).toEqual(['big.png', 'past-end.tif']);
      expect(reasons['past-end.tif']).toMatch(/^preprocess: past-end\.tif: TIFF file ends at byte \d+ but strip 0 of TIFF page 0 spans/);
      expect(reasons['big.png']).toBe('preprocess: big.png: PNG of 256x256x1 = 65536 values is over the limit of 50000');
      const stack = await svc.wait(b.body.id);
      expect(stack.status).toBe('failed');
      expect(stack.failures).toEqual([{ name: 'stack.tif', reason: 'preprocess: stack.tif: TIFF has more than 2 pages (IFDs), the limit; split the stack into smaller files' }]);
      expect((await svc.wait(acceptedId)).status).toBe('done');
    } finally {
      await Promise.all(pools.map((p) => p.close(true)));
    }
  }); // prettier-ignore
});

import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { decodeImage } from '../workers/image/decode.js';
import { labelsFromRaw } from '../workers/image/files.js';
import { ZIP_ON_DOWNLOAD_MAX_BYTES, zipsOnDownload } from '../workers/processors/archive.js';
import { TRIVIAL_CARD, TrivialThresholdRunner, trivialStages } from '../workers/processors/trivial-stages.js';
import { LocalFolderStorage } from '../workers/storage/local.js';
import {
  multipart,
  startTestService,
  startWorkerPools,
  type TestService,
} from './service-harness.test-helpers.js';
import { NUCLEI_VAL } from '../test/data.js';

const VAL = NUCLEI_VAL;
const STEMS = [
  'dsb_03398329ced0c23b',
  'dsb_077f026f4ab0f0bc',
  'dsb_0acd2c223d300ea5',
  'dsb_12f89395ad5d2149',
  'dsb_1a75e9f15481d110',
];
const val = (stem: string) => readFile(join(VAL, `${stem}.image.png`));

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.close();
  svc = undefined;
});

async function upload(s: TestService, files: [string, Uint8Array][]): Promise<string[]> {
  const res = await s.app.inject({
    method: 'POST',
    url: '/v1/uploads',
    ...(await multipart(files.map(([n, b]) => ['file', n, b]))),
  });
  expect(res.statusCode, res.body).toBe(201);
  return (res.json() as { uploads: { key: string }[] }).uploads.map((u) => u.key);
}

async function createJob(s: TestService, body: object) {
  return s.app.inject({ method: 'POST', url: '/v1/jobs', payload: body });
}

describe('API v1 with workers (trivial model)', () => {
  it('upload → job → progress → download gives the in-process labels', async () => {
    svc = await startTestService(inject('redisUrl'));
    const bytes = await val(STEMS[0]!);
    const [key] = await upload(svc, [['cells.png', bytes]]);
    const created = await createJob(svc, { inputs: [key] });
    expect(created.statusCode, created.body).toBe(201);
    const job = created.json() as { id: string; status: string; model: string; modelVersion: string };
    expect(job).toMatchObject({ status: 'new', model: 'trivial', modelVersion: '1', inputs: [key] });
    await svc.wait(job.id);
    const got = (await svc.app.inject({ url: `/v1/jobs/${job.id}` })).json() as Record<string, unknown>;
    expect(got).toMatchObject({ status: 'done', progress: 100, kind: 'image', name: 'cells.png' });
    // issue 23 #2: the label TIFF has the project's label-file name (cells.png → cells.labels.tif); only the
    // DeepCell zip below keeps DeepCell's cells_feature_0.tif.
    expect(got.labelsUrl).toMatch(new RegExp(`/v1/jobs/${job.id}/files/cells\\.labels\\.tif$`));
    expect((got.timings as Record<string, number>).predict).toBeGreaterThanOrEqual(0);
    const tif = await svc.app.inject({ url: `/v1/jobs/${job.id}/result?format=tif` });
    expect(tif.statusCode).toBe(200);
    expect(tif.headers['content-type']).toBe('image/tiff');
    expect(tif.headers['content-disposition']).toBe('attachment; filename="cells.labels.tif"');
    const labels = labelsFromRaw(decodeImage(tif.rawPayload, { name: 'x' }), 'x');
    const o = { channels: [0], maxPixels: 2 ** 28 };
    const p = await trivialStages.preprocess(bytes, 'cells.png', TRIVIAL_CARD, o);
    const expected = await trivialStages.postprocess(
      await trivialStages.predict(p, new TrivialThresholdRunner(), TRIVIAL_CARD),
      p.meta,
      TRIVIAL_CARD,
      o,
    );
    expect(Buffer.from(labels.data.buffer).equals(Buffer.from(expected.data.buffer))).toBe(true);
    // the zip (made on download: a local bucket stores the TIFF only) holds that same TIFF, by either route
    for (const url of [`/v1/jobs/${job.id}/result`, `/v1/jobs/${job.id}/files/cells.zip`]) {
      const res = await svc.app.inject({ url });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/zip');
      expect(res.headers['content-disposition']).toBe('attachment; filename="cells.zip"');
      expect(Number(res.headers['content-length'])).toBe(res.rawPayload.byteLength);
      const zip = unzipSync(res.rawPayload);
      expect(Object.keys(zip)).toEqual(['cells_feature_0.tif']);
      expect(Buffer.from(zip['cells_feature_0.tif']!).equals(tif.rawPayload)).toBe(true);
    }
    const list = (await svc.app.inject({ url: '/v1/jobs?limit=5' })).json() as { jobs: { id: string }[] };
    expect(list.jobs.map((j) => j.id)).toEqual([job.id]);
  });

  it('an image zip is made on download from a label TIFF up to 16 MiB; past that, the stored zip is sent', async () => {
    expect(zipsOnDownload({ kind: 'local' }, ZIP_ON_DOWNLOAD_MAX_BYTES)).toBe(true);
    expect(zipsOnDownload({ kind: 'local' }, ZIP_ON_DOWNLOAD_MAX_BYTES + 1)).toBe(false);
    expect(zipsOnDownload({ kind: 'gcs' }, 1)).toBe(false); // a signed output_url needs the object
    expect(zipsOnDownload({ kind: 's3' }, 1)).toBe(false);
    svc = await startTestService(inject('redisUrl'));
    const [key] = await upload(svc, [['cells.png', await val(STEMS[0]!)]]);
    const job = (await createJob(svc, { inputs: [key] })).json() as { id: string };
    const rec = await svc.wait(job.id);
    const storage = svc.services.storage;
    // as if the labels were large: postprocess then stores the zip, and the API sends that one
    await storage.put(rec.labels_key!, new Uint8Array(ZIP_ON_DOWNLOAD_MAX_BYTES + 1));
    await storage.put(rec.output_key!, zipSync({ 'cells_feature_0.tif': new Uint8Array([7]) }));
    const big = await svc.app.inject({ url: `/v1/jobs/${job.id}/result` });
    expect(big.statusCode).toBe(200);
    const entry = unzipSync(big.rawPayload)['cells_feature_0.tif']!;
    expect(entry.byteLength).toBe(1); // the stored zip's one byte, not a zip of the 16 MiB TIFF
    expect(entry[0]).toBe(7);
    // no labels at all (removed from the bucket by hand): 404 with a reason, not a crash
    await storage.deletePrefix(`results/default/${job.id}/`);
    const gone = await svc.app.inject({ url: `/v1/jobs/${job.id}/result` });
    expect(gone.statusCode).toBe(404);
    expect(gone.json()).toMatchObject({ error: 'file-not-found', message: /cells\.zip.*expired/ });
  });

  it('a zip of 5 images gives one zip of 5 label TIFFs; several files make a batch too', async () => {
    svc = await startTestService(inject('redisUrl'));
    const files: Record<string, Uint8Array> = {};
    for (const s of STEMS) files[`plate/${s}.png`] = await val(s);
    const [key] = await upload(svc, [['plate.zip', zipSync(files)]]);
    const job = (await createJob(svc, { inputs: [key] })).json() as {
      id: string;
      kind: string;
      status: string;
    };
    expect(job).toMatchObject({ kind: 'batch', status: 'waiting' });
    const rec = await svc.wait(job.id);
    expect(rec.status).toBe('done');
    const view = (await svc.app.inject({ url: `/v1/jobs/${job.id}` })).json() as {
      children: { status: string }[];
      failures?: unknown;
    };
    expect(view.children).toHaveLength(5);
    expect(view.children.every((c) => c.status === 'done')).toBe(true);
    expect(view.failures).toBeUndefined();
    const zip = unzipSync((await svc.app.inject({ url: `/v1/jobs/${job.id}/result` })).rawPayload);
    expect(Object.keys(zip).sort()).toEqual(STEMS.map((s) => `plate_${s}_feature_0.tif`).sort());
    const two = await upload(svc, [
      ['a.png', await val(STEMS[0]!)],
      ['b.png', await val(STEMS[1]!)],
    ]);
    const multi = (await createJob(svc, { inputs: two, name: 'two' })).json() as {
      id: string;
      kind: string;
      inputs: string[];
    };
    expect(multi.kind).toBe('batch');
    expect(multi.inputs).toEqual(two); // each file's upload, to run them again
    expect((await svc.wait(multi.id)).status).toBe('done');
    const again = await createJob(svc, { inputs: multi.inputs });
    expect(again.statusCode, again.body).toBe(201);
  });

  it('one bad file inside a zip fails by name while the others succeed', async () => {
    svc = await startTestService(inject('redisUrl'));
    const files: Record<string, Uint8Array> = {
      'a.png': await val(STEMS[0]!),
      'b.png': await val(STEMS[1]!),
      'broken.tif': Uint8Array.from([0x49, 0x49, 0x2a, 0, 0xff, 0, 0, 0]),
    };
    const [key] = await upload(svc, [['mixed.zip', zipSync(files)]]);
    const job = (await createJob(svc, { inputs: [key] })).json() as { id: string };
    await svc.wait(job.id);
    const view = (await svc.app.inject({ url: `/v1/jobs/${job.id}` })).json() as {
      status: string;
      reason: string;
      failures: { name: string; reason: string }[];
    };
    expect(view.status).toBe('done');
    expect(view.reason).toBe('1 of 3 images failed');
    expect(view.failures).toHaveLength(1);
    expect(view.failures[0]).toMatchObject({ name: 'broken.tif' });
    expect(view.failures[0]!.reason).toMatch(/broken\.tif/);
    const zip = unzipSync((await svc.app.inject({ url: `/v1/jobs/${job.id}/result` })).rawPayload);
    expect(Object.keys(zip).sort()).toEqual(['a_feature_0.tif', 'b_feature_0.tif']);
  });

  it('POST /v1/jobs/upload uploads and creates the job in one request, with the same labels', async () => {
    svc = await startTestService(inject('redisUrl'));
    const bytes = await val(STEMS[0]!);
    const send = async (files: [string, Uint8Array][], fields: Record<string, string> = {}) =>
      svc!.app.inject({
        method: 'POST',
        url: '/v1/jobs/upload',
        ...(await multipart(
          files.map(([n, b]) => ['file', n, b]),
          fields,
        )),
      });
    const one = await send([['cells.png', bytes]], {
      options: '{"channels":[0]}',
      name: 'ignored for images',
    });
    expect(one.statusCode, one.body).toBe(201);
    const job = one.json() as { id: string; kind: string; options: object; inputUrl: string };
    expect(job).toMatchObject({ kind: 'image', status: 'new', model: 'trivial', options: { channels: [0] } });
    // The same image through upload then create: identical label TIFFs.
    const [key] = await upload(svc, [['cells.png', bytes]]);
    const two = (await createJob(svc, { inputs: [key] })).json() as { id: string };
    for (const id of [job.id, two.id]) expect((await svc.wait(id)).status).toBe('done');
    const tif = async (id: string) =>
      (await svc!.app.inject({ url: `/v1/jobs/${id}/result?format=tif` })).rawPayload;
    expect((await tif(job.id)).equals(await tif(two.id))).toBe(true);
    expect((await fetchUrl(svc, job.inputUrl)).rawPayload.equals(bytes)).toBe(true);
    // A zip and a second file: one batch, named by the field.
    const zip = zipSync({ 'a.png': await val(STEMS[1]!), 'b.png': await val(STEMS[2]!) });
    const batch = await send(
      [
        ['two.zip', zip],
        ['c.png', await val(STEMS[3]!)],
      ],
      { name: 'my batch' },
    );
    expect(batch.statusCode, batch.body).toBe(201);
    expect(batch.json()).toMatchObject({ kind: 'batch', name: 'my batch' });
    const rec = await svc.wait((batch.json() as { id: string }).id);
    expect(rec.status).toBe('done');
    expect(rec.children).toHaveLength(3);
  });

  it('POST /v1/jobs/upload refuses bad fields and bad files with a reason, keeping none of their files', async () => {
    svc = await startTestService(inject('redisUrl'), { pools: false });
    const png = await val(STEMS[0]!);
    const uploads = join(
      (svc.services.storage as LocalFolderStorage).pathOf('uploads'),
      svc.services.config.lab,
    );
    const cases: [Record<string, string>, [string, Uint8Array][], number, string, RegExp][] = [
      [
        { colour: 'red' },
        [['a.png', png]],
        400,
        'bad-request',
        /unknown field "colour"; fields: type, model/,
      ],
      [{ options: '{micronsPerPixel' }, [['a.png', png]], 400, 'bad-request', /'options' must be JSON text/],
      [
        { options: '{"micronsPerPixel":-1}' },
        [['a.png', png]],
        400,
        'bad-request',
        /bad job fields: \/options\/micronsPerPixel/,
      ],
      [{ modelVersion: 'latest' }, [['a.png', png]], 400, 'bad-request', /\/modelVersion/],
      [{ model: 'nope' }, [['a.png', png]], 400, 'unknown-model', /nope/],
      [{ type: 'tracking-3d' }, [['a.png', png]], 400, 'unknown-job-type', /tracking-3d/],
      [
        {},
        [['a.png', Buffer.from('not an image at all')]],
        400,
        'not-an-image',
        /^a\.png is not a TIFF or PNG image/,
      ],
      [{ model: 'trivial' }, [], 400, 'bad-request', /the request holds no files/],
    ];
    for (const [fields, files, status, error, message] of cases) {
      const res = await svc.app.inject({
        method: 'POST',
        url: '/v1/jobs/upload',
        ...(await multipart(
          files.map(([n, b]) => ['file', n, b]),
          fields,
        )),
      });
      expect(res.statusCode, res.body).toBe(status);
      expect(res.json(), JSON.stringify(fields)).toMatchObject({ error });
      expect((res.json() as { message: string }).message).toMatch(message);
      const left = existsSync(uploads) ? readdirSync(uploads, { recursive: true, withFileTypes: true }) : [];
      expect(
        left.filter((e) => e.isFile()).map((e) => e.name),
        JSON.stringify(fields),
      ).toEqual([]);
    }
    const json = await svc.app.inject({ method: 'POST', url: '/v1/jobs/upload', payload: { inputs: ['x'] } });
    expect(json.statusCode).toBe(415);
    expect(json.json()).toMatchObject({ error: 'not-multipart' });
  });

  it('cancels a job, and answers 404/409 for unknown and unfinished jobs', async () => {
    svc = await startTestService(inject('redisUrl'), { pools: false });
    const [key] = await upload(svc, [['a.png', await val(STEMS[0]!)]]);
    const job = (await createJob(svc, { inputs: [key] })).json() as { id: string };
    const early = await svc.app.inject({ url: `/v1/jobs/${job.id}/result` });
    expect(early.statusCode).toBe(409);
    expect(early.json()).toMatchObject({
      error: 'not-finished',
      message: `job ${job.id} is new; it has no result`,
    });
    const cancelled = await svc.app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel` });
    expect(cancelled.json()).toMatchObject({ status: 'failed', reason: 'cancelled by the user' });
    const missing = await svc.app.inject({ url: '/v1/jobs/00000000-0000-0000-0000-000000000000' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: 'job-not-found' });
    expect((await svc.app.inject({ url: `/v1/jobs/${job.id}/files/other.zip` })).statusCode).toBe(404);
  });
});

/** Where `key` lies in the test service's bucket folder. */
const bucketPath = (s: TestService, key: string) => (s.services.storage as LocalFolderStorage).pathOf(key);

async function getView(s: TestService, id: string) {
  return (await s.app.inject({ url: `/v1/jobs/${id}` })).json() as Record<string, unknown> & {
    inputUrl?: string;
    children?: { id: string }[];
  };
}

/** GETs an absolute URL of the API through app.inject. */
const fetchUrl = (s: TestService, url: string) => s.app.inject({ url: new URL(url).pathname });

describe('API v1: input URLs, delete, expiry of the local bucket', () => {
  it("job views carry the uploaded input's URL, for image jobs, zip batches and their children", async () => {
    svc = await startTestService(inject('redisUrl'));
    const bytes = await val(STEMS[0]!);
    const [key] = await upload(svc, [['cells.png', bytes]]);
    const job = (await createJob(svc, { inputs: [key] })).json() as { id: string; inputUrl: string };
    expect(job.inputUrl).toMatch(new RegExp(`/v1/${key!.replace(/\./g, '\\.')}$`));
    const input = await fetchUrl(svc, job.inputUrl);
    expect(input.statusCode).toBe(200);
    expect(input.headers['content-type']).toBe('image/png');
    expect(Buffer.from(input.rawPayload).equals(bytes)).toBe(true);
    await svc.wait(job.id);
    const list = (await svc.app.inject({ url: '/v1/jobs' })).json() as { jobs: { inputUrl?: string }[] };
    expect(list.jobs[0]!.inputUrl).toBe(job.inputUrl);

    const zip = zipSync({ 'plate/a b.png': bytes, 'plate/c.png': await val(STEMS[1]!) });
    const [zipKey] = await upload(svc, [['plate.zip', zip]]);
    const batch = (await createJob(svc, { inputs: [zipKey] })).json() as { id: string };
    await svc.wait(batch.id);
    const view = await getView(svc, batch.id);
    expect(Buffer.from((await fetchUrl(svc, view.inputUrl!)).rawPayload).equals(zip)).toBe(true);
    const child = await getView(svc, view.children![0]!.id);
    expect(child.inputUrl).toMatch(/\/plate\.zip\.d\/plate\/a%20b\.png$/);
    expect(Buffer.from((await fetchUrl(svc, child.inputUrl!)).rawPayload).equals(bytes)).toBe(true);
    // several files: no single input for the batch, one per child
    const two = await upload(svc, [
      ['x.png', bytes],
      ['y.png', bytes],
    ]);
    const multi = (await createJob(svc, { inputs: two })).json() as { id: string; inputUrl?: string };
    expect(multi.inputUrl).toBeUndefined();
  });

  it('deletes a finished job with its results, upload and queue entries; 409 while it runs, 404 unknown', async () => {
    svc = await startTestService(inject('redisUrl'), { pools: false });
    const bytes = await val(STEMS[0]!);
    const [key] = await upload(svc, [['a.png', bytes]]);
    const first = (await createJob(svc, { inputs: [key] })).json() as { id: string };
    const second = (await createJob(svc, { inputs: [key] })).json() as { id: string }; // same upload
    const running = await svc.app.inject({ method: 'DELETE', url: `/v1/jobs/${first.id}` });
    expect(running.statusCode).toBe(409);
    expect(running.json()).toMatchObject({
      error: 'not-finished',
      message: `job ${first.id} is new; cancel it first (POST /v1/jobs/${first.id}/cancel), then delete it`,
    });
    expect(
      (await svc.app.inject({ method: 'DELETE', url: '/v1/jobs/00000000-0000-0000-0000-000000000000' }))
        .statusCode,
    ).toBe(404);
    await svc.app.inject({ method: 'POST', url: `/v1/jobs/${second.id}/cancel` });
    // run the first job to the end
    const s = svc.services;
    const pools = startWorkerPools(s);
    try {
      const done = await svc.wait(first.id);
      expect(done.status).toBe('done');
    } finally {
      await Promise.all(pools.map((p) => p.close()));
    }
    const rec = (await s.records.get(first.id))!;
    expect(existsSync(bucketPath(svc, rec.labels_key!))).toBe(true);
    expect(await s.queues.postprocess.getJob(`${first.id}-post`)).toBeDefined();

    const del = await svc.app.inject({ method: 'DELETE', url: `/v1/jobs/${first.id}` });
    expect(del.statusCode).toBe(204);
    expect((await svc.app.inject({ url: `/v1/jobs/${first.id}` })).statusCode).toBe(404);
    expect(existsSync(bucketPath(svc, `results/default/${first.id}`))).toBe(false);
    expect(await s.queues.postprocess.getJob(`${first.id}-post`)).toBeUndefined();
    expect(await s.queues.preprocess.getJob(`${first.id}-pre`)).toBeUndefined();
    const list = (await svc.app.inject({ url: '/v1/jobs' })).json() as { jobs: { id: string }[] };
    expect(list.jobs.map((j) => j.id)).toEqual([second.id]);
    // the upload stays while the second (cancelled, so failed) job uses it, and goes with it
    expect(existsSync(bucketPath(svc, key!))).toBe(true);
    expect((await svc.app.inject({ method: 'DELETE', url: `/v1/jobs/${second.id}` })).statusCode).toBe(204);
    expect(existsSync(bucketPath(svc, key!))).toBe(false);
    expect((await svc.app.inject({ method: 'DELETE', url: `/v1/jobs/${second.id}` })).statusCode).toBe(404);
  });

  it('deletes a batch with its children: records, results and the uploaded zip', async () => {
    svc = await startTestService(inject('redisUrl'));
    const files = { 'a.png': await val(STEMS[0]!), 'b.png': await val(STEMS[1]!) };
    const [zipKey] = await upload(svc, [['plate.zip', zipSync(files)]]);
    const batch = (await createJob(svc, { inputs: [zipKey] })).json() as { id: string };
    const rec = await svc.wait(batch.id);
    const kids = rec.children!;
    expect(existsSync(bucketPath(svc, `results/default/${kids[0]}`))).toBe(true);
    expect((await svc.app.inject({ method: 'DELETE', url: `/v1/jobs/${batch.id}` })).statusCode).toBe(204);
    for (const id of [batch.id, ...kids]) {
      expect(await svc.services.records.get(id)).toBeUndefined();
      expect(existsSync(bucketPath(svc, `results/default/${id}`))).toBe(false);
    }
    expect(existsSync(bucketPath(svc, zipKey!.split('/').slice(0, 3).join('/')))).toBe(false);
    expect(await svc.services.queues.postprocess.getJob(`${batch.id}-pack`)).toBeUndefined();
  });

  it('expires a finished job from a local bucket folder once its record expires (short TTL)', async () => {
    svc = await startTestService(inject('redisUrl'), {
      env: { KIOSK_JOB_TTL_S: '1', KIOSK_SWEEP_INTERVAL_S: '1' },
    });
    const [key] = await upload(svc, [['a.png', await val(STEMS[0]!)]]);
    const job = (await createJob(svc, { inputs: [key] })).json() as { id: string };
    const rec = await svc.wait(job.id);
    expect(rec.status).toBe('done');
    const files = [rec.labels_key!, key!].map((k) => bucketPath(svc!, k));
    expect(files.every((f) => existsSync(f))).toBe(true);
    expect(existsSync(bucketPath(svc, rec.output_key!))).toBe(false); // the zip is made on download
    await expect.poll(() => svc!.services.records.get(job.id), { timeout: 10_000 }).toBeUndefined();
    await expect
      .poll(() => files.filter((f) => existsSync(f)), { timeout: 10_000, interval: 200 })
      .toEqual([]);
    expect(existsSync(bucketPath(svc, `results/default/${job.id}`))).toBe(false);
  });

  it('the sweep keeps what live jobs use and uploads younger than the TTL', async () => {
    svc = await startTestService(inject('redisUrl'), { pools: false, env: { KIOSK_SWEEP_INTERVAL_S: '0' } });
    const { ExpiredObjectSweeper } = await import('../workers/storage/sweep.js');
    const [used, unused] = await upload(svc, [
      ['a.png', await val(STEMS[0]!)],
      ['b.png', await val(STEMS[1]!)],
    ]);
    const job = (await createJob(svc, { inputs: [used] })).json() as { id: string };
    const storage = svc.services.storage as LocalFolderStorage;
    await storage.put(`results/default/${job.id}/x.tif`, new Uint8Array(1)); // as if it had run
    await storage.put('results/default/gone-job/x.tif', new Uint8Array(1)); // a job whose record expired
    await storage.put('scratch/gone-job/p1.tiles.ktp', new Uint8Array(1));
    const sweeper = new ExpiredObjectSweeper({
      storage,
      records: svc.services.records,
      unusedUploadTtlS: 3600,
      log: () => undefined,
    });
    expect(await sweeper.sweep()).toEqual({ results: 1, scratch: 1, uploads: 0 });
    expect(existsSync(bucketPath(svc, `results/default/${job.id}/x.tif`))).toBe(true);
    expect(existsSync(bucketPath(svc, used!))).toBe(true);
    expect(existsSync(bucketPath(svc, unused!))).toBe(true); // never used, but young
    // an hour later: the never-used upload is past the TTL; the job (not finished: no TTL) keeps its own
    expect(await sweeper.sweep(Date.now() + 3601_000)).toEqual({ results: 0, scratch: 0, uploads: 1 });
    expect(existsSync(bucketPath(svc, unused!))).toBe(false);
    expect(existsSync(bucketPath(svc, used!))).toBe(true);
  });
});

describe('API v1 catalog, docs, metrics, health', () => {
  it('serves models, job types, health, OpenAPI docs, metrics with queue depth, and a home page', async () => {
    svc = await startTestService(inject('redisUrl'), { pools: false });
    expect((await svc.app.inject({ url: '/v1/models' })).json()).toMatchObject({
      models: [{ name: 'trivial', version: '1', source: 'custom' }],
    });
    expect((await svc.app.inject({ url: '/v1/job-types/' })).json()).toMatchObject({
      jobTypes: [
        { name: 'segmentation', defaultModel: 'trivial' },
        { name: 'whole-cell', defaultModel: 'trivial', aliases: ['mesmer'] },
      ],
    });
    expect((await svc.app.inject({ url: '/v1/health' })).json()).toEqual({
      status: 'ok',
      redis: 'ok',
      bucket: 'ok (local)',
    });
    const spec = (await svc.app.inject({ url: '/docs/json' })).json() as { paths: Record<string, unknown> };
    for (const p of [
      '/v1/uploads',
      '/v1/jobs',
      '/v1/jobs/{id}',
      '/v1/jobs/{id}/cancel',
      '/v1/jobs/{id}/result',
      '/v1/jobs/{id}/events',
      '/api/predict',
      '/api/redis',
      '/metrics',
    ]) {
      expect(spec.paths, p).toHaveProperty([p]);
    }
    expect((await svc.app.inject({ url: '/docs' })).statusCode).toBeLessThan(400);
    const [key] = await upload(svc, [['a.png', await val(STEMS[0]!)]]);
    await createJob(svc, { inputs: [key] });
    const metrics = (await svc.app.inject({ url: '/metrics' })).body;
    // BullMQ counts a job with a priority (fair scheduling, workers/queues/fair.ts) as `prioritized`
    expect(metrics).toMatch(/kiosk_queue_jobs\{queue="preprocess",state="prioritized"\} 1/);
    expect(metrics).toMatch(/kiosk_http_requests_total\{method="POST",route="\/v1\/jobs",status="201"\} 1/);
    const home = await svc.app.inject({ url: '/' });
    expect(home.statusCode).toBe(200);
    expect(home.body).toMatch(/href="\/docs"|<html/i);
  });
});

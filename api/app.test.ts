import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { decodeImage } from '../workers/image/decode.js';
import { labelsFromRaw } from '../workers/image/files.js';
import { TRIVIAL_CARD, TrivialThresholdRunner, trivialStages } from '../workers/processors/trivial-stages.js';
import { multipart, startTestService, type TestService } from './service-harness.test-helpers.js';
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
    expect(job).toMatchObject({ status: 'new', model: 'trivial', modelVersion: '1' });
    await svc.wait(job.id);
    const got = (await svc.app.inject({ url: `/v1/jobs/${job.id}` })).json() as Record<string, unknown>;
    expect(got).toMatchObject({ status: 'done', progress: 100, kind: 'image', name: 'cells.png' });
    expect(got.labelsUrl).toMatch(new RegExp(`/v1/jobs/${job.id}/files/cells_feature_0\\.tif$`));
    expect((got.timings as Record<string, number>).predict).toBeGreaterThanOrEqual(0);
    const tif = await svc.app.inject({ url: `/v1/jobs/${job.id}/result?format=tif` });
    expect(tif.statusCode).toBe(200);
    expect(tif.headers['content-type']).toBe('image/tiff');
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
    const zip = unzipSync((await svc.app.inject({ url: `/v1/jobs/${job.id}/result` })).rawPayload);
    expect(Object.keys(zip)).toEqual(['cells_feature_0.tif']);
    const list = (await svc.app.inject({ url: '/v1/jobs?limit=5' })).json() as { jobs: { id: string }[] };
    expect(list.jobs.map((j) => j.id)).toEqual([job.id]);
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
    const multi = (await createJob(svc, { inputs: two, name: 'two' })).json() as { id: string; kind: string };
    expect(multi.kind).toBe('batch');
    expect((await svc.wait(multi.id)).status).toBe('done');
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

describe('API v1 catalog, docs, metrics, health', () => {
  it('serves models, job types, health, OpenAPI docs, metrics with queue depth, and a home page', async () => {
    svc = await startTestService(inject('redisUrl'), { pools: false });
    expect((await svc.app.inject({ url: '/v1/models' })).json()).toMatchObject({
      models: [{ name: 'trivial', version: '1', source: 'custom' }],
    });
    expect((await svc.app.inject({ url: '/v1/job-types/' })).json()).toMatchObject({
      jobTypes: [{ name: 'segmentation', defaultModel: 'trivial' }],
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
    expect(metrics).toMatch(/kiosk_queue_jobs\{queue="preprocess",state="waiting"\} 1/);
    expect(metrics).toMatch(/kiosk_http_requests_total\{method="POST",route="\/v1\/jobs",status="201"\} 1/);
    const home = await svc.app.inject({ url: '/' });
    expect(home.statusCode).toBe(200);
    expect(home.body).toMatch(/href="\/docs"|<html/i);
  });
});

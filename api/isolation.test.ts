/**
 * Lab isolation over every route (v1 and DeepCell-compatible), with KIOSK_AUTH=tokens, a real Redis, a
 * folder bucket, real workers (trivial model) and a listening server: lab A cannot read, list, cancel,
 * delete, download, stream or use lab B's things — another lab's ids answer as unknown ones do (404) — and
 * each lab can do all of it with its own. The last test checks that every route of the OpenAPI spec is
 * covered here (or public), so a new route cannot skip lab scoping unnoticed.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { foregroundPackage05 } from '../workers/bioimageio/testing/third-party.js';
import { packZip } from '../workers/image/zip.js';
import { TRIVIAL_CARD } from '../workers/processors/trivial-stages.js';
import { NUCLEI_TRAIN, NUCLEI_VAL } from '../test/data.js';
import {
  multipart,
  startTestService,
  startWorkerPools,
  type TestService,
} from './service-harness.test-helpers.js';

const STEM = 'dsb_03398329ced0c23b';
const TRAIN_STEM = 'dsb_00071198d059ba7f';

type Headers = Record<string, string>;
interface Lab {
  readonly name: string;
  readonly token: string;
  readonly h: Headers;
  /** An upload key (one PNG). */
  upload: string;
  /** A finished image job, a finished batch, a job cancelled while new, a training (waiting). */
  image: { id: string; labelsUrl: string; resultUrl: string };
  batch: string;
  pending: string;
  training: string;
  /** Upload keys of one training pair (NAME.image.png + NAME.labels.png). */
  trainKeys: string[];
}

let svc: TestService;
let app: FastifyInstance;
const labs: Record<'a' | 'b', Lab> = {} as Record<'a' | 'b', Lab>;
/** Routes ("METHOD /path/{param}" as in the OpenAPI spec) the tests below exercise for isolation. */
const covered = new Set<string>();

const req = async (
  lab: Lab | undefined,
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  route: string,
  body?: object,
) => {
  covered.add(`${method} ${route}`);
  return app.inject({ method, url, headers: lab?.h ?? {}, ...(body ? { payload: body } : {}) });
};

/** POSTs files (as multipart field `field`) and text fields to `url` with the lab's token. */
async function postMultipart(
  lab: Lab,
  url: string,
  files: [string, Uint8Array][],
  fields: Record<string, string> = {},
  field = 'file',
) {
  covered.add(`POST ${url}`);
  const body = await multipart(
    files.map(([n, b]) => [field, n, b]),
    fields,
  );
  return app.inject({ method: 'POST', url, payload: body.payload, headers: { ...lab.h, ...body.headers } });
}

async function uploadFiles(lab: Lab, files: [string, Uint8Array][]): Promise<string[]> {
  const res = await postMultipart(lab, '/v1/uploads', files);
  expect(res.statusCode, res.body).toBe(201);
  const keys = (res.json() as { uploads: { key: string }[] }).uploads.map((u) => u.key);
  for (const k of keys) expect(k.startsWith(`uploads/${lab.name}/`)).toBe(true);
  return keys;
}

async function createJob(lab: Lab, body: object): Promise<Record<string, unknown> & { id: string }> {
  const res = await req(lab, 'POST', '/v1/jobs', '/v1/jobs', body);
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

beforeAll(async () => {
  svc = await startTestService(inject('redisUrl'), {
    env: { KIOSK_AUTH: 'tokens' },
    listen: true,
    pools: false,
  });
  app = svc.app;
  for (const name of ['a', 'b'] as const) {
    const { token } = await svc.services.tokens.create({ lab: `lab-${name}` });
    labs[name] = {
      name: `lab-${name}`,
      token,
      h: { authorization: `Bearer ${token}` },
      upload: '',
      image: { id: '', labelsUrl: '', resultUrl: '' },
      batch: '',
      pending: '',
      training: '',
      trainKeys: [],
    };
  }
  // A model trained by lab B (what the trainer writes: card.json with its lab) and one shared model.
  const card = (name: string, lab?: string) =>
    Buffer.from(JSON.stringify({ ...TRIVIAL_CARD, name, version: 1, ...(lab ? { lab } : {}) }));
  await svc.services.storage.put('models/bmodel/1/card.json', card('bmodel', 'lab-b'));
  await svc.services.storage.put('models/shared/1/card.json', card('shared'));
  const png = await readFile(join(NUCLEI_VAL, `${STEM}.image.png`));
  for (const lab of Object.values(labs)) {
    [lab.upload] = await uploadFiles(lab, [['cells.png', png]]);
    lab.pending = (await createJob(lab, { inputs: [lab.upload] })).id;
    const data = await multipart(
      [
        ['data', 'n.image.png', await readFile(join(NUCLEI_TRAIN, `${TRAIN_STEM}.image.png`))],
        ['data', 'n.labels.png', await readFile(join(NUCLEI_TRAIN, `${TRAIN_STEM}.labels.png`))],
      ],
      { fromScratch: 'true', epochs: '1', stepsPerEpoch: '1' },
    );
    const training = await app.inject({
      method: 'POST',
      url: '/v1/trainings/upload',
      payload: data.payload,
      headers: { ...lab.h, ...data.headers },
    });
    expect(training.statusCode, training.body).toBe(201);
    lab.training = (training.json() as { id: string }).id;
    lab.trainKeys = await uploadFiles(lab, [
      ['n.image.png', await readFile(join(NUCLEI_TRAIN, `${TRAIN_STEM}.image.png`))],
      ['n.labels.png', await readFile(join(NUCLEI_TRAIN, `${TRAIN_STEM}.labels.png`))],
    ]);
  }
}, 120_000);

afterAll(async () => {
  await svc?.close();
});

describe('lab isolation (two labs, KIOSK_AUTH=tokens)', () => {
  it("cancel: another lab's job is 404 and keeps running; its own is cancelled", async () => {
    const { a, b } = labs;
    const other = await req(a, 'POST', `/v1/jobs/${b.pending}/cancel`, '/v1/jobs/{id}/cancel');
    expect(other.statusCode).toBe(404);
    expect(other.json()).toEqual({
      error: 'job-not-found',
      message: `no job ${b.pending} (it may have expired)`,
    });
    expect((await svc.services.records.get(b.pending))!.status).toBe('new');
    for (const lab of [a, b]) {
      const own = await req(lab, 'POST', `/v1/jobs/${lab.pending}/cancel`, '/v1/jobs/{id}/cancel');
      expect(own.json()).toMatchObject({ status: 'failed', reason: 'cancelled by the user' });
    }
  });

  it("trainings: get, list, cancel and events of another lab's are 404 / absent; its own work", async () => {
    const { a, b } = labs;
    for (const [method, path, route] of [
      ['GET', `/v1/trainings/${b.training}`, '/v1/trainings/{id}'],
      ['POST', `/v1/trainings/${b.training}/cancel`, '/v1/trainings/{id}/cancel'],
      ['GET', `/v1/trainings/${b.training}/events`, '/v1/trainings/{id}/events'],
    ] as const) {
      const res = await req(a, method, path, route);
      expect(res.statusCode, `${method} ${path}`).toBe(404);
      expect(res.json()).toMatchObject({ error: 'job-not-found' });
    }
    expect((await req(b, 'GET', `/v1/trainings/${b.training}`, '/v1/trainings/{id}')).json()).toMatchObject({
      status: 'waiting',
    });
    const listA = (await req(a, 'GET', '/v1/trainings', '/v1/trainings')).json() as {
      trainings: { id: string }[];
    };
    expect(listA.trainings.map((t) => t.id)).toEqual([a.training]);
    // training on another lab's upload keys, or from its model, is refused as for unknown ones
    const onB = await req(a, 'POST', '/v1/trainings', '/v1/trainings', {
      data: b.trainKeys,
      fromScratch: true,
    });
    expect(onB.json()).toMatchObject({ error: 'upload-not-found' });
    const fromB = await req(a, 'POST', '/v1/trainings', '/v1/trainings', {
      data: a.trainKeys,
      baseModel: 'bmodel',
    });
    expect(fromB.json()).toMatchObject({ error: 'unknown-model' });
    covered.add('POST /v1/trainings/upload');
    const own = await req(b, 'POST', `/v1/trainings/${b.training}/cancel`, '/v1/trainings/{id}/cancel');
    expect(own.json()).toMatchObject({ status: 'failed', reason: 'cancelled by the user' });
  });

  it("models: a lab's trained model is listed and usable only by that lab; shared ones by both", async () => {
    const { a, b } = labs;
    const names = async (lab: Lab) =>
      (
        (await req(lab, 'GET', '/v1/models', '/v1/models')).json() as { models: { name: string }[] }
      ).models.map((m) => m.name);
    expect(await names(a)).toEqual(['shared', 'trivial']);
    expect(await names(b)).toEqual(['bmodel', 'shared', 'trivial']);
    const compat = async (lab: Lab) =>
      (await req(lab, 'GET', '/api/models', '/api/models')).json() as unknown;
    expect(await compat(a)).toEqual({ models: { shared: ['1'], trivial: ['1'] } });
    expect(await compat(b)).toEqual({ models: { bmodel: ['1'], shared: ['1'], trivial: ['1'] } });
    // lab A naming bmodel gets what a model that does not exist gets
    const useB = await req(a, 'POST', '/v1/jobs', '/v1/jobs', { inputs: [a.upload], model: 'bmodel' });
    const useNone = await req(a, 'POST', '/v1/jobs', '/v1/jobs', { inputs: [a.upload], model: 'nomodel' });
    expect(useB.statusCode).toBe(400);
    expect(useB.json().message).toBe(useNone.json().message.replace('nomodel', 'bmodel'));
    expect(useB.json().message).toBe('unknown model "bmodel"; available: shared, trivial');
    const predict = await req(a, 'POST', '/api/predict', '/api/predict', {
      jobType: 'segmentation',
      imageName: 'cells.png',
      uploadedName: a.upload,
      modelName: 'bmodel',
    });
    expect(predict.statusCode).toBe(400);
    // lab B may use it (the job is accepted; this test does not run it)
    const own = await createJob(b, { inputs: [b.upload], model: 'bmodel' });
    await req(b, 'POST', `/v1/jobs/${own.id}/cancel`, '/v1/jobs/{id}/cancel');
    // job types are the same for every lab
    const types = await Promise.all([a, b].map((l) => req(l, 'GET', '/api/jobtypes', '/api/jobtypes')));
    expect(types[0]!.json()).toEqual(types[1]!.json());
    const v1types = await Promise.all([a, b].map((l) => req(l, 'GET', '/v1/job-types', '/v1/job-types')));
    expect(v1types[0]!.json()).toEqual(v1types[1]!.json());
  });

  it('model import: a bioimage.io package one lab imports is listed and usable only by that lab', async () => {
    const { a, b } = labs;
    // A CPU worker imports (the API only stages the package): the cpu pool takes the models queue.
    const pools = startWorkerPools(svc.services);
    try {
      await modelImports(a, b);
    } finally {
      await Promise.all(pools.map((p) => p.close(true)));
    }
  });

  async function modelImports(a: Lab, b: Lab) {
    const pkg = packZip([...foregroundPackage05().files].map(([name, data]) => ({ name, data })));
    const imported = await postMultipart(
      a,
      '/v1/models/import',
      [['model.zip', pkg]],
      { name: 'aimport' },
      'package',
    );
    expect(imported.statusCode, imported.body).toBe(201);
    const names = async (lab: Lab) =>
      (
        (await req(lab, 'GET', '/v1/models', '/v1/models')).json() as { models: { name: string }[] }
      ).models.map((m) => m.name);
    expect(await names(a)).toContain('aimport');
    expect(await names(b)).not.toContain('aimport');
    const useA = await req(b, 'POST', '/v1/jobs', '/v1/jobs', { inputs: [b.upload], model: 'aimport' });
    expect(useA.statusCode).toBe(400);
    expect(useA.json().message).toMatch(/^unknown model "aimport"/);
    // the same name in lab B is B's own model, not a clash with A's (versions share the bucket's namespace)
    const again = await postMultipart(
      b,
      '/v1/models/import',
      [['model.zip', pkg]],
      { name: 'aimport' },
      'package',
    );
    expect(again.statusCode, again.body).toBe(201);
    const bVersions = (
      (await req(b, 'GET', '/v1/models', '/v1/models')).json() as {
        models: { name: string; version: string }[];
      }
    ).models.filter((m) => m.name === 'aimport');
    expect(bVersions.map((m) => m.version)).toEqual([again.json().version]); // only its own
    // a name another lab's trained model holds is not 'taken' for a lab that cannot see it
    const bmodel = await postMultipart(
      a,
      '/v1/models/import',
      [['model.zip', pkg]],
      { name: 'bmodel' },
      'package',
    );
    expect(bmodel.statusCode, bmodel.body).toBe(201);
    // an import's status URL (after a 202) answers its own lab only
    const later = await postMultipart(a, '/v1/models/import?wait=0', [['model.zip', pkg]], {}, 'package');
    expect(later.statusCode, later.body).toBe(202);
    const { id } = later.json() as { id: string };
    const foreign = await req(b, 'GET', `/v1/models/imports/${id}`, '/v1/models/imports/{id}');
    expect(foreign.statusCode).toBe(404);
    const own = await req(a, 'GET', `/v1/models/imports/${id}`, '/v1/models/imports/{id}');
    expect(own.statusCode, own.body).toBe(200);
    expect(own.json()).toMatchObject({ id });
  }

  it("events: /v1/events streams only the caller's lab's jobs; another lab's job stream is 404", async () => {
    const { a, b } = labs;
    covered.add('GET /v1/events');
    const stream = (lab: Lab, until: (ev: Record<string, unknown>) => boolean) =>
      readEvents(`${svc.url}/v1/events?token=${lab.token}`, until);
    const pools = startWorkerPools(svc.services);
    try {
      let bDone = '';
      let aJob = '';
      const streamA = stream(a, (ev) => ev.id === aJob && ev.status === 'done');
      const streamB = stream(b, (ev) => ev.id === bDone && ev.status === 'done');
      await new Promise((r) => setTimeout(r, 200)); // both connected before the jobs start
      // B's batch (2 images) runs to the end before A's job exists: a leak would reach A's stream first
      const [zipKey] = await uploadFiles(b, [['plate.zip', await plateZip()]]);
      const batch = await createJob(b, { inputs: [zipKey] });
      bDone = batch.id;
      b.batch = batch.id;
      await svc.wait(batch.id);
      aJob = (await createJob(a, { inputs: [a.upload] })).id;
      await svc.wait(aJob);
      const seenA = new Set((await streamA).map((e) => e.id as string));
      const seenB = new Set((await streamB).map((e) => e.id as string));
      const bIds = [batch.id, ...((await svc.services.records.get(batch.id))!.children ?? [])];
      expect(seenA.has(aJob)).toBe(true);
      for (const id of bIds) {
        expect(seenA.has(id), `lab A saw lab B's job ${id}`).toBe(false);
        expect(seenB.has(id)).toBe(true);
      }
      expect(seenB.has(aJob)).toBe(false);
      // per-job streams (EventSource: ?token=)
      covered.add('GET /v1/jobs/{id}/events');
      const foreign = await fetch(`${svc.url}/v1/jobs/${batch.id}/events?token=${a.token}`);
      expect(foreign.status).toBe(404);
      const own = await readEvents(`${svc.url}/v1/jobs/${batch.id}/events?token=${b.token}`, () => true);
      expect(own[0]).toMatchObject({ id: batch.id, status: 'done' });
      // finished image jobs for the download tests
      for (const lab of [a, b]) {
        const done = await createJob(lab, { inputs: [lab.upload] });
        await svc.wait(done.id);
        const view = (await req(lab, 'GET', `/v1/jobs/${done.id}`, '/v1/jobs/{id}')).json() as Lab['image'];
        // app.inject's links name its host (localhost:80): point them at the listening server
        const here = (u: string) => `${svc.url}${new URL(u).pathname}${new URL(u).search}`;
        lab.image = { id: done.id, labelsUrl: here(view.labelsUrl), resultUrl: here(view.resultUrl) };
      }
    } finally {
      await Promise.all(pools.map((p) => p.close(true)));
    }
  });

  it("reading and listing: another lab's job is 404 and not listed; its upload is 404", async () => {
    const { a, b } = labs;
    for (const id of [b.image.id, b.batch, b.pending]) {
      const res = await req(a, 'GET', `/v1/jobs/${id}`, '/v1/jobs/{id}');
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ error: 'job-not-found', message: `no job ${id} (it may have expired)` });
    }
    const unknown = randomUUID();
    expect((await req(a, 'GET', `/v1/jobs/${unknown}`, '/v1/jobs/{id}')).json()).toEqual({
      error: 'job-not-found',
      message: `no job ${unknown} (it may have expired)`,
    });
    const ids = async (lab: Lab) =>
      (
        (await req(lab, 'GET', '/v1/jobs?limit=100', '/v1/jobs')).json() as { jobs: { id: string }[] }
      ).jobs.map((j) => j.id);
    const [listA, listB] = [await ids(a), await ids(b)];
    expect(listA).toContain(a.image.id);
    expect(listB).toContain(b.image.id);
    expect(listB).toContain(b.batch);
    expect(listA.some((id) => listB.includes(id))).toBe(false);
    const upB = `/v1/${b.upload}`;
    expect((await req(a, 'GET', upB, '/v1/uploads/{*}')).json()).toMatchObject({ error: 'file-not-found' });
    expect((await req(b, 'GET', upB, '/v1/uploads/{*}')).statusCode).toBe(200);
    const traversal = `/v1/uploads/${a.name}/../${b.upload.slice('uploads/'.length)}`;
    expect((await app.inject({ url: traversal, headers: a.h })).statusCode).toBe(404);
    // jobs over another lab's upload key are refused whether or not the key exists
    const onB = await req(a, 'POST', '/v1/jobs', '/v1/jobs', { inputs: [b.upload] });
    const onNone = await req(a, 'POST', '/v1/jobs', '/v1/jobs', {
      inputs: [`uploads/lab-b/${randomUUID()}/cells.png`],
    });
    expect(onB.statusCode).toBe(400);
    expect(onB.json().error).toBe('upload-not-found');
    expect(onB.json().message).toBe(onNone.json().message.replace(/uploads\/lab-b\/[^"]+/, b.upload));
    // Upload and create in one request: the job and its upload are the caller's lab's only.
    const png = await readFile(join(NUCLEI_VAL, `${STEM}.image.png`));
    const one = await postMultipart(b, '/v1/jobs/upload', [['one.png', png]], { options: '{}' });
    expect(one.statusCode, one.body).toBe(201);
    const { id, inputUrl } = one.json() as { id: string; inputUrl: string };
    expect(decodeURIComponent(inputUrl)).toContain(`/v1/uploads/${b.name}/`);
    expect((await req(a, 'GET', `/v1/jobs/${id}`, '/v1/jobs/{id}')).statusCode).toBe(404);
    expect(await ids(a)).not.toContain(id);
    expect((await req(b, 'GET', `/v1/jobs/${id}`, '/v1/jobs/{id}')).statusCode).toBe(200);
    const up = new URL(inputUrl).pathname;
    expect((await app.inject({ url: up, headers: a.h })).json()).toMatchObject({ error: 'file-not-found' });
  });

  it("downloads: another lab's result and files are 404; signed links work without a token only as issued", async () => {
    const { a, b } = labs;
    const result = (lab: Lab, id: string, q = '') =>
      req(lab, 'GET', `/v1/jobs/${id}/result${q}`, '/v1/jobs/{id}/result');
    expect((await result(a, b.image.id)).json()).toMatchObject({ error: 'job-not-found' });
    expect((await result(a, b.batch)).statusCode).toBe(404);
    expect((await result(b, b.image.id, '?format=tif')).headers['content-type']).toBe('image/tiff');
    expect((await result(b, b.batch)).headers['content-type']).toBe('application/zip');
    const file = new URL(b.image.labelsUrl).pathname; // /v1/jobs/<id>/files/<name>
    const byName = await req(a, 'GET', file, '/v1/jobs/{id}/files/{file}');
    expect(byName.json()).toMatchObject({ error: 'job-not-found' });
    expect((await req(b, 'GET', file, '/v1/jobs/{id}/files/{file}')).statusCode).toBe(200);
    // the signed labelsUrl: downloadable without headers (DeepCell clients), by anyone holding the link
    expect(b.image.labelsUrl).toMatch(/\?lab=lab-b&expires=\d+&signature=[0-9a-f]{64}$/);
    expect((await fetch(b.image.labelsUrl)).status).toBe(200);
    // ...but not for another job: A's link with B's job id, or B's link claimed for lab A
    const swapped = a.image.labelsUrl.replace(a.image.id, b.image.id);
    const r1 = await fetch(swapped);
    expect(r1.status).toBe(401);
    expect(((await r1.json()) as { message: string }).message).toBe('bad link signature');
    expect((await fetch(b.image.labelsUrl.replace('lab=lab-b', 'lab=lab-a'))).status).toBe(401);
    expect(
      (await fetch(b.image.resultUrl.replace(/signature=[0-9a-f]+/, 'signature=' + '0'.repeat(64)))).status,
    ).toBe(401);
    // ?token= of lab A on B's result: 404, as any unknown job
    expect((await fetch(`${svc.url}/v1/jobs/${b.image.id}/result?token=${a.token}`)).status).toBe(404);
  });

  it("DeepCell routes: upload is per lab; redis/status/expire of another lab's hash answer as an unknown hash", async () => {
    const { a, b } = labs;
    covered.add('POST /api/upload');
    const fd = new FormData();
    fd.append(
      'file',
      new Blob([new Uint8Array(await readFile(join(NUCLEI_VAL, `${STEM}.image.png`)))]),
      'x.png',
    );
    const up = await fetch(`${svc.url}/api/upload`, {
      method: 'POST',
      body: fd,
      headers: { 'x-api-key': a.token },
    });
    const { uploadedName, imageURL } = (await up.json()) as { uploadedName: string; imageURL: string };
    expect(uploadedName).toMatch(/^uploads\/lab-a\//);
    expect((await fetch(imageURL)).status).toBe(200); // signed for lab A
    expect((await fetch(imageURL.replace(/signature=[0-9a-f]+/, `signature=${'1'.repeat(64)}`))).status).toBe(
      401,
    );
    const predictOnB = await req(a, 'POST', '/api/predict', '/api/predict', {
      jobType: 'segmentation',
      imageName: 'cells.png',
      uploadedName: b.upload,
    });
    expect(predictOnB.statusCode).toBe(400);
    const own = await req(a, 'POST', '/api/predict', '/api/predict', {
      jobType: 'segmentation',
      imageName: 'x.png',
      uploadedName,
    });
    expect(own.statusCode, own.body).toBe(200);
    const fields = ['status', 'output_url', 'created_at', 'lab', 'reason'];
    const redis = (lab: Lab, hash: string) =>
      req(lab, 'POST', '/api/redis', '/api/redis', { hash, key: fields });
    const unknown = (await redis(a, randomUUID())).json() as unknown;
    expect(unknown).toEqual({ value: [null, null, null, null, null] });
    expect((await redis(a, b.image.id)).json()).toEqual(unknown);
    expect(((await redis(b, b.image.id)).json() as { value: string[] }).value.slice(0, 1)).toEqual(['done']);
    const single = await req(a, 'POST', '/api/redis', '/api/redis', { hash: b.image.id, key: 'status' });
    expect(single.json()).toEqual({ value: null });
    expect((await req(a, 'POST', '/api/status', '/api/status', { hash: b.image.id })).json()).toEqual({
      status: null,
    });
    expect((await req(b, 'POST', '/api/status', '/api/status', { hash: b.image.id })).json()).toEqual({
      status: 'done',
    });
    const ttl = await svc.services.redis.ttl(svc.services.records.key(b.image.id));
    const expire = await req(a, 'POST', '/api/redis/expire', '/api/redis/expire', {
      hash: b.image.id,
      expireIn: 5,
    });
    expect(expire.statusCode).toBe(404);
    expect(expire.json()).toEqual({ value: 0 });
    expect(ttl).toBeGreaterThan(3000); // KIOSK_JOB_TTL_S of the test service: 3600
    expect(await svc.services.redis.ttl(svc.services.records.key(b.image.id))).toBeGreaterThan(3000);
    const mine = await req(b, 'POST', '/api/redis/expire', '/api/redis/expire', {
      hash: b.image.id,
      expireIn: 600,
    });
    expect(mine.json()).toEqual({ value: 1 });
  });

  it("delete (when the API has it): another lab's job is 404 and stays; its own goes", async () => {
    await app.ready();
    const spec = app.swagger() as { paths: Record<string, Record<string, unknown>> };
    if (!spec.paths['/v1/jobs/{id}']?.delete) return; // DELETE /v1/jobs/:id not in this API yet
    const { a, b } = labs;
    const res = await req(a, 'DELETE', `/v1/jobs/${b.batch}`, '/v1/jobs/{id}');
    expect(res.statusCode).toBe(404);
    expect(await svc.services.records.get(b.batch)).toBeDefined();
    const own = await req(b, 'DELETE', `/v1/jobs/${b.batch}`, '/v1/jobs/{id}');
    expect(own.statusCode).toBeLessThan(300);
  });

  it('every route of the API is public, cluster-wide, or covered by the isolation tests above', async () => {
    await app.ready();
    const spec = app.swagger() as { paths: Record<string, Record<string, unknown>> };
    // Not lab data: health, metrics, the autoscaler's decisions (cluster-wide), who-am-I and the admin's
    // token routes (api/auth.test.ts checks they stay in the admin's lab).
    const notLabData = new Set([
      'GET /v1/health',
      'GET /api/health-check',
      'GET /metrics',
      'GET /v1/autoscaler/decisions',
      'GET /v1/whoami',
      'GET /v1/tokens',
      'POST /v1/tokens',
      'DELETE /v1/tokens/{id}',
    ]);
    const missing = Object.entries(spec.paths)
      .flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`))
      .filter((r) => !covered.has(r) && !notLabData.has(r));
    expect(missing, 'routes without a lab-isolation test').toEqual([]);
  });
});

async function plateZip(): Promise<Uint8Array> {
  const png = new Uint8Array(await readFile(join(NUCLEI_VAL, `${STEM}.image.png`)));
  return zipSync({ 'plate/one.png': png, 'plate/two.png': png });
}

/** Reads server-sent events (`job` and `snapshot` data) until `until` accepts one. */
async function readEvents(url: string, until: (ev: Record<string, unknown>) => boolean, timeoutMs = 30_000) {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeoutMs);
  const events: Record<string, unknown>[] = [];
  try {
    const res = await fetch(url, { signal: ctrl.signal });
    expect(res.status, url).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return events;
      buf += decoder.decode(value, { stream: true });
      let at;
      while ((at = buf.indexOf('\n\n')) >= 0) {
        const data = /^data: (.*)$/m.exec(buf.slice(0, at))?.[1];
        buf = buf.slice(at + 2);
        if (!data) continue;
        const ev = JSON.parse(data) as Record<string, unknown>;
        events.push(ev);
        if (until(ev)) return events;
      }
    }
  } catch (err) {
    if (ctrl.signal.aborted)
      throw new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(events)}`);
    throw err;
  } finally {
    clearTimeout(timer);
    ctrl.abort();
  }
}

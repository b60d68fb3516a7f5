import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { decodeImage } from '../../workers/image/decode.js';
import { labelsFromRaw } from '../../workers/image/files.js';
import { matchInstances } from '../../workers/image/metrics.js';
import { encodePng } from '../../workers/image/png.js';
import { diskLabels } from '../../workers/image/synthetic-nuclei.js';
import { packZip } from '../../workers/image/zip.js';
import {
  separatedNuclei,
  foregroundPackage05,
  type PackageFiles,
  withRdf,
} from '../../workers/bioimageio/testing/third-party.js';
import { pipelineStages } from '../../workers/processors/pipeline-stages.js';
import { multipart, startTestService, type TestService } from '../service-harness.test-helpers.js';

const zip = (files: PackageFiles): Uint8Array => packZip([...files].map(([name, data]) => ({ name, data })));

// The API, a CPU and a GPU pool of real workers on the private Redis, each role on its own grant-checked view of
// the bucket (as in a cluster): the API may only read models/, so the import must be the CPU worker's, and
// close() fails on any bucket call outside a role's grants.
let svc: TestService;
beforeAll(async () => {
  svc = await startTestService(inject('redisUrl'), {
    stages: pipelineStages,
    customModels: {},
    modelsDir: resolve('models'),
    grantCheck: true,
  });
});
afterAll(async () => {
  await svc.close();
});

async function postPackage(bytes: Uint8Array, fields: Record<string, string> = {}, query = '') {
  return svc.app.inject({
    method: 'POST',
    url: `/v1/models/import${query}`,
    ...(await multipart([['package', 'model.zip', bytes]], fields)),
  });
}

/** The staged packages still in the bucket (the API deletes each once its import has ended). */
const staged = async () => (await svc.bucket.list('uploads/')).filter((k) => k.endsWith('/package.zip'));

describe('POST /v1/models/import', () => {
  it("imports a third-party 0.5 package into the lab's models; a job on it segments through the workers", async () => {
    const res = await postPackage(zip(foregroundPackage05().files), { name: 'fg05' });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({
      name: 'fg05',
      version: '1',
      labels: 'foreground-watershed',
      test: { passed: true, values: 4096 },
    });
    const models = (await svc.app.inject({ url: '/v1/models' })).json() as {
      models: { name: string; version: string; source: string; card: Record<string, unknown> }[];
    };
    const m = models.models.find((x) => x.name === 'fg05');
    expect(m).toMatchObject({ version: '1', source: 'bucket' });
    expect(m!.card['bioimageio']).toBeDefined();
    // Published by the CPU worker: the API's grant-checked bucket refused nothing, since it wrote nothing under
    // models/ (a write there would be a violation: the api role has models/ read only); the staged zip is gone.
    expect(svc.audit!.lines()).toEqual([]);
    expect(await svc.bucket.list('models/fg05/1/')).toEqual(
      ['card.json', 'model.onnx', 'rdf.yaml'].map((f) => `models/fg05/1/${f}`),
    );
    expect(await staged()).toEqual([]);
    // A job on the imported model: the pool's workers load it from the bucket and run its pipeline.
    const { image, disks } = separatedNuclei(160, 21, 25);
    const png = encodePng({
      data: Uint16Array.from(image.data),
      dtype: 'uint16',
      shape: [160, 160],
      axes: 'YX',
    });
    const up = await svc.app.inject({
      method: 'POST',
      url: '/v1/uploads',
      ...(await multipart([['file', 'nuclei.png', png]])),
    });
    const key = (up.json() as { uploads: { key: string }[] }).uploads[0]!.key;
    const created = await svc.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: { inputs: [key], model: 'fg05' },
    });
    expect(created.statusCode, created.body).toBe(201);
    const job = created.json() as { id: string; model: string };
    const rec = await svc.wait(job.id, 120_000);
    expect(rec.status, rec.reason).toBe('done');
    const tif = await svc.app.inject({ url: `/v1/jobs/${job.id}/result?format=tif` });
    const labels = labelsFromRaw(decodeImage(tif.rawPayload, { name: 'labels' }), 'labels');
    const m05 = matchInstances(labels, diskLabels(disks, 160, 160), 0.5);
    expect((2 * m05.tp) / (2 * m05.tp + m05.fp + m05.fn)).toBeGreaterThanOrEqual(0.9);
  }, 180_000);

  it('answers 400 bad-model-package naming the problem, 409 for the name of a model of our own, 415 without multipart', async () => {
    const { files } = foregroundPackage05();
    const cases: [PackageFiles, RegExp][] = [
      [
        withRdf(files, (r) => (r.weights = { torchscript: { source: 'm.pt' } })),
        /unsupported weight format \(torchscript\); supported: onnx.*\[unsupported-weights\]/,
      ],
      [
        withRdf(files, (r) => (r.inputs[0].axes[2] = { type: 'time' })),
        /'inputs\[0\]\.axes\[2\]\.type': axis type "time" is not supported.*\[bad-axes\]/,
      ],
      [
        withRdf(files, (r) => (r.outputs[0].test_tensor.source = 'gone.npy')),
        /'outputs\[0\]\.test_tensor\.source': file 'gone\.npy' is not in the package \[missing-file\]/,
      ],
      [
        withRdf(files, (r) => (r.inputs[0].test_tensor.sha256 = '0'.repeat(64))),
        /'inputs\[0\]\.test_tensor\.sha256': 'test_input\.npy' has sha256 .*\[sha256-mismatch\]/,
      ],
      [
        withRdf(
          files,
          (r) =>
            (r.inputs[0].preprocessing = [
              { id: 'scale_range', kwargs: { axes: ['y', 'x'], min_percentile: 1, max_percentile: 99 } },
            ]),
        ),
        /output 'prob': \d+ of 4096 values differ from the test output.*\[test-mismatch\]/,
      ],
    ];
    for (const [broken, message] of cases) {
      const res = await postPackage(zip(broken));
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json()).toMatchObject({ error: 'bad-model-package' });
      expect((res.json() as { message: string }).message).toMatch(message);
    }
    const notZip = await postPackage(new TextEncoder().encode('hello'));
    expect(notZip.statusCode).toBe(400);
    expect((notZip.json() as { message: string }).message).toMatch(/not a zip archive/);
    const taken = await postPackage(zip(files), { name: 'nuclear' });
    expect(taken.statusCode).toBe(409);
    expect(taken.json()).toMatchObject({ error: 'model-name-taken' });
    const json = await svc.app.inject({ method: 'POST', url: '/v1/models/import', payload: { x: 1 } });
    expect(json.statusCode).toBe(415);
    const badName = await postPackage(zip(files), { name: '-bad name' });
    expect(badName.statusCode).toBe(400);
    expect((badName.json() as { message: string }).message).toMatch(/name '-bad name' must be 1-64 letters/);
    expect(await staged()).toEqual([]);
    expect(svc.audit!.lines()).toEqual([]);
  }, 120_000);

  it('answers 202 with a status URL when the import outlasts ?wait=; the URL gives pending, then the outcome', async () => {
    const { files } = foregroundPackage05();
    const res = await postPackage(zip(files), { name: 'fg-later' }, '?wait=0');
    expect(res.statusCode, res.body).toBe(202);
    const body = res.json() as { id: string; status: string; statusUrl: string };
    expect(body).toEqual({
      id: expect.any(String),
      status: 'pending',
      statusUrl: `/v1/models/imports/${body.id}`,
    });
    const status = async () =>
      (await svc.app.inject({ url: body.statusUrl })).json() as Record<string, unknown>;
    expect(['pending', 'done']).toContain((await status()).status);
    await expect.poll(async () => (await status()).status, { timeout: 60_000, interval: 100 }).toBe('done');
    expect(await status()).toMatchObject({
      id: body.id,
      status: 'done',
      name: 'fg-later',
      version: '1',
      labels: 'foreground-watershed',
      test: { passed: true },
    });
    expect(await staged()).toEqual([]);

    // A refused package: the status URL gives the code and message POST would have answered with.
    const broken = withRdf(files, (r) => (r.weights = { torchscript: { source: 'm.pt' } }));
    const later = (await postPackage(zip(broken), {}, '?wait=0')).json() as { statusUrl: string };
    const failed = async () =>
      (await svc.app.inject({ url: later.statusUrl })).json() as Record<string, unknown>;
    await expect.poll(async () => (await failed()).status, { timeout: 60_000, interval: 100 }).toBe('failed');
    expect(await failed()).toMatchObject({
      error: 'bad-model-package',
      message: expect.stringMatching(/unsupported weight format \(torchscript\).*\[unsupported-weights\]/),
    });
    expect(await staged()).toEqual([]);

    const unknown = await svc.app.inject({ url: '/v1/models/imports/00000000-0000-4000-8000-000000000000' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({
      error: 'import-not-found',
      message: expect.stringMatching(/no model import/),
    });
    const tooLong = await postPackage(zip(files), {}, '?wait=121');
    expect(tooLong.statusCode).toBe(400);
  }, 120_000);
});

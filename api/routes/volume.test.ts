import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { decodeImage } from '../../workers/image/decode.js';
import { scoreImage } from '../../workers/image/metrics.js';
import { volumeAsLabels } from '../../workers/image/stitch.js';
import { randomEllipsoids, renderEllipsoidStack } from '../../workers/image/synthetic-nuclei.js';
import { encodeTiff } from '../../workers/image/tiff-write.js';
import { readModelCard } from '../../workers/model/model-io.js';
import { loadRunner } from '../../workers/model/runners.js';
import { segmentVolume } from '../../workers/pipeline/index.js';
import { pipelineStages } from '../../workers/processors/pipeline-stages.js';
import { findModelDir } from '../../cli/commands/segment.js';
import type { JobView } from '../schemas.js';
import { multipart, startTestService, type TestService } from '../service-harness.test-helpers.js';

const MODELS = resolve('models');
// the shipped model's newest version, when it has its ONNX file (kiosk segment's own lookup)
const found = await findModelDir('nuclear', undefined, MODELS).catch(() => undefined);
const latest = found && existsSync(join(found, 'model.onnx')) ? found : undefined;

describe.skipIf(!latest)('3-D through the API (issue 21 #4): a ZYX stack → one ZYX label TIFF', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService(inject('redisUrl'), {
      stages: pipelineStages,
      customModels: {},
      modelsDir: MODELS,
      env: { KIOSK_RUNTIME: 'onnx' },
    });
  });
  afterAll(async () => {
    await svc?.close();
  });
  const submit = async (name: string, bytes: Uint8Array, options: object, type = 'segmentation') =>
    svc.app.inject({
      method: 'POST',
      url: '/v1/jobs/upload',
      ...(await multipart([['file', name, bytes]], { type, options: JSON.stringify(options) })),
    });

  it('gives the labels kiosk segment --3d gives (same pipeline), scored in 3-D against the known ellipsoids', async () => {
    const [Z, H, W] = [12, 128, 128];
    const e = randomEllipsoids(20, Z, H, W, { minR: 7, maxR: 11, zScale: 1, seed: 3 });
    const { raw, truth } = renderEllipsoidStack(e, Z, H, W, 13);
    const tif = encodeTiff({ ...raw, axes: 'ZYX' });
    const res = await submit('stack.tif', tif, { volume: true });
    expect(res.statusCode, res.body).toBe(201);
    const rec = await svc.wait((res.json() as JobView).id, 300_000);
    expect(rec.status, rec.reason).toBe('done');
    const view = (await svc.app.inject({ url: `/v1/jobs/${rec.id}` })).json() as JobView;
    const u = new URL(view.labelsUrl!);
    const got = decodeImage(
      new Uint8Array((await svc.app.inject({ url: u.pathname + u.search })).rawPayload),
      {
        name: 'stack.labels.tif',
      },
    );
    expect([got.axes, got.shape]).toEqual(['ZYX', [Z, H, W]]);
    const dir = latest!;
    const runner = await loadRunner(dir, { runtime: 'onnx', threads: 1 });
    const cli = await segmentVolume(
      decodeImage(tif, { name: 'stack.tif' }),
      runner,
      await readModelCard(dir),
    );
    await runner.dispose();
    let differ = 0;
    let n = 0;
    cli.volume.data.forEach((v, i) => {
      if (got.data[i] !== v) differ++;
      if (v > n) n = v;
    });
    expect(differ).toBe(0);
    expect(rec.object_count).toBe(n);
    const s = scoreImage(
      volumeAsLabels({ data: Uint32Array.from(got.data), depth: Z, height: H, width: W }),
      volumeAsLabels(truth),
    );
    process.stderr.write(
      `3-D via the API: ${s.nTruth} ellipsoids, ${s.nPred} found, F1@0.5 ${s.f1_50.toFixed(3)} (3-D IoU)\n`,
    );
    expect(s.f1_50).toBeGreaterThan(0.7);
  }, 400_000);

  it('refuses volume for a type without ZYX, and a 2-D image fails naming what volume needs', async () => {
    const one = encodeTiff({ data: new Uint8Array(32 * 32), dtype: 'uint8', shape: [32, 32], axes: 'YX' });
    const bad = await submit('x.tif', one, { volume: true, channels: [0, 1] }, 'whole-cell');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(
      /'volume' \(a ZYX stack in 3-D\) is for job types that take ZYX \(segmentation\)/,
    );
    const flat = await submit('flat.tif', one, { volume: true });
    const rec = await svc.wait((flat.json() as JobView).id, 60_000);
    expect(rec.status).toBe('failed');
    expect(rec.reason).toMatch(/'volume' needs a stack of z planes/);
  });
});

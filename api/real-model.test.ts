import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { decodeImage } from '../workers/image/decode.js';
import { labelsFromRaw } from '../workers/image/files.js';
import { readModelCard } from '../workers/model/model-io.js';
import { loadRunner } from '../workers/model/runners.js';
import { segmentImageDetailed } from '../workers/pipeline/segment.js';
import { pipelineStages } from '../workers/processors/pipeline-stages.js';
import { multipart, startTestService, type TestService } from './service-harness.test-helpers.js';
import { NUCLEI_VAL } from '../test/data.js';

const MODELS = resolve('models');
const latest = existsSync(join(MODELS, 'nuclear'))
  ? readdirSync(join(MODELS, 'nuclear'))
      .filter((v) => /^\d+$/.test(v) && existsSync(join(MODELS, 'nuclear', v, 'model.onnx')))
      .sort((a, b) => Number(a) - Number(b))
      .pop()
  : undefined;

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.close();
  svc = undefined;
});

// Runs once the shipped model exists (models/nuclear/<v>/model.onnx); the same path with a test-double
// model runs always (workers/processors/pipeline-stages.test.ts).
describe.skipIf(!latest)('the shipped nuclear model through the service', () => {
  it('upload → preprocess → predict → postprocess → download equals kiosk segment on a val image', async () => {
    svc = await startTestService(inject('redisUrl'), {
      stages: pipelineStages,
      customModels: {},
      modelsDir: MODELS,
      env: { KIOSK_RUNTIME: 'onnx' },
    });
    const bytes = await readFile(`${NUCLEI_VAL}/dsb_03398329ced0c23b.image.png`);
    const up = await svc.app.inject({
      method: 'POST',
      url: '/v1/uploads',
      ...(await multipart([['file', 'val.png', bytes]])),
    });
    const key = (up.json() as { uploads: { key: string }[] }).uploads[0]!.key;
    const created = await svc.app.inject({ method: 'POST', url: '/v1/jobs', payload: { inputs: [key] } });
    const job = created.json() as { id: string; model: string; modelVersion: string };
    expect(job).toMatchObject({ model: 'nuclear', modelVersion: latest });
    const rec = await svc.wait(job.id, 120_000);
    expect(rec.status, rec.reason).toBe('done');
    const tif = await svc.app.inject({ url: `/v1/jobs/${job.id}/result?format=tif` });
    const got = labelsFromRaw(decodeImage(tif.rawPayload, { name: 'service' }), 'service');
    const dir = join(MODELS, 'nuclear', latest!);
    const runner = await loadRunner(dir, { runtime: 'onnx' });
    try {
      const [want] = await segmentImageDetailed(
        decodeImage(bytes, { name: 'val.png' }),
        runner,
        await readModelCard(dir),
      );
      expect([got.height, got.width]).toEqual([want!.labels.height, want!.labels.width]);
      expect(Buffer.from(got.data.buffer).equals(Buffer.from(want!.labels.data.buffer))).toBe(true);
      expect(rec.object_count).toBeGreaterThan(0);
    } finally {
      await runner.dispose();
    }
  });
});

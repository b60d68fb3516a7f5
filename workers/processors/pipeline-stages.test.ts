import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { decodeImage } from '../image/decode.js';
import { labelsFromRaw } from '../image/files.js';
import { segmentImageDetailed } from '../pipeline/segment.js';
import { PrecomputedMapsRunner, testCard } from '../pipeline/testing/precomputed-maps-runner.js';
import { keys } from '../queues/names.js';
import type { SubmitOptions } from '../queues/submit.js';
import { pipelineStages } from './pipeline-stages.js';
import { createHarness, type Harness } from './service-harness.test-helpers.js';
import type { CardLike } from './stages.js';
import { NUCLEI_VAL } from '../../test/data.js';

const VAL = NUCLEI_VAL;
const card = testCard(14, 0.5);
const opts: SubmitOptions = {
  lab: 'default',
  type: 'segmentation',
  model: { name: 'test', version: '1' },
  options: { channels: [] },
};

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function harness(): Promise<Harness> {
  return createHarness(inject('redisUrl'), {
    stages: pipelineStages,
    custom: {
      'test@1': { card: card as unknown as CardLike, createRunner: async () => new PrecomputedMapsRunner() },
    },
  });
}

describe('the service with the real pipeline stages (test-double model)', () => {
  it('gives the labels of the in-process pipeline, autoscale second pass included', async () => {
    h = await harness();
    const stems = ['dsb_03398329ced0c23b', 'dsb_12f89395ad5d2149'];
    let twoPass = 0;
    for (const stem of stems) {
      const bytes = await readFile(join(VAL, `${stem}.image.png`));
      const expected = await segmentImageDetailed(
        decodeImage(bytes, { name: stem }),
        new PrecomputedMapsRunner(),
        card,
      );
      if (expected[0]!.passes > 1) twoPass++;
      const key = keys.upload('default', 'u', `${stem}.png`);
      await h.storage.put(key, bytes);
      const rec = await h.wait(
        await h.submitter.submitImage({ name: `${stem}.png`, inputKey: key }, opts),
        60_000,
      );
      expect(rec.status, rec.reason).toBe('done');
      const got = labelsFromRaw(decodeImage(await h.storage.get(rec.labels_key!), { name: 'out' }), 'out');
      expect([got.height, got.width]).toEqual([expected[0]!.labels.height, expected[0]!.labels.width]);
      expect(Buffer.from(got.data.buffer).equals(Buffer.from(expected[0]!.labels.data.buffer))).toBe(true);
    }
    expect(twoPass).toBeGreaterThan(0); // the second-pass path ran
  });

  it('with µm/px given, segments once at that scale', async () => {
    h = await harness();
    const stem = 'dsb_03398329ced0c23b';
    const bytes = await readFile(join(VAL, `${stem}.image.png`));
    const expected = await segmentImageDetailed(
      decodeImage(bytes, { name: stem }),
      new PrecomputedMapsRunner(),
      card,
      { mpp: 0.25 },
    );
    const key = keys.upload('default', 'u', 'a.png');
    await h.storage.put(key, bytes);
    const rec = await h.wait(
      await h.submitter.submitImage(
        { name: 'a.png', inputKey: key },
        { ...opts, options: { channels: [], micronsPerPixel: 0.25 } },
      ),
    );
    const tif = await h.storage.get(rec.labels_key!);
    const raw = decodeImage(tif, { name: 'out' });
    const got = labelsFromRaw(raw, 'out');
    expect(Buffer.from(got.data.buffer).equals(Buffer.from(expected[0]!.labels.data.buffer))).toBe(true);
    // issue 23 #3: the label TIFF states the µm/px the job gave (ImageJ unit=micron + resolution)
    expect(raw.physicalSizeX).toBeCloseTo(0.25, 12);
    expect(raw.physicalSizeY).toBeCloseTo(0.25, 12);
    expect(new TextDecoder().decode(tif)).toMatch(/unit=micron/);
  });

  it('fails a job whose options the pipeline rejects, with the pipeline reason', async () => {
    h = await harness();
    const key = keys.upload('default', 'u', 'a.png');
    await h.storage.put(key, await readFile(join(VAL, 'dsb_03398329ced0c23b.image.png')));
    const rec = await h.wait(
      await h.submitter.submitImage(
        { name: 'a.png', inputKey: key },
        { ...opts, options: { channels: [3] } },
      ),
    );
    expect(rec.status).toBe('failed');
    expect(rec.reason).toMatch(/^preprocess: .*channel/);
  });
});

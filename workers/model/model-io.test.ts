import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadModel, ModelIoError, readModelCard, saveModel, type ModelCard } from './model-io.js';
import { buildNetwork } from './network.js';
import { initTfjs } from './runtime.js';

let dir: string;
beforeAll(async () => {
  await initTfjs({ prefer: 'wasm' });
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'model-io-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const card: ModelCard = {
  name: 'nuclear',
  version: 1,
  task: 'nuclear-segmentation',
  input: {
    channels: 1,
    normalization: { method: 'percentile', low: 1, high: 99.8 },
    targetDiameterPx: 16,
    mpp: 0.5,
    typicalNucleusDiameterUm: 8,
    sizeMultiple: 4,
  },
  outputs: ['inner', 'outer', 'fgbg'],
  network: { baseFilters: 4, depth: 2 },
  params: 1,
};

describe('model folders', () => {
  it('round-trips a network: same predictions, same card', async () => {
    const model = buildNetwork({ baseFilters: 4, depth: 2 });
    const x = tf.randomUniform([1, 8, 8, 1], 0, 1, 'float32', 7);
    const before = (model.predict(x) as tf.Tensor[]).map((t) => t.dataSync());
    await saveModel(model, join(dir, 'm'), card);
    const loaded = await loadModel(join(dir, 'm'));
    const after = (loaded.predict(x) as tf.Tensor[]).map((t) => t.dataSync());
    expect(loaded.outputNames).toEqual(['inner', 'outer', 'fgbg']);
    for (let i = 0; i < 3; i++) expect(Array.from(after[i] ?? [])).toEqual(Array.from(before[i] ?? []));
    expect(await readModelCard(join(dir, 'm'))).toEqual(card);
    const json = JSON.parse(await readFile(join(dir, 'm', 'model.json'), 'utf8')) as { format: string };
    expect(json.format).toBe('layers-model');
  });

  it('says which file is missing', async () => {
    await expect(loadModel(join(dir, 'nope'))).rejects.toThrow(/model.json not found: .*nope/);
    await expect(readModelCard(dir)).rejects.toMatchObject({ code: 'not-found' });
  });

  it('rejects broken model.json and truncated weights', async () => {
    await saveModel(buildNetwork({ baseFilters: 2, depth: 1 }), dir);
    await truncate(join(dir, 'weights.bin'), 10);
    await expect(loadModel(dir)).rejects.toThrow(/have 10 bytes; the manifest needs \d+/);
    await writeFile(join(dir, 'model.json'), '{oops');
    await expect(loadModel(dir)).rejects.toThrow(ModelIoError);
    await writeFile(join(dir, 'model.json'), '{}');
    await expect(loadModel(dir)).rejects.toThrow(/lacks 'modelTopology' or 'weightsManifest'/);
  });

  it.each([
    ['{', /not valid JSON/],
    ['[]', /'name' must be a non-empty string/],
    [JSON.stringify({ ...card, version: 0 }), /'version' must be an integer >= 1/],
    [JSON.stringify({ ...card, task: 'x' }), /'task' must be 'nuclear-segmentation'; got "x"/],
    [JSON.stringify({ ...card, outputs: [1] }), /'outputs'/],
    [JSON.stringify({ ...card, input: null }), /'input' must be an object/],
    [
      JSON.stringify({ ...card, input: { ...card.input, mpp: -1 } }),
      /'input.mpp' must be a positive number; got -1/,
    ],
    [
      JSON.stringify({
        ...card,
        input: { ...card.input, normalization: { method: 'percentile', low: 5, high: 1 } },
      }),
      /'input.normalization'/,
    ],
  ])('rejects a bad card %s', async (text, message) => {
    await writeFile(join(dir, 'card.json'), text);
    await expect(readModelCard(dir)).rejects.toThrow(message);
  });
});

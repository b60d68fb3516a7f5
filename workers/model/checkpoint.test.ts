import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hasCheckpoint,
  loadCheckpoint,
  readTrainingState,
  saveCheckpoint,
  type TrainingState,
} from './checkpoint.js';
import { buildNetwork } from './network.js';
import { initTfjs } from './runtime.js';

let dir: string;
beforeAll(async () => {
  await initTfjs({ prefer: 'wasm' });
  dir = await mkdtemp(join(tmpdir(), 'ckpt-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const state: TrainingState = { epoch: 2, step: 7, bestScore: 0.5, bestEpoch: 1, seconds: 12, history: [] };

describe('checkpoints', () => {
  it('round-trip weights, Adam moments and state, replacing an older checkpoint', async () => {
    const model = buildNetwork({ baseFilters: 2, depth: 1 });
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const opt = tf.train.adam(0.01);
    const x = tf.randomUniform([1, 4, 4, 1], 0, 1, 'float32', 1);
    for (let i = 0; i < 2; i++) {
      opt.minimize(
        () => tf.mean(tf.square((model.apply(x, { training: true }) as tf.Tensor[])[0]!)) as tf.Scalar,
        false,
        vars,
      );
    }
    const ck = join(dir, 'last');
    await saveCheckpoint(ck, buildNetwork({ baseFilters: 2, depth: 1 }), undefined, { ...state, epoch: 1 });
    await saveCheckpoint(ck, model, opt, state);
    expect(await hasCheckpoint(ck)).toBe(true);
    expect(await readTrainingState(ck)).toEqual(state);

    const saved = await opt.getWeights();
    const fresh = tf.train.adam(0.01);
    const loaded = await loadCheckpoint(ck, fresh);
    expect(loaded.optimizerRestored).toBe(true);
    const restored = await fresh.getWeights();
    expect(restored.map((w) => w.name)).toEqual(saved.map((w) => w.name));
    restored.forEach((w, i) =>
      expect(Array.from(w.tensor.dataSync())).toEqual(Array.from(saved[i]!.tensor.dataSync())),
    );
    const a = (model.predict(x) as tf.Tensor[])[0]!.dataSync();
    const b = (loaded.model.predict(x) as tf.Tensor[])[0]!.dataSync();
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it('reports a missing or broken checkpoint', async () => {
    expect(await hasCheckpoint(join(dir, 'none'))).toBe(false);
    await expect(readTrainingState(join(dir, 'none'))).rejects.toThrow(
      /no checkpoint state at .*none\/state.json/,
    );
    await writeFile(join(dir, 'state.json'), JSON.stringify({ epoch: 'x' }));
    await expect(readTrainingState(dir)).rejects.toThrow(/lacks epoch\/step\/history/);
  });
});

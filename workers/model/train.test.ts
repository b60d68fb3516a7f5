import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diskLabels, randomDisks, seededRandom } from '../image/synthetic-nuclei.js';
import { seededRng } from './augment.js';
import { hasCheckpoint, loadCheckpoint, readTrainingState } from './checkpoint.js';
import { CropSampler, medianDiameter, type NucleiSample } from './dataset.js';
import { buildNetwork } from './network.js';
import { initTfjs } from './runtime.js';
import { batchLoss, learningRateAt, trainModel, TrainOptionsError } from './train.js';

/** A 64x64 scene of bright disks (r 4-6) on a dim noisy background, already "normalized". */
function scene(seed: number, keepOriginal = false): NucleiSample {
  const labels = diskLabels(randomDisks(12, 64, 64, { minR: 4, maxR: 6, seed }), 64, 64);
  const rand = seededRandom(seed + 100);
  const data = Float32Array.from(labels.data, (v) => (v ? 0.8 : 0.05) + 0.05 * rand());
  const image = { data, height: 64, width: 64, channels: 1 };
  return {
    name: `scene${seed}`,
    sizeClass: '64x64',
    medianDiameter: medianDiameter(labels),
    scale: 1,
    image,
    labels,
    ...(keepOriginal ? { original: { image, labels } } : {}),
  };
}

const tiny = { baseFilters: 4, depth: 2, maxFilters: 16 };
let dir: string;
beforeAll(async () => {
  await initTfjs({ prefer: 'wasm' });
  dir = await mkdtemp(join(tmpdir(), 'train-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('learningRateAt', () => {
  it('warms up linearly from peak/10, then decays by cosine to final', () => {
    const s = { peak: 1e-3, warmupSteps: 10, final: 1e-5 };
    expect(learningRateAt(0, 100, s)).toBeCloseTo(1e-4, 12);
    expect(learningRateAt(10, 100, s)).toBeCloseTo(1e-3, 12);
    expect(learningRateAt(55, 100, s)).toBeCloseTo((1e-3 + 1e-5) / 2, 12);
    expect(learningRateAt(100, 100, s)).toBeCloseTo(1e-5, 12);
    expect(learningRateAt(20, 100, s, 1)).toBeCloseTo(1e-5, 12);
  });
});

describe('trainModel', () => {
  it('lowers the loss in a few steps, validates, checkpoints and resumes', async () => {
    const train = [scene(1), scene(2), scene(3)];
    const val = [scene(4, true)];
    const fixed = new CropSampler(train, { cropSize: 32 }).nextBatch(4, seededRng(42));
    const lossOf = (m: ReturnType<typeof buildNetwork>): number =>
      tf.tidy(() => batchLoss(m, fixed, { inner: 10, outer: 5, fg: 1 }, true)[0]!.dataSync()[0]!);
    const initial = buildNetwork(tiny);
    const before = lossOf(initial);
    const steps: number[] = [];
    const result = await trainModel({
      train,
      val,
      network: tiny,
      initialModel: initial,
      epochs: 2,
      stepsPerEpoch: 8,
      batchSize: 4,
      sampler: { cropSize: 32, margin: 8 },
      lr: { peak: 1e-2, warmupSteps: 2, final: 1e-3 },
      checkpointDir: dir,
      onStep: (s) => steps.push(s.loss),
    });
    const after = lossOf(result.model);
    expect(after).toBeLessThan(0.8 * before);
    expect(steps).toHaveLength(16);
    expect(result.state.history).toHaveLength(2);
    const last = result.state.history[1]!;
    expect(last.valF1).toBeGreaterThanOrEqual(0);
    expect(last.valF1).toBeLessThanOrEqual(1);
    expect(last.valDsb).toBeGreaterThanOrEqual(0);
    expect(await hasCheckpoint(join(dir, 'last'))).toBe(true);
    expect(await hasCheckpoint(join(dir, 'best'))).toBe(true);
    expect((await readTrainingState(join(dir, 'last'))).step).toBe(16);

    const more = await trainModel({
      train,
      val,
      network: tiny,
      epochs: 3,
      stepsPerEpoch: 2,
      batchSize: 4,
      sampler: { cropSize: 32, margin: 8 },
      checkpointDir: dir,
    });
    expect(more.resumed).toBe(true);
    expect(more.state.epoch).toBe(3);
    expect(more.state.step).toBe(18);
    expect(more.state.history).toHaveLength(3);
  });

  it('stops at a deadline after the current step and still records the epoch', async () => {
    const result = await trainModel({
      train: [scene(5)],
      network: tiny,
      epochs: 5,
      stepsPerEpoch: 50,
      batchSize: 2,
      sampler: { cropSize: 32, margin: 4 },
      deadline: Date.now() - 1,
    });
    expect(result.stoppedBecause).toBe('deadline');
    expect(result.state.step).toBe(1);
    expect(result.state.history[0]!.score).toBe(-result.state.history[0]!.trainLoss);
  });

  it('issue 19: a run stopped mid-epoch and resumed ends bit-identical to an uninterrupted one (weights, EMA, Adam, history)', async () => {
    const train = [scene(6), scene(7)];
    const val = [scene(8, true)];
    const base = {
      train,
      val,
      network: tiny,
      epochs: 2,
      stepsPerEpoch: 5,
      batchSize: 2,
      sampler: { cropSize: 32, margin: 4 },
      lr: { peak: 1e-2, warmupSteps: 2, final: 1e-3 },
      seed: 3,
      emaDecay: 0.9,
    };
    const straightDir = join(dir, 'straight');
    // Same starting weights for both runs (a fresh network's initialisation is random).
    const seedModel = buildNetwork(tiny);
    const start = seedModel.getWeights().map((w) => w.clone());
    const fresh = () => {
      const m = buildNetwork(tiny);
      m.setWeights(start);
      return m;
    };
    const straight = await trainModel({ ...base, initialModel: fresh(), checkpointDir: straightDir });
    expect(straight.stoppedBecause).toBe('epochs');

    const stopDir = join(dir, 'stopped');
    const stopsAt = [3, 7]; // mid-epoch 1 (step 3 of 5) and mid-epoch 2 (step 2 of 5)
    let runs = 0;
    let resumedRun: Awaited<ReturnType<typeof trainModel>> | undefined;
    for (;;) {
      runs++;
      let steps = 0;
      const target = stopsAt[runs - 1];
      const r = await trainModel({
        ...base,
        initialModel: fresh(),
        checkpointDir: stopDir,
        onStep: (s) => (steps = s.step),
        shouldStop: () => target !== undefined && steps === target,
      });
      if (r.stoppedBecause !== 'stopped') {
        resumedRun = r;
        break;
      }
      const st = await readTrainingState(join(stopDir, 'last'));
      expect(st.step).toBe(target);
      expect(st.partial?.steps).toBe(target! % 5);
    }
    expect(runs).toBe(3);
    expect(resumedRun!.resumed).toBe(true);
    const a = await loadCheckpoint(join(straightDir, 'last'));
    const b = await loadCheckpoint(join(stopDir, 'last'));
    const bytes = (ts: tf.Tensor[]) => ts.map((t) => Array.from(t.dataSync()));
    expect(bytes(b.model.getWeights())).toEqual(bytes(a.model.getWeights()));
    expect(bytes(b.ema!)).toEqual(bytes(a.ema!));
    expect(b.state.adam).toEqual(a.state.adam);
    expect(b.state.step).toBe(10);
    const strip = (h: typeof a.state.history) =>
      h.map(({ seconds: _s, samplesPerSecond: _p, ...rest }) => rest);
    expect(strip(b.state.history)).toEqual(strip(a.state.history));
    // the returned model is the moving average that was scored, not the live weights
    const best = await loadCheckpoint(join(stopDir, 'best'));
    expect(bytes(resumedRun!.model.getWeights())).toEqual(bytes(best.model.getWeights()));
  }, 120_000);

  it.each([
    [{ epochs: 0 }, /'epochs' must be an integer >= 1; got 0/],
    [{ stepsPerEpoch: 1.5 }, /'stepsPerEpoch' must be an integer >= 1; got 1.5/],
    [{ batchSize: -1 }, /'batchSize' must be an integer >= 1; got -1/],
    [{ train: [] }, /'train' must hold at least one sample/],
    [{ val: [scene(1)] }, /'val' samples must be loaded with keepOriginal: true/],
    [{ sampler: { cropSize: 30 } }, /'cropSize' \(30\) must be a multiple of 2\^depth = 4/],
  ])('rejects bad options %j', async (bad, message) => {
    const opts = { train: [scene(1)], network: tiny, epochs: 1, stepsPerEpoch: 1, ...bad };
    await expect(trainModel(opts)).rejects.toThrow(TrainOptionsError);
    await expect(trainModel(opts)).rejects.toThrow(message);
  });
});

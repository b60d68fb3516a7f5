import { describe, expect, it } from 'vitest';
import {
  applyTrainingEvent,
  checkTrainingPaths,
  DEFAULT_SIZE,
  estimateSeconds,
  FALLBACK_SPEED,
  QUICK_SIZE,
  remainingSeconds,
  speedFromTrainings,
  trainingHeadline,
  type EpochProgress,
  type TrainingView,
} from './training.js';

describe('checkTrainingPaths', () => {
  it('counts train and val pairs by stem and folder, any extension mix', () => {
    const c = checkTrainingPaths([
      'set/a.image.png',
      'set/a.labels.tif',
      'set/val/b.image.TIF',
      'set/val/b.labels.png',
      'set/validation/c.image.png',
      'set/validation/c.labels.png',
      'set/.DS_Store',
      '__MACOSX/set/._a.image.png',
      'more.zip',
    ]);
    expect(c).toEqual({ trainPairs: 1, valPairs: 2, problems: [], ignored: [] });
  });

  it('names each file without a partner and lists unrelated files as ignored', () => {
    const c = checkTrainingPaths(['x.image.png', 'y.labels.tif', 'notes.txt']);
    expect(c.trainPairs).toBe(0);
    expect(c.problems).toEqual([
      { file: 'x.image.png', message: 'no labels for x.image.png (expected x.labels.png or .tif)' },
      { file: 'y.labels.tif', message: 'no image for y.labels.tif (expected y.image.png or .tif)' },
    ]);
    expect(c.ignored).toEqual(['notes.txt']);
  });
});

const base: TrainingView = {
  id: 't1',
  status: 'training',
  progress: 10,
  epoch: 1,
  step: 5,
  totalSteps: 50,
  history: [{ epoch: 1, step: 5, trainLoss: 0.9, valF1: 0.5, seconds: 3, lr: 1e-4 }],
  params: { modelName: 'mine', epochs: 10 },
  createdAt: '2026-11-25T17:00:00Z',
};

describe('applyTrainingEvent', () => {
  it('merges progress and appends epoch records in epoch order, replacing a re-reported epoch', () => {
    let v = applyTrainingEvent(base, { id: 't1', step: 8, loss: 0.7, progress: 16 });
    expect(v).toMatchObject({ step: 8, loss: 0.7, progress: 16 });
    v = applyTrainingEvent(v, {
      id: 't1',
      epoch: 3,
      epochRecord: { epoch: 3, step: 15, trainLoss: 0.6, seconds: 3, lr: 1e-4 },
    });
    v = applyTrainingEvent(v, {
      id: 't1',
      epoch: 2,
      epochRecord: { epoch: 2, step: 10, trainLoss: 0.7, seconds: 3, lr: 1e-4 },
    });
    v = applyTrainingEvent(v, {
      id: 't1',
      epochRecord: { epoch: 1, step: 5, trainLoss: 0.8, seconds: 3, lr: 1e-4 },
    });
    expect(v.history.map((h) => [h.epoch, h.trainLoss])).toEqual([
      [1, 0.8],
      [2, 0.7],
      [3, 0.6],
    ]);
    expect(base.history).toHaveLength(1);
  });

  it('ignores other ids and anything after a final status; keeps the model and reason', () => {
    expect(applyTrainingEvent(base, { id: 'other', status: 'done' })).toBe(base);
    const done = applyTrainingEvent(base, {
      id: 't1',
      status: 'done',
      progress: 100,
      model: { name: 'mine', version: '2' },
    });
    expect(done).toMatchObject({ status: 'done', model: { name: 'mine', version: '2' } });
    expect(applyTrainingEvent(done, { id: 't1', status: 'training', progress: 50 })).toBe(done);
    const failed = applyTrainingEvent(base, { id: 't1', status: 'failed', reason: 'cancelled by the user' });
    expect(failed.reason).toBe('cancelled by the user');
  });
});

const epoch = (n: number, loss: number, seconds = 100): EpochProgress => ({
  epoch: n,
  step: n * 50,
  trainLoss: loss,
  seconds,
  lr: 1e-4,
});

const view = (o: Partial<TrainingView>): TrainingView => ({
  id: 't1',
  status: 'training',
  progress: 0,
  epoch: 0,
  step: 0,
  totalSteps: 500,
  history: [],
  params: { modelName: 'mine', epochs: 10, stepsPerEpoch: 50, batchSize: 8, cropSize: 128 },
  createdAt: '2026-12-07T13:00:00Z',
  ...o,
});

describe('training time estimate (issue 23 #4)', () => {
  it('counts crops in 128 px units over crops/s; the quick setting is 1/50 of the defaults', () => {
    const speed = { cropsPerSecond: 0.5, source: 's', measuredHere: true };
    expect(estimateSeconds(DEFAULT_SIZE, speed)).toBe(8000);
    expect(estimateSeconds({ ...DEFAULT_SIZE, cropSize: 256 }, speed)).toBe(32000);
    expect(estimateSeconds(QUICK_SIZE, speed)).toBe(160);
    // The fallback (measured on this machine) puts the defaults at hours, as the issue saw.
    expect(estimateSeconds(DEFAULT_SIZE, FALLBACK_SPEED) / 3600).toBeGreaterThan(2);
  });

  it("takes the speed from the newest training with a finished epoch, its epochs' seconds and sizes", () => {
    const older = view({
      id: 'old',
      params: { modelName: 'old', epochs: 2, stepsPerEpoch: 10, batchSize: 4, cropSize: 64 },
      history: [epoch(1, 0.3, 5), epoch(2, 0.2, 5)],
      runtime: '@tensorflow/tfjs-backend-wasm',
    });
    const none = view({ id: 'new', params: { modelName: 'queued', epochs: 3 } });
    const s = speedFromTrainings([none, older])!;
    // 2 epochs × 10 steps × 4 crops × (64/128)² = 20 crops of 128 px in 10 s
    expect(s.cropsPerSecond).toBe(2);
    expect(s.measuredHere).toBe(true);
    expect(s.source).toBe(
      'measured on this kiosk: training “old” (2 epochs of 4 crops of 64 px per step, @tensorflow/tfjs-backend-wasm)',
    );
    // One of the same batch and crop size as the form's is preferred over a newer one of another size.
    const newer = view({
      id: 'newer',
      params: { modelName: 'newer', epochs: 5, stepsPerEpoch: 20, batchSize: 8, cropSize: 128 },
      history: [epoch(1, 0.3, 400)],
    });
    expect(speedFromTrainings([newer, older])!.cropsPerSecond).toBe(0.4);
    expect(speedFromTrainings([newer, older], { batchSize: 4, cropSize: 64 })!.cropsPerSecond).toBe(2);
    expect(speedFromTrainings([newer, older], { batchSize: 2, cropSize: 64 })!.cropsPerSecond).toBe(0.4);
    expect(speedFromTrainings([none])).toBeUndefined();
    expect(speedFromTrainings([])).toBeUndefined();
  });
});

describe('trainingHeadline (issue 23 #4)', () => {
  it('counts epochs from 1 while the first runs, and quotes the loss of a table row, naming it', () => {
    expect(trainingHeadline(view({ step: 12, loss: 0.9 }))).toBe('epoch 1 of 10 running · step 12 of 500');
    const two = view({ epoch: 2, step: 120, loss: 0.05, history: [epoch(1, 0.31), epoch(2, 0.2345)] });
    expect(trainingHeadline(two)).toBe('epoch 3 of 10 running · step 120 of 500 · epoch 2 mean loss 0.2345');
    expect(trainingHeadline({ ...two, status: 'done' })).toBe(
      '2 of 10 epochs done · epoch 2 mean loss 0.2345',
    );
    expect(trainingHeadline({ ...two, status: 'failed' })).toBe(
      'stopped after 2 of 10 epochs · epoch 2 mean loss 0.2345',
    );
    expect(trainingHeadline(view({ status: 'waiting', position: 2 }))).toBe('waiting: number 2 in the queue');
  });

  it("estimates the time left from the run's own epochs, none before the first ends", () => {
    expect(remainingSeconds(view({}))).toBeUndefined();
    expect(remainingSeconds(view({ history: [epoch(1, 0.3, 100), epoch(2, 0.2, 300)] }))).toBe(1600);
    expect(remainingSeconds(view({ status: 'done', history: [epoch(1, 0.3)] }))).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { applyTrainingEvent, checkTrainingPaths, type TrainingView } from './training.js';

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

import { describe, expect, it } from 'vitest';
import { aggregateProgress, describeProgress, type ProgressItem } from './progress.js';

describe('aggregateProgress', () => {
  it('is zero and not finished for an empty batch', () => {
    const p = aggregateProgress([]);
    expect(p).toEqual({ total: 0, done: 0, failed: 0, active: 0, queued: 0, percent: 0, finished: false });
    expect(describeProgress(p)).toBe('No files yet');
  });

  it('counts final items as 100 and others by their progress', () => {
    const items: ProgressItem[] = [
      { state: 'done', progress: 100 },
      { state: 'failed', progress: 30 },
      { state: 'predicting', progress: 50 },
      { state: 'new', progress: 0 },
    ];
    const p = aggregateProgress(items);
    expect(p).toMatchObject({ total: 4, done: 1, failed: 1, active: 1, queued: 1, finished: false });
    expect(p.percent).toBe(Math.floor((100 + 100 + 50 + 0) / 4));
    expect(describeProgress(p)).toBe('1 of 4 done · 1 failed · 1 running · 1 queued — 62 %');
  });

  it('treats rejected files as failed and uploading files as active at 0 %', () => {
    const p = aggregateProgress([
      { state: 'rejected', progress: 0 },
      { state: 'uploading', progress: 90 },
    ]);
    expect(p).toMatchObject({ failed: 1, active: 1, percent: 50, finished: false });
  });

  it('is finished when every item is done or failed, even if some failed', () => {
    const p = aggregateProgress([
      { state: 'done', progress: 100 },
      { state: 'failed', progress: 10 },
      { state: 'rejected', progress: 0 },
    ]);
    expect(p).toMatchObject({ finished: true, percent: 100, done: 1, failed: 2 });
  });

  it('clamps progress outside 0..100 and NaN', () => {
    const p = aggregateProgress([
      { state: 'started', progress: 250 },
      { state: 'started', progress: -5 },
      { state: 'waiting', progress: Number.NaN },
    ]);
    expect(p.percent).toBe(Math.floor(100 / 3));
  });

  it('rounds down so a batch shows 100 % only when it is finished', () => {
    const items: ProgressItem[] = [...Array(199)].map(() => ({ state: 'done', progress: 100 }));
    items.push({ state: 'saving-results', progress: 99 });
    const p = aggregateProgress(items);
    expect(p.percent).toBe(99);
    expect(p.finished).toBe(false);
  });

  it('issue 23 #6: files added but not submitted are named, never "No files yet" beside them', () => {
    expect(describeProgress(aggregateProgress([]), 2)).toBe('2 files ready, not submitted yet');
    expect(describeProgress(aggregateProgress([]), 1)).toBe('1 file ready, not submitted yet');
    expect(describeProgress(aggregateProgress([{ state: 'done', progress: 100 }]), 1)).toBe(
      '1 of 1 done — 100 % · 1 file ready, not submitted yet',
    );
  });
});

import { describe, expect, it } from 'vitest';
import { MAX_SAVED, parseSavedBatch, serializeSavedBatch } from './saved-batch.js';

describe('saved Segment batch (issue 23 #6)', () => {
  it('round-trips entries and drops what is malformed, never throwing', () => {
    const entries = [
      { path: 'plate1/a.tif', jobId: 'j1', size: 1234 },
      { path: 'b.png', jobId: 'j2', size: 0 },
    ];
    expect(parseSavedBatch(serializeSavedBatch(entries))).toEqual(entries);
    expect(parseSavedBatch(null)).toEqual([]);
    expect(parseSavedBatch('not json')).toEqual([]);
    expect(parseSavedBatch('{"path":"a"}')).toEqual([]);
    expect(
      parseSavedBatch(
        JSON.stringify([
          null,
          3,
          { path: 'a' },
          { path: '', jobId: 'x' },
          { path: 'c', jobId: 'j3', size: -1 },
        ]),
      ),
    ).toEqual([{ path: 'c', jobId: 'j3', size: 0 }]);
  });

  it(`keeps the newest ${MAX_SAVED}`, () => {
    const many = Array.from({ length: MAX_SAVED + 5 }, (_, i) => ({
      path: `f${i}`,
      jobId: `j${i}`,
      size: i,
    }));
    const back = parseSavedBatch(serializeSavedBatch(many));
    expect(back).toHaveLength(MAX_SAVED);
    expect(back[0]!.jobId).toBe('j5');
  });
});

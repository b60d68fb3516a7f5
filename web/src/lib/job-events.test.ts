import { describe, expect, it } from 'vitest';
import { applyJobEvent, emptyJobs, parseJobEvent, removeJob, upsertJob, type JobView } from './job-events.js';

const rec = (over: Partial<JobView> = {}): JobView => ({
  id: 'a',
  name: 'cells.png',
  status: 'new',
  progress: 0,
  ...over,
});

describe('applyJobEvent', () => {
  it('moves a known job through statuses and progress', () => {
    let s = upsertJob(emptyJobs, rec());
    s = applyJobEvent(s, { id: 'a', status: 'pre-processing', progress: 10 });
    s = applyJobEvent(s, { id: 'a', progress: 40 });
    expect(s.jobs.get('a')).toMatchObject({ name: 'cells.png', status: 'pre-processing', progress: 40 });
    s = applyJobEvent(s, { id: 'a', status: 'done' });
    expect(s.jobs.get('a')).toMatchObject({ status: 'done', progress: 100 });
  });

  it('never leaves a final status and ignores late events', () => {
    let s = upsertJob(emptyJobs, rec({ status: 'failed', progress: 20, reason: 'not an image' }));
    const before = s;
    s = applyJobEvent(s, { id: 'a', status: 'predicting', progress: 60 });
    expect(s).toBe(before);
    expect(s.jobs.get('a')).toMatchObject({ status: 'failed', reason: 'not an image' });
  });

  it('keeps progress from going down within a status, but allows it on a status change', () => {
    let s = upsertJob(emptyJobs, rec({ status: 'predicting', progress: 50 }));
    s = applyJobEvent(s, { id: 'a', progress: 30 });
    expect(s.jobs.get('a')!.progress).toBe(50);
    s = applyJobEvent(s, { id: 'a', status: 'post-processing', progress: 45 });
    expect(s.jobs.get('a')!.progress).toBe(45);
  });

  it('records the reason of a failure', () => {
    let s = upsertJob(emptyJobs, rec());
    s = applyJobEvent(s, { id: 'a', status: 'failed', reason: 'preprocess: not a PNG or TIFF' });
    expect(s.jobs.get('a')).toMatchObject({ status: 'failed', reason: 'preprocess: not a PNG or TIFF' });
  });

  it('creates a stub for an unknown id and marks it for fetching; upsert clears the mark', () => {
    let s = applyJobEvent(emptyJobs, { id: 'b', status: 'started', progress: 5, parent: 'p' });
    expect(s.unknown.has('b')).toBe(true);
    expect(s.jobs.get('b')).toMatchObject({ name: '', status: 'started', progress: 5, parent: 'p' });
    s = upsertJob(s, rec({ id: 'b', name: 'x.tif', status: 'started', progress: 5 }));
    expect(s.unknown.has('b')).toBe(false);
    expect(s.jobs.get('b')!.name).toBe('x.tif');
  });

  it('ignores unknown statuses and clamps progress', () => {
    let s = upsertJob(emptyJobs, rec());
    s = applyJobEvent(s, { id: 'a', status: 'exploded', progress: 300 });
    expect(s.jobs.get('a')).toMatchObject({ status: 'new', progress: 100 });
  });

  it('does not change the state it was given', () => {
    const s0 = upsertJob(emptyJobs, rec());
    applyJobEvent(s0, { id: 'a', status: 'done' });
    expect(s0.jobs.get('a')!.status).toBe('new');
    expect(emptyJobs.jobs.size).toBe(0);
  });
});

describe('upsertJob / removeJob', () => {
  it('a stale non-final record does not undo a final status seen in an event', () => {
    let s = upsertJob(emptyJobs, rec());
    s = applyJobEvent(s, { id: 'a', status: 'done' });
    s = upsertJob(s, rec({ status: 'predicting', progress: 50, object_count: 3 }));
    expect(s.jobs.get('a')).toMatchObject({ status: 'done', progress: 100, object_count: 3 });
  });

  it("a stale record keeps the failure's reason that came with the final event", () => {
    let s = applyJobEvent(emptyJobs, { id: 'a', status: 'new' });
    s = applyJobEvent(s, { id: 'a', status: 'failed', reason: 'preprocess: not a TIFF' });
    s = upsertJob(s, rec({ status: 'pre-processing', progress: 5 })); // read before the failure
    expect(s.jobs.get('a')).toMatchObject({ status: 'failed', reason: 'preprocess: not a TIFF' });
  });

  it('removes a job and is a no-op for an unknown id', () => {
    const s = upsertJob(emptyJobs, rec());
    expect(removeJob(s, 'a').jobs.size).toBe(0);
    expect(removeJob(s, 'zzz')).toBe(s);
  });
});

describe('parseJobEvent', () => {
  it('keeps known fields of the right type and drops the rest', () => {
    expect(parseJobEvent('{"id":"a","status":"done","progress":"100","x":1}')).toEqual({
      id: 'a',
      status: 'done',
      progress: 100,
    });
  });

  it('returns undefined for bad JSON, non-objects and missing ids', () => {
    expect(parseJobEvent('not json')).toBeUndefined();
    expect(parseJobEvent('42')).toBeUndefined();
    expect(parseJobEvent('null')).toBeUndefined();
    expect(parseJobEvent('{"status":"done"}')).toBeUndefined();
    expect(parseJobEvent('{"id":""}')).toBeUndefined();
  });
});

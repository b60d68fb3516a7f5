/**
 * Progress of a batch of files as one number and a few counts, for the Segment page's summary bar.
 * Pure: items in, a summary out.
 */

/** The Kiosk job statuses (see workers/queues/job-record.ts), plus the two states a file has before it is a job. */
export type ItemState =
  | 'uploading'
  | 'rejected'
  | 'new'
  | 'waiting'
  | 'started'
  | 'pre-processing'
  | 'predicting'
  | 'post-processing'
  | 'saving-results'
  | 'done'
  | 'failed';

export interface ProgressItem {
  readonly state: ItemState;
  /** 0..100; values outside are clamped, NaN counts as 0. Ignored for final states. */
  readonly progress: number;
}

export interface BatchProgress {
  readonly total: number;
  /** Finished successfully. */
  readonly done: number;
  /** Failed as a job, or rejected before it became one (not an image, upload refused). */
  readonly failed: number;
  /** Uploading or being worked on (`started` … `saving-results`). */
  readonly active: number;
  /** Accepted but not started yet (`new`, `waiting`). */
  readonly queued: number;
  /**
   * Mean progress over all items, 0..100, rounded down: a final item (done, failed, rejected) counts 100,
   * an uploading one 0, any other its own progress. An empty batch is 0.
   */
  readonly percent: number;
  /** True when there is at least one item and every item is final. */
  readonly finished: boolean;
}

export function isFinalState(s: ItemState): boolean {
  return s === 'done' || s === 'failed' || s === 'rejected';
}

export function aggregateProgress(items: readonly ProgressItem[]): BatchProgress {
  let done = 0;
  let failed = 0;
  let active = 0;
  let queued = 0;
  let sum = 0;
  for (const it of items) {
    if (it.state === 'done') done++;
    else if (it.state === 'failed' || it.state === 'rejected') failed++;
    else if (it.state === 'new' || it.state === 'waiting') queued++;
    else active++;
    if (isFinalState(it.state)) sum += 100;
    else if (it.state !== 'uploading') sum += clampPercent(it.progress);
  }
  const total = items.length;
  return {
    total,
    done,
    failed,
    active,
    queued,
    percent: total === 0 ? 0 : Math.floor(sum / total),
    finished: total > 0 && done + failed === total,
  };
}

export function clampPercent(p: number): number {
  return Number.isFinite(p) ? Math.min(100, Math.max(0, p)) : 0;
}

/**
 * One line for the summary bar, e.g. `3 of 5 done · 1 failed · 1 running — 72 %`. `ready`: files added but
 * not submitted yet (not part of `p`); they are named, so the bar never says "No files yet" beside them.
 */
export function describeProgress(p: BatchProgress, ready = 0): string {
  const waiting = ready ? `${ready} file${ready === 1 ? '' : 's'} ready, not submitted yet` : '';
  if (p.total === 0) return waiting || 'No files yet';
  const parts = [`${p.done} of ${p.total} done`];
  if (p.failed) parts.push(`${p.failed} failed`);
  if (p.active) parts.push(`${p.active} running`);
  if (p.queued) parts.push(`${p.queued} queued`);
  return `${parts.join(' · ')} — ${p.percent} %${waiting ? ` · ${waiting}` : ''}`;
}

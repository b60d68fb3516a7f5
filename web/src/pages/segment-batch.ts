/**
 * The Segment page's list of files and their jobs (module state, so it outlives a visit to the Viewer),
 * and its memory across reloads: the submitted files (path, size, job id) are kept in localStorage
 * (lib/saved-batch.ts); the jobs live on in the kiosk, so a new page load fetches them again.
 */
import { api, ApiRequestError, type Job } from '../api.js';
import type { ItemState } from '../lib/progress.js';
import {
  parseSavedBatch,
  SAVED_BATCH_KEY,
  serializeSavedBatch,
  type SavedEntry,
} from '../lib/saved-batch.js';
import type { JobStore } from '../store.js';

export type Phase = 'ready' | 'rejected' | 'uploading' | 'submitted' | 'error';

export interface Item {
  readonly uid: number;
  readonly path: string;
  /** The file picked in this page load; absent for one restored after a reload (only its job is known). */
  readonly file?: File;
  readonly size: number;
  phase: Phase;
  upload: number;
  jobId?: string;
  error?: string;
}

/** The page's files, in the order they were added (module state: it outlives the page's unmounts). */
export const items: Item[] = [];
let nextUid = 1;

/** A new item id. */
export function newUid(): number {
  return nextUid++;
}
let restored = false;

/** Remembers the submitted files (path, size, job id) so a reload can show their jobs again. */
export function saveBatch(): void {
  const entries: SavedEntry[] = items.flatMap((it) =>
    it.jobId ? [{ path: it.path, jobId: it.jobId, size: it.size }] : [],
  );
  try {
    if (entries.length) localStorage.setItem(SAVED_BATCH_KEY, serializeSavedBatch(entries));
    else localStorage.removeItem(SAVED_BATCH_KEY);
  } catch {
    // storage disabled: the batch lasts until the page reloads, as before
  }
}

/**
 * On the first mount of a page load: the batch of the last load, its jobs fetched again. A job the kiosk
 * no longer has (expired, deleted) says so on its row.
 */
export function restoreBatch(store: JobStore, render: () => void): void {
  if (restored) return;
  restored = true;
  let saved: SavedEntry[] = [];
  try {
    saved = parseSavedBatch(localStorage.getItem(SAVED_BATCH_KEY));
  } catch {
    return;
  }
  for (const e of saved) {
    if (items.some((it) => it.jobId === e.jobId)) continue;
    const it: Item = {
      uid: nextUid++,
      path: e.path,
      size: e.size,
      phase: 'submitted',
      upload: 1,
      jobId: e.jobId,
    };
    items.push(it);
    api.job(e.jobId).then(
      (job) => store.put(job),
      (err: unknown) => {
        it.phase = 'error';
        it.error =
          err instanceof ApiRequestError && err.status === 404
            ? 'This job is no longer on the kiosk (it expired or was deleted).'
            : `Could not read this job: ${(err as Error).message}`;
        render();
      },
    );
  }
}

export function stateOf(
  it: Item,
  store: JobStore,
): { state: ItemState | 'ready'; progress: number; job?: Job } {
  if (it.phase === 'ready') return { state: 'ready', progress: 0 };
  if (it.phase === 'rejected' || it.phase === 'error') return { state: 'rejected', progress: 0 };
  if (it.phase === 'uploading') return { state: 'uploading', progress: it.upload * 100 };
  const j = it.jobId ? store.get(it.jobId) : undefined;
  return j
    ? { state: j.status, progress: j.progress, job: j as unknown as Job }
    : { state: 'new', progress: 0 };
}

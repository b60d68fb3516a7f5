/**
 * The Segment page's batch as it is kept in localStorage, so a reload (or a new tab) shows the jobs it
 * submitted, which live on in the kiosk: per file its path, size and job id. Pure: text in, entries out;
 * anything malformed is dropped, never thrown.
 */

export interface SavedEntry {
  readonly path: string;
  readonly jobId: string;
  /** Bytes of the file when it was submitted. */
  readonly size: number;
}

/** localStorage key of the batch. */
export const SAVED_BATCH_KEY = 'cellkiosk.segment.batch';

/** At most this many files are remembered (the newest); a page of thousands would only be slow. */
export const MAX_SAVED = 1000;

export function parseSavedBatch(text: string | null): SavedEntry[] {
  if (!text) return [];
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(data)) return [];
  const out: SavedEntry[] = [];
  for (const e of data as unknown[]) {
    if (!e || typeof e !== 'object') continue;
    const { path, jobId, size } = e as Record<string, unknown>;
    if (typeof path !== 'string' || typeof jobId !== 'string' || path === '' || jobId === '') continue;
    out.push({ path, jobId, size: typeof size === 'number' && size >= 0 ? size : 0 });
  }
  return out.slice(-MAX_SAVED);
}

export function serializeSavedBatch(entries: readonly SavedEntry[]): string {
  return JSON.stringify(entries.slice(-MAX_SAVED).map(({ path, jobId, size }) => ({ path, jobId, size })));
}

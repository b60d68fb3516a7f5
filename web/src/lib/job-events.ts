/**
 * The UI's view of jobs, kept up to date from the API's server-sent events. Pure reducer: a state and an
 * event in, a new state out (the input state is never changed).
 *
 * Events are the records' change notices (`{id, status?, progress?, parent?, reason?}`, see
 * workers/queues/job-record.ts). Rules, so that late or repeated events never make the UI go backwards:
 * - a job that is `done` or `failed` stays so (a late progress event after the final one is ignored);
 * - progress never decreases while the status stays the same;
 * - an event for a job the UI does not know yet creates a stub (`name` empty) and puts its id in
 *   `unknown`, so the page can fetch the full record once.
 */

/** Every status a job goes through, in order (the Jobs page's filter lists them in this order). */
export const JOB_STATUSES = [
  'new',
  'waiting',
  'started',
  'pre-processing',
  'predicting',
  'post-processing',
  'saving-results',
  'done',
  'failed',
] as const;

export type JobStatus = (typeof JOB_STATUSES)[number];

export function isJobStatus(s: unknown): s is JobStatus {
  return typeof s === 'string' && (JOB_STATUSES as readonly string[]).includes(s);
}

export function isFinal(s: JobStatus): boolean {
  return s === 'done' || s === 'failed';
}

/** What the UI shows of a job; a subset of the API's job record. */
export interface JobView {
  readonly id: string;
  readonly name: string;
  readonly status: JobStatus;
  /** 0..100 */
  readonly progress: number;
  readonly reason?: string;
  readonly parent?: string;
  readonly [extra: string]: unknown;
}

export interface JobEvent {
  readonly id: string;
  readonly status?: string;
  readonly progress?: number;
  readonly parent?: string;
  readonly reason?: string;
}

export interface JobsState {
  readonly jobs: ReadonlyMap<string, JobView>;
  /** Ids seen only through events; the page fetches their records and calls `upsertJob`. */
  readonly unknown: ReadonlySet<string>;
}

export const emptyJobs: JobsState = { jobs: new Map(), unknown: new Set() };

/** Parses one SSE `data:` payload; undefined for anything that is not an object with a string id. */
export function parseJobEvent(data: string): JobEvent | undefined {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.id !== 'string' || o.id === '') return undefined;
  return {
    id: o.id,
    ...(typeof o.status === 'string' ? { status: o.status } : {}),
    ...(typeof o.progress === 'number' || typeof o.progress === 'string'
      ? { progress: Number(o.progress) }
      : {}),
    ...(typeof o.parent === 'string' ? { parent: o.parent } : {}),
    ...(typeof o.reason === 'string' ? { reason: o.reason } : {}),
  };
}

/** Applies one event; see the module comment for the rules. Unknown statuses are ignored. */
export function applyJobEvent(state: JobsState, ev: JobEvent): JobsState {
  const prev = state.jobs.get(ev.id);
  const status = isJobStatus(ev.status) ? ev.status : undefined;
  if (!prev) {
    const stub: JobView = {
      id: ev.id,
      name: '',
      status: status ?? 'new',
      progress: status === 'done' ? 100 : finiteOr(ev.progress, 0),
      ...(ev.reason !== undefined ? { reason: ev.reason } : {}),
      ...(ev.parent !== undefined ? { parent: ev.parent } : {}),
    };
    return {
      jobs: new Map(state.jobs).set(ev.id, stub),
      unknown: new Set(state.unknown).add(ev.id),
    };
  }
  if (isFinal(prev.status)) return state;
  const nextStatus = status ?? prev.status;
  let progress = finiteOr(ev.progress, prev.progress);
  if (nextStatus === prev.status && progress < prev.progress) progress = prev.progress;
  if (nextStatus === 'done') progress = 100;
  const next: JobView = {
    ...prev,
    status: nextStatus,
    progress,
    ...(ev.reason !== undefined ? { reason: ev.reason } : {}),
    ...(ev.parent !== undefined ? { parent: ev.parent } : {}),
  };
  return { jobs: new Map(state.jobs).set(ev.id, next), unknown: state.unknown };
}

/**
 * Puts a full record (from GET) into the state. A record replaces what events built, unless the state
 * already holds a final status and the record does not (the record was read before the final event).
 */
export function upsertJob(state: JobsState, rec: JobView): JobsState {
  const prev = state.jobs.get(rec.id);
  const keepPrev = prev && isFinal(prev.status) && !isFinal(rec.status);
  const merged: JobView = keepPrev
    ? {
        ...rec,
        status: prev.status,
        progress: prev.progress,
        ...(prev.reason !== undefined ? { reason: prev.reason } : {}),
      }
    : rec;
  const unknown = new Set(state.unknown);
  unknown.delete(rec.id);
  return { jobs: new Map(state.jobs).set(rec.id, merged), unknown };
}

export function removeJob(state: JobsState, id: string): JobsState {
  if (!state.jobs.has(id)) return state;
  const jobs = new Map(state.jobs);
  jobs.delete(id);
  const unknown = new Set(state.unknown);
  unknown.delete(id);
  return { jobs, unknown };
}

function finiteOr(v: number | undefined, fallback: number): number {
  return v !== undefined && Number.isFinite(v) ? Math.min(100, Math.max(0, v)) : fallback;
}

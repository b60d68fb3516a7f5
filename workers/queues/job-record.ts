/**
 * The job record's model: the Kiosk statuses, the `JobRecord` a Redis hash holds, the events published on
 * each change, and how a record is flattened into hash fields and parsed back. Stored and queried by
 * `JobRecords` (records.ts).
 */
import type { SegmentationOptions } from './payloads.js';

/**
 * Kiosk statuses, in order. Batch (zip / multi-file) parents sit in `waiting` until their children finish.
 * `done` and `failed` are final; a failed job always has a `reason`.
 */
export const STATUSES = [
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
export type JobStatus = (typeof STATUSES)[number];
export const FINAL_STATUSES: readonly JobStatus[] = ['done', 'failed'];

export interface ChildFailure {
  readonly name: string;
  readonly reason: string;
}

/**
 * The user-visible state of one job: a Redis hash `<prefix>:job:<id>` whose field names are the DeepCell
 * Kiosk's (the compatible `/api/redis` route reads them raw). Times are ISO-8601 (UTC); durations seconds.
 */
export interface JobRecord {
  readonly id: string;
  readonly type: string;
  /** `image`: one image; `batch`: a zip or several files, whose children are image jobs. */
  readonly kind: 'image' | 'batch';
  readonly lab: string;
  readonly name: string;
  readonly model: string;
  readonly model_version: string;
  readonly options: SegmentationOptions;
  readonly status: JobStatus;
  /** 0..100 */
  readonly progress: number;
  readonly reason?: string;
  readonly failures?: readonly ChildFailure[];
  /** Bucket key of the result zip (`<stem>_feature_0.tif` inside, as the Kiosk made). */
  readonly output_key?: string;
  /** Bucket key of the label TIFF (image jobs). */
  readonly labels_key?: string;
  readonly object_count?: number;
  readonly created_at: string;
  readonly updated_at: string;
  readonly started_at?: string;
  readonly finished_at?: string;
  readonly total_time?: number;
  readonly preprocess_time?: number;
  readonly prediction_time?: number;
  readonly postprocess_time?: number;
  /** seconds reading the input image from the bucket (the Kiosk's `download_time`) */
  readonly download_time?: number;
  /** seconds writing the results to the bucket (the Kiosk's `upload_time`) */
  readonly upload_time?: number;
  /** times the predict stage was retried before it ran through (the Kiosk's `predict_retries`) */
  readonly predict_retries?: number;
  /** a batch: seconds its pack stage took to gather and zip its images' results (the Kiosk's `cleanup_time`) */
  readonly cleanup_time?: number;
  readonly parent?: string;
  readonly children?: readonly string[];
  readonly total_jobs?: number;
  readonly cancelled?: boolean;
  /**
   * Bucket key of the job's input: an image job's image (a zip child's lies under `<zip>.d/`); a batch's
   * zip when all its images came from one. @default - unknown (records made before inputs were kept)
   */
  readonly input_key?: string;
  /** Top-level jobs: the upload folders (`uploads/<lab>/<id>/`) its inputs came from, deleted with it. */
  readonly uploads?: readonly string[];
}

export interface JobEvent {
  readonly id: string;
  readonly status: JobStatus;
  readonly progress: number;
  readonly parent?: string;
  readonly reason?: string;
}

/** A record flattened into Redis hash fields. */
export type Fields = Record<string, string | number>;

const NUMERIC = [
  'progress',
  'object_count',
  'total_time',
  'preprocess_time',
  'prediction_time',
  'postprocess_time',
  'download_time',
  'upload_time',
  'predict_retries',
  'cleanup_time',
  'total_jobs',
];
const JSONS = ['options', 'failures', 'children', 'uploads'];

export function toFields(rec: Partial<JobRecord> & Record<string, unknown>): Fields {
  const out: Fields = {};
  for (const [k, v] of Object.entries(rec)) {
    if (v === undefined) continue;
    if (JSONS.includes(k)) out[k] = JSON.stringify(v);
    else if (typeof v === 'boolean') out[k] = v ? '1' : '0';
    else out[k] = v as string | number;
  }
  return out;
}

export function eventOf(id: string, f: Fields): Partial<JobEvent> & { id: string } {
  const ev: Record<string, unknown> = { id };
  for (const k of ['status', 'progress', 'parent', 'reason'] as const)
    if (f[k] !== undefined) ev[k] = k === 'progress' ? Number(f[k]) : f[k];
  return ev as Partial<JobEvent> & { id: string };
}

/** Parses a record hash; unknown extra fields are ignored. */
export function parseRecord(raw: Record<string, string>): JobRecord {
  const rec: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (NUMERIC.includes(k)) rec[k] = Number(v);
    else if (JSONS.includes(k)) rec[k] = JSON.parse(v) as unknown;
    else if (k === 'cancelled') rec[k] = v === '1';
    else rec[k] = v;
  }
  return rec as unknown as JobRecord;
}

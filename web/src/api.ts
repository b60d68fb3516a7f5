/**
 * The browser's client of the kiosk API (same origin). Routes are API v1 (api/routes/); every error
 * response is `{ error: code, message }` and surfaces here as an ApiRequestError with that message.
 * Requests carry the stored API token (./auth.ts); a 401 asks the user for one.
 */
import { askForToken, authHeaders, authorizeXhr, withToken } from './auth.js';
import { bucketBytes, isOtherOrigin } from './lib/bucket-fetch.js';

export { authHeaders, authorizeXhr, withToken };

export interface JobChild {
  readonly id: string;
  readonly name: string;
  readonly status: string;
  readonly progress: number;
  readonly reason?: string;
  readonly objectCount?: number;
}

export interface Job {
  readonly id: string;
  readonly type: string;
  readonly kind: 'image' | 'batch';
  readonly name: string;
  readonly status: string;
  readonly progress: number;
  readonly model: string;
  readonly modelVersion: string;
  readonly options: Record<string, unknown>;
  readonly reason?: string;
  readonly failures?: readonly { name: string; reason: string }[];
  readonly objectCount?: number;
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly totalTime?: number;
  readonly resultUrl?: string;
  readonly labelsUrl?: string;
  /** A done image job of a type with several outputs: each output's label TIFF (the first is labelsUrl). */
  readonly outputs?: readonly { readonly name: string; readonly url: string }[];
  /** The image the job segmented, when the API exposes it. */
  readonly inputUrl?: string;
  /** Upload keys of the job's inputs, when the API exposes them (re-run needs them). */
  readonly inputs?: readonly string[];
  readonly parent?: string;
  readonly children?: readonly JobChild[];
}

export interface SegmentationOptions {
  micronsPerPixel?: number;
  channels?: number[];
  dimensionOrder?: string;
  /** A z-stack segmented in 3-D (job types whose input axes include ZYX): one ZYX label TIFF. */
  volume?: boolean;
  /**
   * Job type whole-cell only: `name@version` of a bioimage.io import that gives the cells' foreground (and
   * boundaries) instead of the classical Otsu + Propagate on the membrane channel.
   */
  cellModel?: string;
}

export interface CreateJob {
  readonly type: string;
  readonly model?: string;
  readonly modelVersion?: string;
  readonly inputs: readonly string[];
  readonly name?: string;
  readonly options: SegmentationOptions;
}

/** A job type as GET /v1/job-types gives it (workers/jobtypes/describe.ts; older kiosks: name only). */
export interface JobType {
  readonly name: string;
  readonly description?: string;
  readonly defaultModel?: string;
  readonly aliases?: readonly string[];
  readonly input?: {
    readonly channels: readonly { readonly name: string; readonly description: string }[];
    readonly channelsFromModel: boolean;
    readonly axes: readonly string[];
    readonly dtypes: readonly string[];
  };
  readonly outputs?: readonly {
    readonly name: string;
    readonly kind: string;
    readonly description: string;
  }[];
}

export interface ModelInfo {
  readonly name: string;
  readonly version: string;
  readonly source?: string;
  readonly card?: Record<string, unknown>;
}

export class ApiRequestError extends Error {
  override readonly name = 'ApiRequestError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function errorOf(res: Response): Promise<ApiRequestError> {
  let code = 'http-' + res.status;
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: string; message?: string };
    if (body.error) code = body.error;
    if (body.message) message = body.message;
  } catch {
    // not JSON: keep the status line
  }
  if (res.status === 401) askForToken(message);
  return new ApiRequestError(res.status, code, message);
}

/** How long to wait before retrying a 429: its Retry-After (seconds), capped at 60 s. */
export function retryDelayMs(retryAfter: string | null, attempt: number): number {
  const s = Number(retryAfter);
  return Math.min(60_000, Number.isFinite(s) && s > 0 ? s * 1000 : 1000 * 2 ** attempt);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * fetch that waits out the kiosk's rate limit (429, up to 5 times, as Retry-After says), so dropping a
 * few thousand files does not turn into "rate-limited" errors.
 */
export async function kioskFetch(url: string, init?: RequestInit): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(url, init);
    if (res.status !== 429 || attempt >= 5) return res;
    await sleep(retryDelayMs(res.headers.get('retry-after'), attempt));
  }
}

export async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await kioskFetch(url, {
    ...init,
    headers: { accept: 'application/json', ...authHeaders(), ...init?.headers },
  });
  if (!res.ok) throw await errorOf(res);
  return (await res.json()) as T;
}

async function sendJson<T>(method: string, url: string, body?: unknown): Promise<T> {
  const res = await kioskFetch(url, {
    method,
    headers: {
      accept: 'application/json',
      ...authHeaders(),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (!res.ok) throw await errorOf(res);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

export const api = {
  jobTypes: async (): Promise<JobType[]> => {
    const r = await getJson<{ jobTypes: (JobType | string)[] }>('/v1/job-types');
    return r.jobTypes.map((t) => (typeof t === 'string' ? { name: t } : t));
  },
  models: async (): Promise<ModelInfo[]> => {
    const r = await getJson<{ models: ModelInfo[] }>('/v1/models');
    return r.models;
  },
  job: (id: string) => getJson<Job>(`/v1/jobs/${encodeURIComponent(id)}`),
  jobs: async (q: { limit?: number; offset?: number; status?: string } = {}): Promise<Job[]> => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') params.set(k, String(v));
    return (await getJson<{ jobs: Job[] }>(`/v1/jobs?${params}`)).jobs;
  },
  createJob: (body: CreateJob) => sendJson<Job>('POST', '/v1/jobs', body),
  cancel: (id: string) => sendJson<Job>('POST', `/v1/jobs/${encodeURIComponent(id)}/cancel`),
  /** POST /v1/trainings/:id/cancel: a waiting training fails at once, a running one when its worker sees the flag. */
  cancelTraining: <T>(id: string) => sendJson<T>('POST', `/v1/trainings/${encodeURIComponent(id)}/cancel`),
  remove: (id: string) => sendJson<unknown>('DELETE', `/v1/jobs/${encodeURIComponent(id)}`),
  /** POST /v1/models/import (see importModel below). */
  importModel: (...args: Parameters<typeof importModel>) => importModel(...args),
  labelsUrl: (id: string) => withToken(`/v1/jobs/${encodeURIComponent(id)}/result?format=tif`),
  zipUrl: (id: string) => withToken(`/v1/jobs/${encodeURIComponent(id)}/result?format=zip`),
  /**
   * The bytes of a URL (a result file), or ApiRequestError; a cloud bucket's signed URL (another origin)
   * is fetched without the kiosk's token, and fails with a BucketFetchError that says why.
   */
  bytes: async (url: string): Promise<Uint8Array> => {
    if (isOtherOrigin(url)) return bucketBytes(url);
    const res = await kioskFetch(url, url.startsWith('/') ? { headers: authHeaders() } : {});
    if (!res.ok) throw await errorOf(res);
    return new Uint8Array(await res.arrayBuffer());
  },
};

/**
 * Uploads one file and creates its job in one request (POST /v1/jobs/upload): the job's fields as
 * POST /v1/jobs takes them, without `inputs` (the file is the input). Resolves to the job (its `inputs`
 * hold the upload key); rejects with ApiRequestError carrying the API's message.
 */
export async function submitFile(
  file: File,
  name: string,
  job: Omit<CreateJob, 'inputs'>,
  onProgress: (f: number) => void,
): Promise<Job> {
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(job))
    if (v !== undefined) fields[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return postForm('/v1/jobs/upload', formOf(fields, file, name), name, onProgress, (body) => {
    const j = body as Job | null;
    return j && typeof j.id === 'string' ? j : undefined;
  });
}

/** A model imported from a bioimage.io package (POST /v1/models/import's 201 body). */
export interface ImportedModel {
  readonly name: string;
  readonly version: string;
  /** How the outputs become labels (e.g. foreground-watershed). */
  readonly labels: string;
  /** The package's test, as run: passed, values compared, worst difference... */
  readonly test: { readonly passed?: boolean; readonly values?: number; readonly [k: string]: unknown };
}

/** The status POST would have answered a failed import's code with. */
const IMPORT_FAILURE_STATUS: Record<string, number> = { 'bad-model-package': 400, 'model-name-taken': 409 };

/** How often a model import that answered 202 is asked for its outcome. */
const IMPORT_POLL_MS = 1000;

/**
 * Imports a bioimage.io model package (.zip) as a model of the caller's lab: POST /v1/models/import with the
 * multipart field `package` (and `name` when given). A CPU worker checks it and runs its test; when that
 * outlasts the API's wait (202), the import's status URL is asked until it ends. Resolves to the imported
 * model; rejects with ApiRequestError carrying the API's reason (400 bad-model-package names the rdf field or
 * file, 409 model-name-taken). `onStage` reports 'uploading' (with the fraction sent) then 'testing'.
 */
export async function importModel(
  file: File,
  name: string | undefined,
  onStage: (stage: 'uploading' | 'testing', fraction?: number) => void = () => undefined,
): Promise<ImportedModel> {
  const form = new FormData();
  if (name) form.append('name', name);
  form.append('package', file, file.name);
  onStage('uploading', 0);
  const answer = await postForm<ImportedModel | { statusUrl: string }>(
    '/v1/models/import',
    form,
    file.name,
    (f) => onStage(f < 1 ? 'uploading' : 'testing', f),
    (body) => {
      const b = body as { name?: unknown; statusUrl?: unknown } | null;
      return b && (typeof b.name === 'string' || typeof b.statusUrl === 'string')
        ? (b as ImportedModel | { statusUrl: string })
        : undefined;
    },
  );
  if (!('statusUrl' in answer)) return answer;
  onStage('testing');
  for (;;) {
    const s = await getJson<
      | ({ status: 'done' } & ImportedModel)
      | { status: 'pending' }
      | { status: 'failed'; error: string; message: string }
    >(answer.statusUrl);
    if (s.status === 'done') return s;
    if (s.status === 'failed')
      throw new ApiRequestError(IMPORT_FAILURE_STATUS[s.error] ?? 500, s.error, s.message);
    await sleep(IMPORT_POLL_MS);
  }
}

function formOf(fields: Record<string, string>, file: File, name: string): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', file, name);
  return form;
}

class RateLimited extends Error {
  constructor(
    readonly retryAfter: string | null,
    readonly error: ApiRequestError,
  ) {
    super(error.message);
  }
}

/**
 * POSTs a multipart form with XMLHttpRequest (upload progress); `accept` picks the result from a 2xx body.
 * A 429 is tried again after the wait the kiosk asks for, at most 5 times.
 */
async function postForm<T>(
  url: string,
  form: FormData,
  name: string,
  onProgress: (f: number) => void,
  accept: (body: unknown) => T | undefined,
): Promise<T> {
  const once = () =>
    new Promise<T>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', url);
      authorizeXhr(xhr);
      xhr.responseType = 'json';
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
      };
      xhr.onerror = () =>
        reject(new ApiRequestError(0, 'network', `could not reach the kiosk to upload ${name}`));
      xhr.onload = () => {
        const body = xhr.response as { error?: string; message?: string } | null;
        const ok = xhr.status >= 200 && xhr.status < 300 ? accept(body) : undefined;
        if (ok !== undefined) return resolve(ok);
        if (xhr.status === 401) askForToken(body?.message ?? 'unauthorized');
        const error = new ApiRequestError(
          xhr.status,
          body?.error ?? `http-${xhr.status}`,
          body?.message ?? `upload failed (${xhr.status})`,
        );
        reject(xhr.status === 429 ? new RateLimited(xhr.getResponseHeader('retry-after'), error) : error);
      };
      xhr.send(form);
    });
  for (let attempt = 0; ; attempt++) {
    try {
      return await once();
    } catch (err) {
      if (!(err instanceof RateLimited) || attempt >= 5) throw err instanceof RateLimited ? err.error : err;
      onProgress(0);
      await sleep(retryDelayMs(err.retryAfter, attempt));
    }
  }
}

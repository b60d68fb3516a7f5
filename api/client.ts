/**
 * A small HTTP client of API v1, for the CLI (`kiosk predict`, `jobs`, `status`) and the benchmarks. A
 * kiosk with KIOSK_AUTH=tokens gets the token from KIOSK_TOKEN (docs/security.md), sent only to the kiosk.
 * Errors say what failed: `HTTP 400 not-an-image: cells.png is not a TIFF or PNG image (...)`, or that the
 * kiosk cannot be reached at all.
 */
import type { JobView } from './schemas.js';

/** The body of POST /v1/jobs. */
export interface JobRequest {
  inputs: string[];
  model?: string;
  modelVersion?: string;
  type?: string;
  name?: string;
  options?: { micronsPerPixel?: number; channels?: number[]; dimensionOrder?: string };
}

export class KioskClientError extends Error {
  override readonly name = 'KioskClientError';
  constructor(
    message: string,
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

export interface UploadFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

export class KioskClient {
  readonly base: string;
  /**
   * @param base the kiosk's URL
   * @param token a lab token (sent as `Authorization: Bearer`). @default - $KIOSK_TOKEN, else none
   */
  constructor(
    base: string,
    private readonly token: string | undefined = process.env.KIOSK_TOKEN || undefined,
  ) {
    this.base = base.replace(/\/+$/, '');
  }

  private async request(path: string, init: RequestInit = {}): Promise<Response> {
    const url = path.startsWith('http') ? path : `${this.base}${path}`;
    let res: Response;
    // Over the kiosk's rate limit (429): wait as its Retry-After says (at most 60 s), up to 5 times.
    for (let attempt = 0; ; attempt++) {
      try {
        // The token goes only to the kiosk itself, never to another host (a signed bucket URL).
        const own = this.token && (url === this.base || url.startsWith(`${this.base}/`));
        res = own
          ? await fetch(url, { ...init, headers: { ...init.headers, authorization: `Bearer ${this.token}` } })
          : await fetch(url, init);
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
        throw new KioskClientError(
          `cannot reach the kiosk at ${this.base} (${cause}); is it running (npm start) and is --host right?`,
        );
      }
      if (res.status !== 429 || attempt >= 5) break;
      const waitS = Math.min(60, Math.max(1, Number(res.headers.get('retry-after')) || 1));
      await res.body?.cancel();
      await new Promise((r) => setTimeout(r, waitS * 1000));
    }
    if (!res.ok) {
      const text = await res.text();
      let code: string | undefined;
      let message = text.slice(0, 500);
      try {
        const body = JSON.parse(text) as { error?: string; message?: string };
        code = body.error;
        message = body.message ?? message;
      } catch {
        /* not JSON */
      }
      const hint = res.status === 401 ? ' (set KIOSK_TOKEN to a token of your lab)' : '';
      throw new KioskClientError(
        `HTTP ${res.status}${code ? ` ${code}` : ''}: ${message}${hint}`,
        res.status,
        code,
      );
    }
    return res;
  }

  private async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    return (await (await this.request(path, init)).json()) as T;
  }

  /** Uploads files in one multipart request; resolves to their upload keys, in order. */
  async upload(files: readonly UploadFile[]): Promise<string[]> {
    const fd = new FormData();
    for (const f of files) fd.append('file', new Blob([new Uint8Array(f.bytes)]), f.name);
    const body = await this.json<{ uploads: { key: string }[] }>('/v1/uploads', { method: 'POST', body: fd });
    return body.uploads.map((u) => u.key);
  }

  async createJob(body: JobRequest): Promise<JobView> {
    return this.json<JobView>('/v1/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  /**
   * Uploads files and creates one job over them in one request (POST /v1/jobs/upload): what upload() then
   * createJob() do, with one round trip fewer. One image → an image job; a zip or several files → a batch.
   */
  async submit(files: readonly UploadFile[], job: Omit<JobRequest, 'inputs'> = {}): Promise<JobView> {
    const fd = new FormData();
    for (const [k, v] of Object.entries(job)) {
      if (v !== undefined) fd.append(k, typeof v === 'string' ? v : JSON.stringify(v));
    }
    for (const f of files) fd.append('file', new Blob([new Uint8Array(f.bytes)]), f.name);
    return this.json<JobView>('/v1/jobs/upload', { method: 'POST', body: fd });
  }

  getJob(id: string): Promise<JobView> {
    return this.json<JobView>(`/v1/jobs/${encodeURIComponent(id)}`);
  }

  async listJobs(limit = 50, status?: string): Promise<JobView[]> {
    const q = new URLSearchParams({ limit: String(limit), ...(status ? { status } : {}) });
    return (await this.json<{ jobs: JobView[] }>(`/v1/jobs?${q}`)).jobs;
  }

  cancel(id: string): Promise<JobView> {
    return this.json<JobView>(`/v1/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
  }

  /** GETs a result URL (API file route or a signed bucket URL). */
  async download(url: string): Promise<Uint8Array> {
    return new Uint8Array(await (await this.request(url)).arrayBuffer());
  }
}

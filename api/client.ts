/**
 * A small HTTP client of API v1, for the CLI (`kiosk predict`, `jobs`, `status`) and the benchmarks. A
 * kiosk with KIOSK_AUTH=tokens gets the token from KIOSK_TOKEN (docs/security.md), sent only to the kiosk.
 * Errors say what failed: `HTTP 400 not-an-image: cells.png is not a TIFF or PNG image (...)`, or that the
 * kiosk cannot be reached at all.
 */
import { randomBytes } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
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

/** A response read whole: status, headers and body. */
interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

interface RequestOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  /** A string, a buffer, or parts sent one after another (a multipart upload: no copy of the files). */
  readonly body?: Buffer | string | readonly Buffer[];
}

export class KioskClient {
  readonly base: string;
  /**
   * Keep-alive connections, reused across requests. node:http rather than fetch: a multipart upload costs
   * the client a quarter of the CPU (measured with 16 uploads in flight: 0.63 vs 2.67 ms per upload), which
   * matters when the client shares the kiosk's machine.
   */
  private readonly agents = {
    http: new HttpAgent({ keepAlive: true }),
    https: new HttpsAgent({ keepAlive: true }),
  };

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

  /** Closes the idle keep-alive connections (a process that made requests then exits at once). */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private send(url: string, o: RequestOptions): Promise<HttpResponse> {
    const u = new URL(url);
    const https = u.protocol === 'https:';
    const headers: Record<string, string | number> = { ...o.headers };
    const parts =
      o.body === undefined ? [] : typeof o.body === 'string' || Buffer.isBuffer(o.body) ? [o.body] : o.body;
    if (o.body !== undefined) headers['content-length'] = parts.reduce((n, p) => n + Buffer.byteLength(p), 0);
    return new Promise((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(
        u,
        { method: o.method ?? 'GET', headers, agent: https ? this.agents.https : this.agents.http },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
        },
      );
      req.on('error', reject);
      for (const p of parts) req.write(p);
      req.end();
    });
  }

  private async request(path: string, init: RequestOptions = {}): Promise<HttpResponse> {
    const url = path.startsWith('http') ? path : `${this.base}${path}`;
    let res: HttpResponse;
    // Over the kiosk's rate limit (429): wait as its Retry-After says (at most 60 s), up to 5 times.
    for (let attempt = 0; ; attempt++) {
      try {
        // The token goes only to the kiosk itself, never to another host (a signed bucket URL).
        const own = this.token && (url === this.base || url.startsWith(`${this.base}/`));
        res = await this.send(
          url,
          own ? { ...init, headers: { ...init.headers, authorization: `Bearer ${this.token}` } } : init,
        );
      } catch (err) {
        const cause = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        throw new KioskClientError(
          `cannot reach the kiosk at ${this.base} (${cause}); is it running (npm start) and is --host right?`,
        );
      }
      if (res.status !== 429 || attempt >= 5) break;
      const waitS = Math.min(60, Math.max(1, Number(res.headers['retry-after']) || 1));
      await new Promise((r) => setTimeout(r, waitS * 1000));
    }
    if (res.status < 200 || res.status > 299) {
      const text = res.body.toString('utf8');
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

  private async json<T>(path: string, init: RequestOptions = {}): Promise<T> {
    return JSON.parse((await this.request(path, init)).body.toString('utf8')) as T;
  }

  /** Uploads files in one multipart request; resolves to their upload keys, in order. */
  async upload(files: readonly UploadFile[]): Promise<string[]> {
    const body = await this.json<{ uploads: { key: string }[] }>('/v1/uploads', {
      method: 'POST',
      ...multipartBody({}, files),
    });
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
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(job)) {
      if (v !== undefined) fields[k] = typeof v === 'string' ? v : JSON.stringify(v);
    }
    return this.json<JobView>('/v1/jobs/upload', { method: 'POST', ...multipartBody(fields, files) });
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
    const { body } = await this.request(url);
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  }
}

/**
 * A multipart/form-data body: text fields, then the files (field `file`), each part's name escaped as
 * browsers do (`"` → %22, CR → %0D, LF → %0A).
 */
function multipartBody(
  fields: Record<string, string>,
  files: readonly UploadFile[],
): { headers: Record<string, string>; body: Buffer[] } {
  const boundary = `----kiosk${randomBytes(12).toString('hex')}`;
  const esc = (s: string) => s.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields))
    parts.push(
      Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${esc(k)}"\r\n\r\n${v}\r\n`),
    );
  for (const f of files) {
    parts.push(
      Buffer.from(
        `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="${esc(f.name)}"\r\n` +
          'content-type: application/octet-stream\r\n\r\n',
      ),
      Buffer.from(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength),
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    body: parts,
  };
}

import type { Readable } from 'node:stream';
import {
  checkKey,
  checkPrefix,
  joinBytes,
  readAll,
  StorageError,
  type Bytes,
  type Storage,
} from './storage.js';

/** The part of a `@google-cloud/storage` File this backend uses. */
export interface GcsFileLike {
  readonly name: string;
  save(data: Uint8Array, options: { resumable: boolean }): Promise<unknown>;
  download(): Promise<[Uint8Array]>;
  createReadStream(): Readable;
  getMetadata(): Promise<[{ size?: string | number }, ...unknown[]]>;
  delete(options: { ignoreNotFound: boolean }): Promise<unknown>;
  getSignedUrl(config: { version: 'v4'; action: 'read'; expires: number }): Promise<[string]>;
}

/** The part of a `@google-cloud/storage` Bucket this backend uses. */
export interface GcsBucketLike {
  readonly name: string;
  /**
   * The client the bucket came from: its `apiEndpoint` is the host of the V4 signed URLs it makes.
   * @default - `https://storage.googleapis.com`
   */
  readonly storage?: { readonly apiEndpoint?: string };
  file(name: string): GcsFileLike;
  getFiles(query: { prefix: string; autoPaginate: boolean }): Promise<[GcsFileLike[], ...unknown[]]>;
}

export interface GcsStorageProps {
  /** The bucket, e.g. `new Storage().bucket('lab-kiosk')` from `@google-cloud/storage`. */
  readonly bucket: GcsBucketLike;
  /**
   * Key prefix inside the bucket (`kiosk/`), so one bucket can hold several deployments.
   * @default '' - keys are used as object names as they are
   */
  readonly prefix?: string;
}

/**
 * Google Cloud Storage backend. Credentials come from the environment (workload identity on GKE);
 * downloads are V4 signed URLs. Transient errors (HTTP 429/5xx, resets) become StorageError('unavailable').
 */
export class GcsStorage implements Storage {
  readonly kind = 'gcs' as const;
  private readonly bucket: GcsBucketLike;
  private readonly prefix: string;

  constructor(props: GcsStorageProps) {
    this.bucket = props.bucket;
    this.prefix = props.prefix ? checkPrefix(props.prefix, false) : '';
  }

  /** Opens a real bucket by name with `@google-cloud/storage` (loaded on first use). */
  static async open(bucketName: string, prefix?: string): Promise<GcsStorage> {
    const { Storage: GcsClient } = await import('@google-cloud/storage');
    const bucket = new GcsClient().bucket(bucketName) as unknown as GcsBucketLike;
    return new GcsStorage({ bucket, ...(prefix ? { prefix } : {}) });
  }

  private file(key: string): GcsFileLike {
    return this.bucket.file(this.prefix + checkKey(key));
  }

  async put(key: string, data: Bytes): Promise<void> {
    await gcsCall(key, () => this.file(key).save(joinBytes(data), { resumable: false }));
  }

  async putStream(key: string, body: Readable): Promise<number> {
    const data = await readAll(body);
    await this.put(key, data);
    return data.byteLength;
  }

  async get(key: string): Promise<Uint8Array> {
    const [data] = await gcsCall(key, () => this.file(key).download());
    return data;
  }

  async getStream(key: string): Promise<Readable> {
    if (!(await this.exists(key)))
      throw new StorageError('not-found', `no object ${key} in gs://${this.bucket.name}`);
    return this.file(key).createReadStream();
  }

  async size(key: string): Promise<number | undefined> {
    try {
      const [meta] = await gcsCall(key, () => this.file(key).getMetadata());
      return Number(meta.size ?? 0);
    } catch (err) {
      if (err instanceof StorageError && err.code === 'not-found') return undefined;
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.size(key)) !== undefined;
  }

  async list(prefix: string): Promise<string[]> {
    checkPrefix(prefix, true);
    const [files] = await gcsCall(prefix, () =>
      this.bucket.getFiles({ prefix: this.prefix + prefix, autoPaginate: true }),
    );
    return files.map((f) => f.name.slice(this.prefix.length)).sort();
  }

  async delete(key: string): Promise<void> {
    await gcsCall(key, () => this.file(key).delete({ ignoreNotFound: true }));
  }

  async deletePrefix(prefix: string): Promise<void> {
    checkPrefix(prefix, false);
    const keys = await this.list(prefix);
    await Promise.all(keys.map((k) => this.delete(k)));
  }

  async signedUrl(key: string, expiresInS: number): Promise<string> {
    const [url] = await gcsCall(key, () =>
      this.file(key).getSignedUrl({ version: 'v4', action: 'read', expires: Date.now() + expiresInS * 1000 }),
    );
    return url;
  }

  /** V4 signed URLs are path-style on the client's API endpoint (`https://storage.googleapis.com`). */
  async signedUrlOrigins(): Promise<readonly string[]> {
    return [new URL(this.bucket.storage?.apiEndpoint ?? GCS_API_ENDPOINT).origin];
  }
}

const GCS_API_ENDPOINT = 'https://storage.googleapis.com';

/** Maps the client's errors onto StorageError: 404 → not-found, 429/5xx/network → unavailable. */
async function gcsCall<T>(key: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const e = err as { code?: number | string; message?: string };
    const msg = e.message ?? String(err);
    if (e.code === 404) throw new StorageError('not-found', `no object ${key}: ${msg}`);
    if (
      e.code === 429 ||
      (typeof e.code === 'number' && e.code >= 500) ||
      e.code === 'ECONNRESET' ||
      e.code === 'ETIMEDOUT'
    ) {
      throw new StorageError('unavailable', `GCS unavailable for ${key}: ${msg}`);
    }
    throw err;
  }
}

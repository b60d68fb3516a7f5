import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Readable } from 'node:stream';
import {
  checkKey,
  checkPrefix,
  joinBytes,
  readAll,
  StorageError,
  type Bytes,
  type Storage,
} from './storage.js';

export interface S3StorageProps {
  readonly bucket: string;
  /**
   * The client. Credentials and region come from the environment (IRSA on EKS) unless you pass your own.
   * @default - `new S3Client({})`
   */
  readonly client?: S3Client;
  /**
   * Key prefix inside the bucket (`kiosk/`).
   * @default '' - keys are used as object keys as they are
   */
  readonly prefix?: string;
}

/**
 * Amazon S3 (or S3-compatible) backend; downloads are presigned GET URLs. Transient errors (throttling,
 * 5xx, network) become StorageError('unavailable'); a missing key becomes StorageError('not-found').
 */
export class S3Storage implements Storage {
  readonly kind = 's3' as const;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(props: S3StorageProps) {
    this.bucket = props.bucket;
    this.client = props.client ?? new S3Client({});
    this.prefix = props.prefix ? checkPrefix(props.prefix, false) : '';
  }

  private key(key: string): string {
    return this.prefix + checkKey(key);
  }

  async put(key: string, data: Bytes): Promise<void> {
    await s3Call(key, () =>
      this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: this.key(key), Body: joinBytes(data) }),
      ),
    );
  }

  async putStream(key: string, body: Readable): Promise<number> {
    // PutObject needs a known length; uploads are size-limited by the API, so buffering is bounded.
    const data = await readAll(body);
    await this.put(key, data);
    return data.byteLength;
  }

  async get(key: string): Promise<Uint8Array> {
    return readAll(await this.getStream(key));
  }

  async getStream(key: string): Promise<Readable> {
    const out = await s3Call(key, () =>
      this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) })),
    );
    if (!(out.Body instanceof Readable))
      throw new StorageError('unavailable', `S3 returned no body for ${key}`);
    return out.Body;
  }

  async size(key: string): Promise<number | undefined> {
    try {
      const out = await s3Call(key, () =>
        this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) })),
      );
      return out.ContentLength ?? 0;
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
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const out = await s3Call(prefix, () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            ContinuationToken: token,
          }),
        ),
      );
      for (const obj of out.Contents ?? []) if (obj.Key) keys.push(obj.Key.slice(this.prefix.length));
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  async delete(key: string): Promise<void> {
    await s3Call(key, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(key) })),
    );
  }

  async deletePrefix(prefix: string): Promise<void> {
    checkPrefix(prefix, false);
    const keys = await this.list(prefix);
    await Promise.all(keys.map((k) => this.delete(k)));
  }

  async signedUrl(key: string, expiresInS: number): Promise<string> {
    const cmd = new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) });
    return getSignedUrl(this.client, cmd, { expiresIn: expiresInS });
  }

  /**
   * The origin of this bucket's presigned URLs, as the SDK makes them: virtual-hosted
   * (`https://<bucket>.s3.<region>.amazonaws.com`), path-style (`https://s3.<region>.amazonaws.com` for a
   * bucket name with dots, or forcePathStyle), a custom endpoint (AWS_ENDPOINT_URL_S3; path-style for an IP
   * address), FIPS, dual-stack, accelerate or an access point. Presigns a URL with a copy of the client's
   * endpoint settings and throwaway credentials, so that the SDK's own endpoint rules decide, without
   * asking for the real credentials (on EKS a call to STS) or any network.
   */
  async signedUrlOrigins(): Promise<readonly string[]> {
    const c = this.client.config;
    const probe = new S3Client({
      credentials: { accessKeyId: 'origin-probe', secretAccessKey: 'origin-probe' },
      region: c.region,
      ...(c.isCustomEndpoint && c.endpoint ? { endpoint: c.endpoint } : {}),
      forcePathStyle: c.forcePathStyle,
      useFipsEndpoint: c.useFipsEndpoint,
      useDualstackEndpoint: c.useDualstackEndpoint,
      useAccelerateEndpoint: c.useAccelerateEndpoint,
      useArnRegion: c.useArnRegion,
      disableMultiregionAccessPoints: c.disableMultiregionAccessPoints,
      useGlobalEndpoint: c.useGlobalEndpoint,
    });
    try {
      const cmd = new GetObjectCommand({ Bucket: this.bucket, Key: this.key('origin-probe') });
      return [new URL(await getSignedUrl(probe, cmd, { expiresIn: 60 })).origin];
    } catch (err) {
      throw new Error(
        `cannot tell where the presigned URLs of S3 bucket ${this.bucket} point (set AWS_REGION, and ` +
          `AWS_ENDPOINT_URL_S3 for an S3-compatible server): ${(err as Error).message}`,
      );
    } finally {
      probe.destroy();
    }
  }
}

async function s3Call<T>(key: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const e = err as {
      name?: string;
      message?: string;
      $metadata?: { httpStatusCode?: number };
      code?: string;
    };
    const status = e.$metadata?.httpStatusCode;
    const msg = e.message ?? String(err);
    if (e.name === 'NoSuchKey' || e.name === 'NotFound' || status === 404) {
      throw new StorageError('not-found', `no object ${key}: ${e.name ?? msg}`);
    }
    if (
      status === 429 ||
      status === 503 ||
      (status !== undefined && status >= 500) ||
      e.code === 'ECONNRESET'
    ) {
      throw new StorageError('unavailable', `S3 unavailable for ${key}: ${msg}`);
    }
    throw err;
  }
}

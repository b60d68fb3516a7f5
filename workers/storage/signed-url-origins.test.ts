/**
 * Storage.signedUrlOrigins: the origins a web page must be allowed to fetch from (the API's CSP
 * connect-src) are exactly those of the URLs signedUrl hands out. Each cloud case presigns for real with
 * the cloud SDK (dummy credentials; presigning and V4 signing are local computations, no network) and
 * compares the origins.
 */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Storage as GcsClient } from '@google-cloud/storage';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FlakyStorage } from './flaky.js';
import { GcsStorage, type GcsBucketLike } from './gcs.js';
import { LocalFolderStorage } from './local.js';
import { S3Storage } from './s3.js';

const DUMMY = { accessKeyId: 'AKIDDUMMY', secretAccessKey: 'dummy-secret' };

afterEach(() => {
  vi.unstubAllEnvs();
});

/** The origin of a real presigned URL, and what signedUrlOrigins says, for one client configuration. */
async function s3Origins(bucket: string, config: S3ClientConfig) {
  const signing = new S3Storage({ bucket, prefix: 'kiosk/', client: new S3Client({ ...config, credentials: DUMMY }) });
  let asked = 0;
  // The storage under test never gets usable credentials: working out the origin must not need them.
  const credentials = async () => {
    asked++;
    throw new Error('no credentials here');
  };
  const s = new S3Storage({ bucket, prefix: 'kiosk/', client: new S3Client({ ...config, credentials }) });
  const origins = await s.signedUrlOrigins();
  return { origins, signed: new URL(await signing.signedUrl('results/lab/j1/labels.tif', 60)).origin, asked };
} // prettier-ignore

describe('S3: the origins of presigned URLs, as @aws-sdk/s3-request-presigner makes them', () => {
  it.each<[string, string, S3ClientConfig, string]>([
    ['virtual-hosted', 'lab-kiosk', { region: 'eu-west-1' }, 'https://lab-kiosk.s3.eu-west-1.amazonaws.com'],
    ['path-style (a bucket name with dots)', 'lab.kiosk', { region: 'eu-west-1' }, 'https://s3.eu-west-1.amazonaws.com'],
    ['path-style (forcePathStyle)', 'lab-kiosk', { region: 'us-east-2', forcePathStyle: true }, 'https://s3.us-east-2.amazonaws.com'],
    ['custom endpoint at an IP address (path-style)', 'lab-kiosk', { region: 'us-east-1', endpoint: 'http://10.88.0.1:4569' }, 'http://10.88.0.1:4569'],
    ['custom endpoint at a host name (virtual-hosted)', 'lab-kiosk', { region: 'us-east-1', endpoint: 'http://minio.lab:9000' }, 'http://lab-kiosk.minio.lab:9000'],
    ['custom endpoint, forcePathStyle', 'lab-kiosk', { region: 'us-east-1', endpoint: 'https://minio.lab', forcePathStyle: true }, 'https://minio.lab'],
    ['FIPS', 'lab-kiosk', { region: 'us-east-1', useFipsEndpoint: true }, 'https://lab-kiosk.s3-fips.us-east-1.amazonaws.com'],
    ['dual-stack', 'lab-kiosk', { region: 'eu-west-1', useDualstackEndpoint: true }, 'https://lab-kiosk.s3.dualstack.eu-west-1.amazonaws.com'],
    ['transfer acceleration', 'lab-kiosk', { region: 'eu-west-1', useAccelerateEndpoint: true }, 'https://lab-kiosk.s3-accelerate.amazonaws.com'],
  ])('%s', async (_name, bucket, config, expected) => {
    const r = await s3Origins(bucket, config);
    expect(r.signed).toBe(expected);
    expect(r.origins).toEqual([expected]);
    expect(r.asked).toBe(0);
  }); // prettier-ignore

  it('an endpoint from the environment (AWS_ENDPOINT_URL_S3, as the deploy rehearsal sets it) for the default client', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL_S3', 'http://10.88.0.1:4569');
    vi.stubEnv('AWS_REGION', 'us-east-1');
    const s = new S3Storage({ bucket: 'lab-kiosk' }); // new S3Client({}): what openStorage('s3://…') makes
    expect(await s.signedUrlOrigins()).toEqual(['http://10.88.0.1:4569']);
    vi.stubEnv('AWS_ENDPOINT_URL_S3', '');
    vi.stubEnv('AWS_ENDPOINT_URL', 'http://127.0.0.1:4570');
    expect(await new S3Storage({ bucket: 'lab-kiosk' }).signedUrlOrigins()).toEqual([
      'http://127.0.0.1:4570',
    ]);
  });

  it('no region: a clear error that names AWS_REGION', async () => {
    const s = new S3Storage({ bucket: 'lab-kiosk', client: new S3Client({ region: async () => '', credentials: DUMMY }) });
    await expect(s.signedUrlOrigins()).rejects.toThrow(
      /cannot tell where the presigned URLs of S3 bucket lab-kiosk point \(set AWS_REGION/,
    );
  }); // prettier-ignore
});

describe('GCS: V4 signed URLs (signed locally with a throwaway service-account key)', () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const credentials = {
    client_email: 'kiosk-api@lab-project.iam.gserviceaccount.com',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };

  it.each<[string, Record<string, string>, string]>([
    ['the default endpoint', {}, 'https://storage.googleapis.com'],
    ['a custom API endpoint', { apiEndpoint: 'http://127.0.0.1:4443' }, 'http://127.0.0.1:4443'],
  ])('%s', async (_name, options, expected) => {
    const client = new GcsClient({ projectId: 'lab-project', credentials, ...options });
    const s = new GcsStorage({ bucket: client.bucket('lab-kiosk') as unknown as GcsBucketLike, prefix: 'kiosk/' });
    const signed = await s.signedUrl('results/lab/j1/labels.tif', 60);
    expect(signed).toMatch(/[?&]X-Goog-Signature=/);
    expect(new URL(signed).origin).toBe(expected);
    expect(await s.signedUrlOrigins()).toEqual([expected]);
  }); // prettier-ignore
});

describe('backends without signed URLs, and wrappers', () => {
  it('a local folder has none (the API serves its files); FlakyStorage passes the inner answer on', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiosk-origins-'));
    try {
      const local = new LocalFolderStorage(dir);
      expect(await local.signedUrlOrigins()).toEqual([]);
      expect(await new FlakyStorage(local, 0.5).signedUrlOrigins()).toEqual([]);
      const s3 = new S3Storage({ bucket: 'lab-kiosk', client: new S3Client({ region: 'eu-west-1', credentials: DUMMY }) });
      expect(await new FlakyStorage(s3, 0.5).signedUrlOrigins()).toEqual(['https://lab-kiosk.s3.eu-west-1.amazonaws.com']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }); // prettier-ignore
});

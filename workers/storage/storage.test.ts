import { S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { GcsStorage } from './gcs.js';
import { existsSync } from 'node:fs';
import { writeFile, mkdir, symlink } from 'node:fs/promises';
import { LocalFolderStorage, SYNC_IO_MAX_BYTES } from './local.js';
import { S3Storage } from './s3.js';
import { checkKey, readAll, StorageError, type Storage } from './storage.js';
import { mockGcsBucket, mockS3Handler } from './storage-mocks.test-helpers.js';
import { openStorage, scratchDirFor } from './index.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function localStorage(): Promise<Storage> {
  const dir = await mkdtemp(join(tmpdir(), 'kiosk-storage-'));
  dirs.push(dir);
  return new LocalFolderStorage(dir);
}

function s3Storage(): Storage {
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: 'http://s3.mock.invalid',
    forcePathStyle: true,
    credentials: { accessKeyId: 'AKIDMOCK', secretAccessKey: 'mock-secret' },
    requestHandler: mockS3Handler(),
    maxAttempts: 1,
  });
  return new S3Storage({ bucket: 'lab-bucket', client, prefix: 'kiosk/' });
}

const backends: [string, () => Promise<Storage> | Storage][] = [
  ['local folder', localStorage],
  ['GCS (mock bucket)', () => new GcsStorage({ bucket: mockGcsBucket(), prefix: 'kiosk/' })],
  ['S3 (mock endpoint)', s3Storage],
];

describe.each(backends)('Storage contract: %s', (_name, make) => {
  it('writes, reads, overwrites, sizes, lists and deletes objects', async () => {
    const s = await make();
    await s.put('results/lab/j1/a.tif', new Uint8Array([1, 2, 3]));
    await s.put('results/lab/j1/a.tif', new Uint8Array([4, 5])); // idempotent overwrite
    await s.put('results/lab/j2/b.tif', new Uint8Array([9]));
    expect([...(await s.get('results/lab/j1/a.tif'))]).toEqual([4, 5]);
    expect(await s.size('results/lab/j1/a.tif')).toBe(2);
    expect(await s.exists('results/lab/nope')).toBe(false);
    expect(await s.list('results/lab/')).toEqual(['results/lab/j1/a.tif', 'results/lab/j2/b.tif']);
    await s.deletePrefix('results/lab/j1/');
    expect(await s.list('results/')).toEqual(['results/lab/j2/b.tif']);
    await s.delete('results/lab/j2/b.tif');
    await s.delete('results/lab/j2/b.tif'); // missing is fine
    expect(await s.list('results/')).toEqual([]);
  });

  it('writes an object given as parts (empty ones too) as their concatenation', async () => {
    const s = await make();
    const parts = [new Uint8Array([1, 2]), new Uint8Array(0), new Uint8Array([3]), new Uint8Array([4, 5, 6])];
    await s.put('scratch/j/p1.outputs.ktp', parts);
    expect([...(await s.get('scratch/j/p1.outputs.ktp'))]).toEqual([1, 2, 3, 4, 5, 6]);
    await s.put('scratch/j/empty', []);
    expect(await s.size('scratch/j/empty')).toBe(0);
  });

  it('streams objects in and out', async () => {
    const s = await make();
    const n = await s.putStream(
      'uploads/x/big.bin',
      Readable.from([Buffer.alloc(1000, 7), Buffer.alloc(24, 8)]),
    );
    expect(n).toBe(1024);
    const back = await readAll(await s.getStream('uploads/x/big.bin'));
    expect(back.byteLength).toBe(1024);
    expect(back[1023]).toBe(8);
  });

  it('throws StorageError not-found for a missing object', async () => {
    const s = await make();
    await expect(s.get('uploads/none.png')).rejects.toMatchObject({ code: 'not-found' });
    await expect(s.getStream('uploads/none.png')).rejects.toMatchObject({ code: 'not-found' });
  });

  it('refuses keys that escape or are malformed', async () => {
    const s = await make();
    await expect(s.put('../etc/passwd', new Uint8Array(1))).rejects.toThrow(/'\.\.' path segment/);
    await expect(s.put('/abs', new Uint8Array(1))).rejects.toThrow(/absolute/);
    await expect(s.list('uploads')).rejects.toThrow(/must end with \//);
  });
});

describe('Storage details', () => {
  it('checkKey explains each problem', () => {
    expect(() => checkKey('')).toThrow(/empty/);
    expect(() => checkKey('a//b')).toThrow(/'' path segment/);
    expect(() => checkKey('a\\b')).toThrow(/backslash/);
    expect(() => checkKey('a\u0001')).toThrow(/control character/);
    expect(checkKey('uploads/lab/id/img.png')).toBe('uploads/lab/id/img.png');
    expect(new StorageError('not-found', 'x').name).toBe('StorageError');
  });

  it('local folder has no signed URLs (the API serves downloads); a failed stream leaves no object', async () => {
    const s = await localStorage();
    expect(await s.signedUrl('a', 60)).toBeUndefined();
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(10));
        this.destroy(new Error('client went away'));
      },
    });
    await expect(s.putStream('uploads/partial.png', failing)).rejects.toThrow(/client went away/);
    expect(await s.list('')).toEqual([]);
  });

  it('local folder keeps scratch keys in its scratch folder, and finds them in the bucket folder too', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiosk-storage-'));
    dirs.push(dir);
    const s = new LocalFolderStorage(join(dir, 'bucket'), { scratchDir: join(dir, 'shm') });
    await s.put('scratch/j1/p1.tiles.ktp', new Uint8Array([1, 2, 3]));
    await s.put('results/lab/j1/a.tif', new Uint8Array([4]));
    expect(existsSync(join(dir, 'shm', 'j1', 'p1.tiles.ktp'))).toBe(true);
    expect(existsSync(join(dir, 'bucket', 'scratch'))).toBe(false);
    expect([...(await s.get('scratch/j1/p1.tiles.ktp'))]).toEqual([1, 2, 3]);
    expect(await s.size('scratch/j1/p1.tiles.ktp')).toBe(3);
    expect((await readAll(await s.getStream('scratch/j1/p1.tiles.ktp'))).byteLength).toBe(3);
    // a copy the bucket folder got (the scratch folder was full, or before a restart) is found as well
    await mkdir(join(dir, 'bucket', 'scratch', 'j2'), { recursive: true });
    await writeFile(join(dir, 'bucket', 'scratch', 'j2', 'p1.outputs.ktp'), new Uint8Array([9]));
    expect([...(await s.get('scratch/j2/p1.outputs.ktp'))]).toEqual([9]);
    expect(await s.list('')).toEqual([
      'results/lab/j1/a.tif',
      'scratch/j1/p1.tiles.ktp',
      'scratch/j2/p1.outputs.ktp',
    ]);
    // larger than the synchronous limit: the bucket folder, and no stale scratch copy shadows it
    await s.put('scratch/j1/p1.tiles.ktp', new Uint8Array(SYNC_IO_MAX_BYTES + 1));
    expect(existsSync(join(dir, 'shm', 'j1', 'p1.tiles.ktp'))).toBe(false);
    expect((await s.get('scratch/j1/p1.tiles.ktp')).byteLength).toBe(SYNC_IO_MAX_BYTES + 1);
    await s.deletePrefix('scratch/j1/');
    expect(existsSync(join(dir, 'shm'))).toBe(false); // its last job gone: nothing left in the RAM folder
    await s.put('scratch/j3/p1.tiles.ktp', new Uint8Array([5])); // made again when needed
    expect(existsSync(join(dir, 'shm', 'j3', 'p1.tiles.ktp'))).toBe(true);
    await s.deletePrefix('scratch/j3/');
    await s.delete('scratch/j2/p1.outputs.ktp');
    expect(await s.list('scratch/')).toEqual([]);
    await expect(s.get('scratch/j1/p1.tiles.ktp')).rejects.toMatchObject({ code: 'not-found' });
    expect(scratchDirFor(join(dir, 'bucket'), 'bucket')).toBeUndefined();
    expect(scratchDirFor('b', join(dir, 'x'))).toBe(join(dir, 'x'));
  });

  it('local folder deletePrefix removes small folders, nested and large ones, and a linked folder as a link', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiosk-storage-'));
    dirs.push(dir);
    const s = new LocalFolderStorage(join(dir, 'bucket'));
    await s.put('results/lab/j1/a.tif', new Uint8Array([1]));
    await s.put('results/lab/j1/a.zip', new Uint8Array([2]));
    await s.put('results/lab/j2/deep/er/b.tif', new Uint8Array([3])); // subfolders
    for (let i = 0; i < 40; i++) await s.put(`results/lab/j3/${i}.tif`, new Uint8Array([i])); // many files
    await s.put('results/lab/j4/keep.tif', new Uint8Array([4]));
    await s.deletePrefix('results/lab/j1/');
    await s.deletePrefix('results/lab/j2/');
    await s.deletePrefix('results/lab/j3/');
    await s.deletePrefix('results/lab/nope/'); // missing is fine
    expect(await s.list('results/')).toEqual(['results/lab/j4/keep.tif']);
    for (const j of ['j1', 'j2', 'j3'])
      expect(existsSync(join(dir, 'bucket', 'results', 'lab', j))).toBe(false);
    // a folder that is a link to another: the link goes, the files it pointed to stay
    await mkdir(join(dir, 'elsewhere'));
    await writeFile(join(dir, 'elsewhere', 'x.bin'), new Uint8Array([5]));
    await symlink(join(dir, 'elsewhere'), join(dir, 'bucket', 'results', 'lab', 'linked'));
    await s.deletePrefix('results/lab/linked/');
    expect(existsSync(join(dir, 'bucket', 'results', 'lab', 'linked'))).toBe(false);
    expect(existsSync(join(dir, 'elsewhere', 'x.bin'))).toBe(true);
  });

  it('local folder writes parts past one writev call (1,024 buffers) and past the synchronous size', async () => {
    const s = await localStorage();
    const many = Array.from({ length: 2500 }, (_, i) => new Uint8Array([i & 0xff, (i >> 8) & 0xff]));
    await s.put('scratch/j/many', many);
    expect(Buffer.from(await s.get('scratch/j/many')).equals(Buffer.concat(many))).toBe(true);
    const big = [new Uint8Array(SYNC_IO_MAX_BYTES).fill(3), ...many]; // asynchronous writes
    await s.put('results/lab/j/big.bin', big);
    expect(Buffer.from(await s.get('results/lab/j/big.bin')).equals(Buffer.concat(big))).toBe(true);
  });

  it('local folder writes into a folder that another process removed after this one made it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiosk-storage-'));
    dirs.push(dir);
    const s = new LocalFolderStorage(join(dir, 'bucket'), { scratchDir: join(dir, 'shm') });
    const other = new LocalFolderStorage(join(dir, 'bucket'), { scratchDir: join(dir, 'shm') });
    const big = new Uint8Array(SYNC_IO_MAX_BYTES + 1);
    for (const key of ['results/lab/j1/a.tif', 'scratch/j1/p1.tiles.ktp']) {
      await s.put(key, new Uint8Array([1]));
      await other.deletePrefix(key.slice(0, key.lastIndexOf('/') + 1)); // `s` still knows the folder
      await s.put(key, new Uint8Array([2]));
      expect([...(await s.get(key))]).toEqual([2]);
    }
    await s.put('results/lab/j2/big.bin', new Uint8Array([1]));
    await other.deletePrefix('results/lab/j2/');
    await s.put('results/lab/j2/big.bin', big); // asynchronous write
    expect(await s.size('results/lab/j2/big.bin')).toBe(big.byteLength);
    await other.deletePrefix('results/lab/j2/');
    const chunks = [Buffer.alloc(2 ** 20, 1), Buffer.alloc(2 ** 20, 2)]; // past the stream buffer: streamed
    expect(await s.putStream('results/lab/j2/big.bin', Readable.from(chunks))).toBe(2 ** 21);
    expect(await s.size('results/lab/j2/big.bin')).toBe(2 ** 21);
  });

  it('GCS (mock bucket) signs V4 read URLs and keeps keys under the prefix', async () => {
    const bucket = mockGcsBucket('lab');
    const s = new GcsStorage({ bucket, prefix: 'kiosk/' });
    await s.put('results/a.zip', new Uint8Array(3));
    expect([...bucket.objects.keys()]).toEqual(['kiosk/results/a.zip']);
    expect(await s.signedUrl('results/a.zip', 60)).toMatch(
      /^https:\/\/storage\.googleapis\.com\/lab\/kiosk\/results\/a\.zip\?/,
    );
  });

  it('S3 (mock endpoint) presigns GET URLs with the expiry', async () => {
    const s = s3Storage();
    const url = await s.signedUrl('results/a.zip', 900);
    expect(url).toMatch(/^http:\/\/s3\.mock\.invalid\/lab-bucket\/kiosk\/results\/a\.zip\?/);
    expect(url).toMatch(/X-Amz-Expires=900/);
  });

  it('openStorage picks the backend from the URL and rejects unknown schemes', async () => {
    expect((await openStorage('s3://b/p')).kind).toBe('s3');
    expect((await openStorage('.kiosk/bucket')).kind).toBe('local');
    expect((await openStorage('gs://b')).kind).toBe('gcs');
    await expect(openStorage('ftp://x')).rejects.toThrow(/unsupported bucket URL/);
  });
});

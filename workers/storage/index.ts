import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LocalFolderStorage } from './local.js';
import type { Storage } from './storage.js';

// The cloud backends (gcs.ts, s3.ts) are imported when a gs:// or s3:// bucket is opened: their SDKs add
// ~3.5 MB of heap to every process, and a bigger heap makes each full GC of a busy worker dearer.
export { checkKey, StorageError, type Storage } from './storage.js';
export { LocalFolderStorage } from './local.js';
export type { GcsStorage } from './gcs.js';
export type { S3Storage } from './s3.js';

export interface OpenStorageOptions {
  /**
   * Where a local folder bucket keeps its `scratch/` keys (see LocalFolderOptions.scratchDir): `auto` (a
   * folder in /dev/shm, the RAM file system, where there is one), `bucket` (in the bucket folder) or a
   * folder path. Cloud buckets keep scratch in the bucket. @default 'auto'
   */
  readonly scratchDir?: string;
}

/** `auto`: /dev/shm/cellkiosk-scratch-<hash of the bucket folder> on Linux, else the bucket folder. */
export function scratchDirFor(bucketRoot: string, setting = 'auto'): string | undefined {
  if (setting === 'bucket') return undefined;
  if (setting !== 'auto') return resolve(setting);
  if (process.platform !== 'linux' || !existsSync('/dev/shm')) return undefined;
  const id = createHash('sha1').update(resolve(bucketRoot)).digest('hex').slice(0, 12);
  return join('/dev/shm', `cellkiosk-scratch-${id}`);
}

/**
 * Opens the bucket named by a URL: `gs://bucket[/prefix]`, `s3://bucket[/prefix]`, `file:///abs/path`,
 * or a plain folder path (relative paths resolve against the working directory).
 */
export async function openStorage(url: string, opts: OpenStorageOptions = {}): Promise<Storage> {
  const m = /^(gs|s3):\/\/([^/]+)\/?(.*)$/.exec(url);
  if (m) {
    const [, scheme, bucket, rest] = m as unknown as [string, string, string, string];
    const prefix = rest ? (rest.endsWith('/') ? rest : `${rest}/`) : undefined;
    if (scheme === 'gs') return (await import('./gcs.js')).GcsStorage.open(bucket, prefix);
    const { S3Storage } = await import('./s3.js');
    return new S3Storage({ bucket, ...(prefix ? { prefix } : {}) });
  }
  const local = (root: string) => {
    const scratchDir = scratchDirFor(root, opts.scratchDir);
    return new LocalFolderStorage(root, scratchDir ? { scratchDir } : {});
  };
  if (url.startsWith('file://')) return local(new URL(url).pathname);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new Error(
      `unsupported bucket URL ${JSON.stringify(url)}: use gs://, s3://, file:// or a folder path`,
    );
  }
  return local(resolve(url));
}

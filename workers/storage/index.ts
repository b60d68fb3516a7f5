import { resolve } from 'node:path';
import { GcsStorage } from './gcs.js';
import { LocalFolderStorage } from './local.js';
import { S3Storage } from './s3.js';
import type { Storage } from './storage.js';

export { checkKey, StorageError, type Storage } from './storage.js';
export { LocalFolderStorage } from './local.js';
export { GcsStorage } from './gcs.js';
export { S3Storage } from './s3.js';

/**
 * Opens the bucket named by a URL: `gs://bucket[/prefix]`, `s3://bucket[/prefix]`, `file:///abs/path`,
 * or a plain folder path (relative paths resolve against the working directory).
 */
export async function openStorage(url: string): Promise<Storage> {
  const m = /^(gs|s3):\/\/([^/]+)\/?(.*)$/.exec(url);
  if (m) {
    const [, scheme, bucket, rest] = m as unknown as [string, string, string, string];
    const prefix = rest ? (rest.endsWith('/') ? rest : `${rest}/`) : undefined;
    if (scheme === 'gs') return GcsStorage.open(bucket, prefix);
    return new S3Storage({ bucket, ...(prefix ? { prefix } : {}) });
  }
  if (url.startsWith('file://')) return new LocalFolderStorage(new URL(url).pathname);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new Error(
      `unsupported bucket URL ${JSON.stringify(url)}: use gs://, s3://, file:// or a folder path`,
    );
  }
  return new LocalFolderStorage(resolve(url));
}

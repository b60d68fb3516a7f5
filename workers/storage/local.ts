import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkKey, checkPrefix, StorageError, type Storage } from './storage.js';

/**
 * The default bucket: a folder on this machine (`.kiosk/bucket` for the local kiosk). Objects are plain
 * files at `<root>/<key>`; writes go to a temporary file in the same folder and are renamed into place, so
 * they are atomic. Has no signed URLs: the API serves downloads.
 */
export class LocalFolderStorage implements Storage {
  readonly kind = 'local' as const;
  /** Folders known to exist (saves a mkdir per write; forgotten when deletePrefix removes them). */
  private readonly made = new Set<string>();
  constructor(readonly root: string) {}

  private async ensureDir(dir: string): Promise<void> {
    if (this.made.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.made.add(dir);
  }

  /** The file that holds `key` (for readers that want a path, such as the model loader). */
  pathOf(key: string): string {
    return join(this.root, ...checkKey(key).split('/'));
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    const path = this.pathOf(key);
    await this.ensureDir(dirname(path));
    const tmp = `${path}.${randomUUID()}.part`;
    await writeFile(tmp, data).catch(async (err: unknown) => {
      // the folder may have been removed by another process: make it again once
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.made.delete(dirname(path));
      await this.ensureDir(dirname(path));
      await writeFile(tmp, data);
    });
    await rename(tmp, path);
  }

  async putStream(key: string, body: Readable): Promise<number> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    this.made.add(dirname(path));
    const tmp = `${path}.${randomUUID()}.part`;
    try {
      const out = createWriteStream(tmp);
      await pipeline(body, out);
      await rename(tmp, path);
      return out.bytesWritten;
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async get(key: string): Promise<Uint8Array> {
    try {
      return await readFile(this.pathOf(key));
    } catch (err) {
      throw notFound(err, key);
    }
  }

  async getStream(key: string): Promise<Readable> {
    const path = this.pathOf(key);
    const st = await stat(path).catch((err: unknown) => {
      throw notFound(err, key);
    });
    if (!st.isFile()) throw new StorageError('not-found', `no object ${key} (it is a folder)`);
    return createReadStream(path);
  }

  async size(key: string): Promise<number | undefined> {
    const st = await stat(this.pathOf(key)).catch(() => undefined);
    return st?.isFile() ? st.size : undefined;
  }

  async exists(key: string): Promise<boolean> {
    return (await this.size(key)) !== undefined;
  }

  async list(prefix: string): Promise<string[]> {
    checkPrefix(prefix, true);
    const base = prefix === '' ? this.root : join(this.root, ...prefix.slice(0, -1).split('/'));
    const entries = await readdir(base, { recursive: true, withFileTypes: true }).catch(() => []);
    return entries
      .filter((e) => e.isFile() && !e.name.endsWith('.part'))
      .map((e) => relative(this.root, join(e.parentPath, e.name)).split(sep).join('/'))
      .sort();
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async deletePrefix(prefix: string): Promise<void> {
    checkPrefix(prefix, false);
    const dir = join(this.root, ...prefix.slice(0, -1).split('/'));
    for (const d of this.made) if (d === dir || d.startsWith(`${dir}/`)) this.made.delete(d);
    await rm(dir, { recursive: true, force: true });
  }

  async signedUrl(): Promise<undefined> {
    return undefined;
  }
}

function notFound(err: unknown, key: string): Error {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EISDIR') {
    return new StorageError('not-found', `no object ${key}`);
  }
  return err instanceof Error ? err : new Error(String(err));
}

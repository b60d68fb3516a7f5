/**
 * LocalFolderStorage, the default bucket: a folder on this machine. The file-system calls it makes live in
 * local-files.ts, its bounded set of known folders in known-dirs.ts.
 */
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  renameSync,
  rmdirSync,
  rmSync,
  statfsSync,
} from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { bytesLength, checkKey, checkPrefix, StorageError, type Bytes, type Storage } from './storage.js';
import { KnownDirs } from './known-dirs.js';
import {
  listFolder,
  readSmallSync,
  removeSmallFolderSync,
  SYNC_IO_MAX_BYTES,
  writeBytes,
  writeBytesSync,
} from './local-files.js';

export { SYNC_IO_MAX_BYTES } from './local-files.js';

/** Uploads arriving as a stream are held in memory up to this size, then written at once (see SYNC_IO_MAX_BYTES). */
const STREAM_BUFFER_MAX_BYTES = 2 ** 20;

/** Scratch objects go to the scratch folder only while it keeps this much free (else to the bucket folder). */
const SCRATCH_RESERVE_BYTES = 256 * 2 ** 20;
const SCRATCH_RESERVE_FRACTION = 0.1;

/**
 * Folders a store remembers as existing (each job makes new ones: its scratch and results folders), the
 * least recently used forgotten first, so a long-running worker's memory and deletePrefix's scan stay small.
 * 64 covers the jobs one process has in flight (two folders each); a folder forgotten costs one mkdir.
 */
const KNOWN_DIRS_MAX = 64;

export interface LocalFolderOptions {
  /**
   * A folder for the `scratch/` keys (the arrays one stage hands the next, deleted when the job ends), best
   * on a RAM file system (`/dev/shm`): creating, writing and removing files there costs a tenth of the CPU
   * it costs on a journaling disk. An object goes there only when it is at most SYNC_IO_MAX_BYTES and the
   * folder keeps max(256 MiB, 10 %) free after it; otherwise, and after a machine restart (the folder is
   * gone), the bucket folder is used: readers look in both.
   * @default - scratch keys live in the bucket folder like every other key
   */
  readonly scratchDir?: string;
}

/**
 * The default bucket: a folder on this machine (`.kiosk/bucket` for the local kiosk). Objects are plain
 * files at `<root>/<key>`; writes go to a temporary file in the same folder and are renamed into place, so
 * they are atomic. Small objects use synchronous file calls (SYNC_IO_MAX_BYTES); `scratch/` keys may live
 * in a separate folder (LocalFolderOptions.scratchDir). Has no signed URLs: the API serves downloads.
 */
export class LocalFolderStorage implements Storage {
  readonly kind = 'local' as const;
  /**
   * Folders known to exist (saves a mkdir per write; forgotten when deletePrefix removes them). Another
   * process may remove one all the same (the API deleting a job, a worker emptying the scratch folder):
   * a write that then fails with ENOENT makes the folder again and retries once.
   */
  private readonly made = new KnownDirs(KNOWN_DIRS_MAX);
  readonly scratchDir?: string;

  constructor(
    readonly root: string,
    opts: LocalFolderOptions = {},
  ) {
    if (opts.scratchDir) this.scratchDir = opts.scratchDir;
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.made.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.made.add(dir);
  }

  private ensureDirSync(dir: string): void {
    if (this.made.has(dir)) return;
    mkdirSync(dir, { recursive: true });
    this.made.add(dir);
  }

  /** The file that holds `key` in the bucket folder (for readers that want a path, such as the model loader). */
  pathOf(key: string): string {
    return join(this.root, ...checkKey(key).split('/'));
  }

  /** Where a `scratch/` key lives in the scratch folder, or undefined (not a scratch key, or no folder). */
  private scratchPathOf(key: string): string | undefined {
    if (!this.scratchDir || !key.startsWith('scratch/')) return undefined;
    return join(this.scratchDir, ...checkKey(key).split('/').slice(1));
  }

  /** True when `bytes` more leave the scratch folder its reserve (statfs: a few microseconds). */
  private scratchHasRoom(bytes: number): boolean {
    try {
      let fs;
      try {
        this.ensureDirSync(this.scratchDir!);
        fs = statfsSync(this.scratchDir!);
      } catch {
        this.made.delete(this.scratchDir!); // removed by another process when it emptied it: make it again
        this.ensureDirSync(this.scratchDir!);
        fs = statfsSync(this.scratchDir!);
      }
      const total = fs.blocks * fs.bsize;
      const free = fs.bavail * fs.bsize;
      return free - bytes >= Math.max(SCRATCH_RESERVE_BYTES, SCRATCH_RESERVE_FRACTION * total);
    } catch {
      return false; // cannot be made or measured: the bucket folder
    }
  }

  /** Writes a small object with synchronous calls: temporary file, then rename (atomic). */
  private putSync(path: string, data: Bytes): void {
    const dir = dirname(path);
    this.ensureDirSync(dir);
    const tmp = `${path}.${randomUUID()}.part`;
    try {
      try {
        writeBytesSync(tmp, data);
      } catch (err) {
        // the folder may have been removed by another process: make it again once
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        this.made.delete(dir);
        this.ensureDirSync(dir);
        writeBytesSync(tmp, data);
      }
      renameSync(tmp, path);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  }

  async put(key: string, data: Bytes): Promise<void> {
    const path = this.pathOf(key);
    const scratch = this.scratchPathOf(key);
    const size = bytesLength(data);
    if (scratch && size <= SYNC_IO_MAX_BYTES && this.scratchHasRoom(size)) {
      try {
        this.putSync(scratch, data);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err; // full after all: the bucket folder
      }
    }
    if (scratch) rmSync(scratch, { force: true }); // readers look in the scratch folder first
    if (size <= SYNC_IO_MAX_BYTES) return this.putSync(path, data);
    await this.ensureDir(dirname(path));
    const tmp = `${path}.${randomUUID()}.part`;
    try {
      await writeBytes(tmp, data).catch(async (err: unknown) => {
        // the folder may have been removed by another process: make it again once
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        this.made.delete(dirname(path));
        await this.ensureDir(dirname(path));
        await writeBytes(tmp, data);
      });
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /**
   * Streams an object in. A body that ends within STREAM_BUFFER_MAX_BYTES (most images) is collected and
   * written at once; a larger one goes on streaming to a temporary file.
   */
  async putStream(key: string, body: Readable): Promise<number> {
    const path = this.pathOf(key);
    const chunks: Buffer[] = [];
    let size = 0;
    const it = body[Symbol.asyncIterator]() as AsyncIterator<Buffer | Uint8Array>;
    for (;;) {
      const { done, value } = await it.next();
      if (done) {
        await this.put(key, chunks); // one vectored write, no copy into one buffer
        return size;
      }
      const chunk = Buffer.isBuffer(value) ? value : Buffer.from(value);
      chunks.push(chunk);
      size += chunk.length;
      if (size > STREAM_BUFFER_MAX_BYTES) break;
    }
    // Not ensureDir: a folder removed by another process could not be made again once the stream has
    // started (its bytes are gone), and one mkdir per large upload costs nothing next to it.
    await mkdir(dirname(path), { recursive: true });
    this.made.add(dirname(path));
    const tmp = `${path}.${randomUUID()}.part`;
    try {
      const out = createWriteStream(tmp);
      const rest = async function* () {
        yield* chunks;
        for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
      };
      await pipeline(rest(), out);
      await rename(tmp, path);
      return out.bytesWritten;
    } catch (err) {
      body.destroy();
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async get(key: string): Promise<Uint8Array> {
    const scratch = this.scratchPathOf(key);
    const inScratch = scratch ? readSmallSync(scratch) : undefined;
    if (inScratch) return inScratch;
    const path = this.pathOf(key);
    let st;
    try {
      const small = readSmallSync(path);
      if (small) return small;
      st = await stat(path);
    } catch (err) {
      throw notFound(err, key);
    }
    if (!st.isFile()) throw new StorageError('not-found', `no object ${key} (it is a folder)`);
    try {
      return await readFile(path);
    } catch (err) {
      throw notFound(err, key);
    }
  }

  /** The file this key's bytes are in now: the scratch folder's copy if there is one, else the bucket's. */
  private async locate(key: string): Promise<string> {
    const scratch = this.scratchPathOf(key);
    if (scratch && (await stat(scratch).catch(() => undefined))?.isFile()) return scratch;
    return this.pathOf(key);
  }

  async getStream(key: string): Promise<Readable> {
    const path = await this.locate(key);
    const st = await stat(path).catch((err: unknown) => {
      throw notFound(err, key);
    });
    if (!st.isFile()) throw new StorageError('not-found', `no object ${key} (it is a folder)`);
    return createReadStream(path);
  }

  async size(key: string): Promise<number | undefined> {
    const st = await stat(await this.locate(key)).catch(() => undefined);
    return st?.isFile() ? st.size : undefined;
  }

  async exists(key: string): Promise<boolean> {
    return (await this.size(key)) !== undefined;
  }

  async list(prefix: string): Promise<string[]> {
    checkPrefix(prefix, true);
    const keys = new Set(await listFolder(this.root, prefix));
    if (this.scratchDir && (prefix === '' || prefix.startsWith('scratch/'))) {
      const inner = prefix === '' ? '' : prefix.slice('scratch/'.length);
      for (const k of await listFolder(this.scratchDir, inner)) keys.add(`scratch/${k}`);
    }
    return [...keys].sort();
  }

  async delete(key: string): Promise<void> {
    const scratch = this.scratchPathOf(key);
    if (scratch) await rm(scratch, { force: true });
    await rm(this.pathOf(key), { force: true });
  }

  async deletePrefix(prefix: string): Promise<void> {
    checkPrefix(prefix, false);
    const dirs = [join(this.root, ...prefix.slice(0, -1).split('/'))];
    const rel = prefix.slice(0, -1).split('/');
    if (this.scratchDir && rel[0] === 'scratch') dirs.push(join(this.scratchDir, ...rel.slice(1)));
    for (const dir of dirs) {
      this.made.deleteTree(dir);
      if (!removeSmallFolderSync(dir)) await rm(dir, { recursive: true, force: true });
    }
    if (this.scratchDir && rel[0] === 'scratch') {
      // The scratch folder goes when its last job does, so an idle or finished kiosk leaves nothing in
      // /dev/shm (ENOTEMPTY while other jobs are running: it stays).
      try {
        rmdirSync(this.scratchDir);
        this.made.delete(this.scratchDir);
      } catch {
        // not empty, or gone already
      }
    }
  }

  async signedUrl(): Promise<undefined> {
    return undefined;
  }

  async signedUrlOrigins(): Promise<readonly string[]> {
    return []; // the API serves the files itself
  }
}

function notFound(err: unknown, key: string): Error {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EISDIR') {
    return new StorageError('not-found', `no object ${key}`);
  }
  return err instanceof Error ? err : new Error(String(err));
}

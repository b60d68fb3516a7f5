import {
  closeSync,
  createReadStream,
  createWriteStream,
  fstatSync,
  lstatSync,
  mkdirSync,
  opendirSync,
  openSync,
  readSync,
  renameSync,
  rmdirSync,
  rmSync,
  statfsSync,
  unlinkSync,
  writeFileSync,
  writevSync,
} from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { bytesLength, checkKey, checkPrefix, StorageError, type Bytes, type Storage } from './storage.js';

/**
 * Objects up to this size are read and written with synchronous file calls: for a small file on a local
 * disk these take tens of microseconds, while each asynchronous call is a round trip through libuv's
 * thread pool (a thread wake-up and an event-loop wake-up per open, write, close and rename), which costs
 * more CPU than the I/O itself. Larger objects stay asynchronous so a big upload or result never blocks
 * the event loop for long.
 */
export const SYNC_IO_MAX_BYTES = 8 * 2 ** 20;

/** Uploads arriving as a stream are held in memory up to this size, then written at once (see above). */
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

/**
 * deletePrefix removes a folder of at most this many plain files (a job's scratch or results) with
 * synchronous calls; a larger folder, or one with subfolders, goes through the asynchronous recursive rm.
 */
const SYNC_RM_MAX_ENTRIES = 32;

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

/** A bounded set of folder paths, least recently used dropped first (a Map keeps insertion order). */
class KnownDirs {
  private readonly dirs = new Map<string, true>();
  constructor(private readonly max: number) {}

  has(dir: string): boolean {
    if (!this.dirs.delete(dir)) return false;
    this.dirs.set(dir, true); // most recently used now
    return true;
  }

  add(dir: string): void {
    this.dirs.delete(dir);
    this.dirs.set(dir, true);
    if (this.dirs.size > this.max) this.dirs.delete(this.dirs.keys().next().value!);
  }

  delete(dir: string): void {
    this.dirs.delete(dir);
  }

  /** Forgets `dir` and every folder under it. */
  deleteTree(dir: string): void {
    for (const d of this.dirs.keys()) if (d === dir || d.startsWith(`${dir}${sep}`)) this.dirs.delete(d);
  }
}

/**
 * Removes a folder of at most SYNC_RM_MAX_ENTRIES plain files (a job's scratch or results folder) with
 * synchronous calls: lstat, list, unlink each file, rmdir — about half the system calls of a recursive rm
 * (which also lstats every entry and tries rmdir first), and none of them through the thread pool (see
 * SYNC_IO_MAX_BYTES). True when the folder is gone (or never was); false leaves it to the recursive rm: not
 * a folder, a subfolder, more entries, or a file that could not be unlinked or appeared meanwhile.
 */
function removeSmallFolderSync(dir: string): boolean {
  const files: string[] = [];
  try {
    // lstat first: a symbolic link to a folder is removed as a link (as rm does), its target's files kept
    if (!lstatSync(dir).isDirectory()) return false;
    const d = opendirSync(dir, { bufferSize: SYNC_RM_MAX_ENTRIES + 1 });
    try {
      for (let e = d.readSync(); e; e = d.readSync()) {
        if (e.isDirectory() || files.length === SYNC_RM_MAX_ENTRIES) return false;
        files.push(e.name);
      }
    } finally {
      d.closeSync();
    }
    for (const f of files) {
      try {
        unlinkSync(join(dir, f));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return false;
      }
    }
    rmdirSync(dir);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** Every file key under `prefix` ('' or ending with /) of a folder, `.part` files left out. */
async function listFolder(root: string, prefix: string): Promise<string[]> {
  const base = prefix === '' ? root : join(root, ...prefix.slice(0, -1).split('/'));
  const entries = await readdir(base, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile() && !e.name.endsWith('.part'))
    .map((e) => relative(root, join(e.parentPath, e.name)).split(sep).join('/'));
}

/**
 * Reads a file of at most SYNC_IO_MAX_BYTES with synchronous calls into a buffer of its own (offset 0, so
 * tensor packs can be read in place, 8-byte aligned). Undefined when it does not exist, is a folder or is
 * larger (the caller reads it asynchronously); other errors are thrown.
 */
function readSmallSync(path: string): Uint8Array | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
    throw err;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > SYNC_IO_MAX_BYTES) return undefined;
    const buf = Buffer.allocUnsafeSlow(st.size);
    for (let at = 0; at < st.size;) {
      const n = readSync(fd, buf, at, st.size - at, at);
      if (n === 0) return buf.subarray(0, at); // the file shrank while being read
      at += n;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}

function notFound(err: unknown, key: string): Error {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EISDIR') {
    return new StorageError('not-found', `no object ${key}`);
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** Writes `data` (its parts one after another, with vectored writes) to a new file at `path`. */
function writeBytesSync(path: string, data: Bytes): void {
  if (data instanceof Uint8Array) return writeFileSync(path, data);
  const fd = openSync(path, 'w');
  try {
    let parts = data.filter((p) => p.byteLength > 0);
    while (parts.length > 0) parts = unwritten(parts, writevSync(fd, parts.slice(0, IOV_MAX)));
  } finally {
    closeSync(fd);
  }
}

/** writeBytesSync's asynchronous twin, for objects over SYNC_IO_MAX_BYTES. */
async function writeBytes(path: string, data: Bytes): Promise<void> {
  const fh = await open(path, 'w');
  try {
    let parts = (data instanceof Uint8Array ? [data] : data).filter((p) => p.byteLength > 0);
    while (parts.length > 0)
      parts = unwritten(parts, (await fh.writev(parts.slice(0, IOV_MAX))).bytesWritten);
  } finally {
    await fh.close();
  }
}

/** Buffers one writev call takes at most (Linux's IOV_MAX). */
const IOV_MAX = 1024;

/** What is left of `parts` after the first `written` bytes went out (a write may stop short). */
function unwritten(parts: readonly Uint8Array[], written: number): Uint8Array[] {
  if (written <= 0) throw new Error('a write to the bucket folder made no progress'); // never loop forever
  const left: Uint8Array[] = [];
  for (const p of parts) {
    if (written >= p.byteLength) written -= p.byteLength;
    else {
      left.push(written > 0 ? p.subarray(written) : p);
      written = 0;
    }
  }
  return left;
}

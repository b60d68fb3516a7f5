/**
 * The file-system calls under LocalFolderStorage (local.ts): small objects read and written with synchronous
 * calls (SYNC_IO_MAX_BYTES), vectored writes of many-part objects, the quick removal of a small folder, and
 * listing a folder's keys.
 */
import {
  closeSync,
  fstatSync,
  lstatSync,
  opendirSync,
  openSync,
  readSync,
  rmdirSync,
  unlinkSync,
  writeFileSync,
  writevSync,
} from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { Bytes } from './storage.js';

/**
 * Objects up to this size are read and written with synchronous file calls: for a small file on a local
 * disk these take tens of microseconds, while each asynchronous call is a round trip through libuv's
 * thread pool (a thread wake-up and an event-loop wake-up per open, write, close and rename), which costs
 * more CPU than the I/O itself. Larger objects stay asynchronous so a big upload or result never blocks
 * the event loop for long.
 */
export const SYNC_IO_MAX_BYTES = 8 * 2 ** 20;

/**
 * deletePrefix removes a folder of at most this many plain files (a job's scratch or results) with
 * synchronous calls; a larger folder, or one with subfolders, goes through the asynchronous recursive rm.
 */
const SYNC_RM_MAX_ENTRIES = 32;

/**
 * Removes a folder of at most SYNC_RM_MAX_ENTRIES plain files (a job's scratch or results folder) with
 * synchronous calls: lstat, list, unlink each file, rmdir — about half the system calls of a recursive rm
 * (which also lstats every entry and tries rmdir first), and none of them through the thread pool (see
 * SYNC_IO_MAX_BYTES). True when the folder is gone (or never was); false leaves it to the recursive rm: not
 * a folder, a subfolder, more entries, or a file that could not be unlinked or appeared meanwhile.
 */
export function removeSmallFolderSync(dir: string): boolean {
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
export async function listFolder(root: string, prefix: string): Promise<string[]> {
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
export function readSmallSync(path: string): Uint8Array | undefined {
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

/** Writes `data` (its parts one after another, with vectored writes) to a new file at `path`. */
export function writeBytesSync(path: string, data: Bytes): void {
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
export async function writeBytes(path: string, data: Bytes): Promise<void> {
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

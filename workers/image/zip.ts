/**
 * Zip archives for batches of images in and label images out, written and read defensively.
 *
 * packZip: deterministic bytes for the same entries (fixed 1980-01-01 timestamps, entries in the given
 * order, UTF-8 names). Data that is already compressed (PNG, JPEG, zip, gzip, a TIFF with compressed
 * strips) is stored; anything else is deflated, and stored instead when deflate does not save at least 5 %.
 *
 * unpackZip: reads the central directory and refuses, with ImageError 'bad-archive' naming the entry:
 * names with `..` segments, absolute paths (`/x`, `C:x`), backslashes or NUL; duplicate names (after
 * normalising `./` and `//`); symbolic links (Unix mode S_IFLNK in the external attributes); encrypted,
 * Zip64 or non-deflate entries; entries that are zip archives themselves (nested archives are not
 * unpacked: the outer zip must hold the images); more than `maxEntries` entries; declared sizes over
 * `maxTotalBytes` in all; a declared ratio over `maxRatio` for entries above 1 MiB; and any entry that
 * inflates past its declared size (checked while inflating, in 4 KiB input steps) or whose CRC-32 does not
 * match. Memory follows the bytes actually inflated, not the sizes the headers declare. Directories,
 * `__MACOSX/` and dotfiles (any path segment starting with '.') are skipped.
 */
import { Inflate, deflateSync } from 'fflate';
import { ImageError } from './types.js';

export interface ZipEntry {
  readonly name: string;
  readonly data: Uint8Array;
}

export interface UnzipLimits {
  /** Most entries the central directory may list (skipped ones included). @default 10_000 */
  readonly maxEntries?: number;
  /** Most uncompressed bytes over all kept entries. @default 2^31 - 1 (2 GiB) */
  readonly maxTotalBytes?: number;
  /** Most uncompressed bytes one entry may declare. @default - no limit of its own (maxTotalBytes bounds it) */
  readonly maxEntryBytes?: number;
  /**
   * Highest uncompressed/compressed ratio for an entry over 1 MiB. Deflate cannot exceed about 1032:1 and an
   * all-zero label image reaches about 1020:1, so the default admits every honest entry and refuses only
   * forged sizes; lower it for a stricter policy. `maxTotalBytes` is what bounds memory.
   * @default 1100
   */
  readonly maxRatio?: number;
}

const DOS_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1;
const RATIO_EXEMPT_BYTES = 1 << 20;
/** Input bytes per inflate call: one call of a bomb yields at most ~1032x this before the size check. */
const INFLATE_STEP = 4 * 1024;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE, as in zip and PNG) of `data`. */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const COMPRESSED_MAGIC = [
  [0x89, 0x50, 0x4e, 0x47],
  [0xff, 0xd8, 0xff],
  [0x50, 0x4b, 0x03, 0x04],
  [0x1f, 0x8b],
];

function alreadyCompressed(d: Uint8Array): boolean {
  return (
    COMPRESSED_MAGIC.some((m) => d.length >= m.length && m.every((b, i) => d[i] === b)) || compressedTiff(d)
  );
}

/** TIFF compression codes whose strips deflate cannot shrink much: LZW, JPEG, deflate (both codes), zstd. */
const PACKED_TIFF = new Set([5, 7, 8, 32946, 50000]);

/**
 * True for a classic TIFF whose first image's Compression tag (259) is one of PACKED_TIFF (a label TIFF
 * the workers wrote with deflate, say): deflating it again costs CPU for a few bytes. Anything it cannot
 * read (truncated, BigTIFF, no such tag) counts as not compressed, so it is deflated as before.
 */
function compressedTiff(d: Uint8Array): boolean {
  if (d.length < 8) return false;
  const le = d[0] === 0x49 && d[1] === 0x49 && d[2] === 42 && d[3] === 0;
  if (!le && !(d[0] === 0x4d && d[1] === 0x4d && d[2] === 0 && d[3] === 42)) return false;
  const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const ifd = view.getUint32(4, le);
  if (ifd + 2 > d.length) return false;
  const count = view.getUint16(ifd, le);
  for (let i = 0; i < count; i++) {
    const at = ifd + 2 + 12 * i;
    if (at + 12 > d.length) return false;
    if (view.getUint16(at, le) !== 259) continue;
    const type = view.getUint16(at + 2, le);
    const value = type === 3 ? view.getUint16(at + 8, le) : type === 4 ? view.getUint32(at + 8, le) : -1;
    return PACKED_TIFF.has(value);
  }
  return false;
}

/**
 * Checks an entry name and returns it normalised ('./' and empty segments removed), or throws with `code`.
 * Returns `null` for names to skip: directories, `__MACOSX/`, dotfiles.
 */
function safeName(name: string, code: 'bad-archive' | 'bad-argument'): string | null {
  const why = /\\/.test(name)
    ? 'contains a backslash'
    : name.includes('\0')
      ? 'contains a NUL character'
      : name.startsWith('/') || /^[A-Za-z]:/.test(name)
        ? 'is an absolute path'
        : name.split('/').includes('..')
          ? "has a '..' segment"
          : null;
  if (why) throw new ImageError(code, `zip entry '${name.replace(/\0/g, '\\0')}' ${why}`);
  if (name.endsWith('/')) return null;
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts[0] === '__MACOSX' || parts.some((p) => p.startsWith('.'))) return null;
  return parts.join('/');
}

/** Builds a zip archive; see the module comment. Unsafe or duplicate names → 'bad-argument'. */
export function packZip(entries: readonly ZipEntry[]): Uint8Array {
  const seen = new Set<string>();
  const prepared = entries.map((e) => {
    const name = safeName(e.name, 'bad-argument');
    if (name === null || name !== e.name) {
      throw new ImageError(
        'bad-argument',
        `zip entry name '${e.name}' is a directory, dotfile or not normalised`,
      );
    }
    if (seen.has(name)) throw new ImageError('bad-argument', `zip entry name '${name}' appears twice`);
    seen.add(name);
    const nameBytes = new TextEncoder().encode(name);
    let body = e.data;
    let method = 0;
    if (!alreadyCompressed(e.data) && e.data.length > 0) {
      const deflated = deflateSync(e.data, { level: 6 });
      if (deflated.length < e.data.length * 0.95) {
        body = deflated;
        method = 8;
      }
    }
    return { nameBytes, body, method, crc: crc32(e.data), size: e.data.length };
  });
  const localSize = prepared.reduce((s, p) => s + 30 + p.nameBytes.length + p.body.length, 0);
  const centralSize = prepared.reduce((s, p) => s + 46 + p.nameBytes.length, 0);
  if (localSize + centralSize + 22 > 0xffffffff || prepared.length > 0xffff) {
    throw new ImageError(
      'bad-argument',
      `zip would need Zip64 (${prepared.length} entries, ${localSize} bytes)`,
    );
  }
  const out = new Uint8Array(localSize + centralSize + 22);
  const v = new DataView(out.buffer);
  let pos = 0;
  const offsets: number[] = [];
  const header = (sig: number, p: (typeof prepared)[number], central: boolean): void => {
    v.setUint32(pos, sig, true);
    pos += 4;
    if (central) {
      v.setUint16(pos, 20, true);
      pos += 2;
    }
    for (const x of [20, 0x0800, p.method, 0, DOS_DATE_1980_01_01]) {
      v.setUint16(pos, x, true);
      pos += 2;
    }
    for (const x of [p.crc, p.body.length, p.size]) {
      v.setUint32(pos, x, true);
      pos += 4;
    }
    v.setUint16(pos, p.nameBytes.length, true);
    pos += 4; // name length, extra length 0
  };
  for (const p of prepared) {
    offsets.push(pos);
    header(0x04034b50, p, false);
    out.set(p.nameBytes, pos);
    pos += p.nameBytes.length;
    out.set(p.body, pos);
    pos += p.body.length;
  }
  const centralStart = pos;
  prepared.forEach((p, i) => {
    header(0x02014b50, p, true);
    pos += 10; // comment length, disk number, internal (2) and external (4) attributes: all 0
    v.setUint32(pos, offsets[i]!, true);
    pos += 4;
    out.set(p.nameBytes, pos);
    pos += p.nameBytes.length;
  });
  v.setUint32(pos, 0x06054b50, true);
  v.setUint16(pos + 8, prepared.length, true);
  v.setUint16(pos + 10, prepared.length, true);
  v.setUint32(pos + 12, centralSize, true);
  v.setUint32(pos + 16, centralStart, true);
  return out;
}

/** One file a zip's central directory lists, checked against the limits but not read (readZipCentralDirectory). */
export interface ZipCentralEntry {
  /** The normalised name (see safeName). */
  readonly name: string;
  /** 0 (stored) or 8 (deflate). */
  readonly method: 0 | 8;
  readonly crc: number;
  /** Bytes of the entry's data in the archive. */
  readonly compressedSize: number;
  /** The size the central directory declares once inflated: inflating past it is refused. */
  readonly size: number;
  /** Where the entry's local header starts in the archive. */
  readonly localOffset: number;
}

/** A central-directory entry whose local header was read: where its data starts (readZipDirectory). */
export interface ZipDirectoryEntry extends ZipCentralEntry {
  readonly dataStart: number;
}

/** A zip refused by one of UnzipLimits' limits (`limit` names it), as opposed to a damaged or unsafe zip. */
export class ZipLimitError extends ImageError {
  constructor(
    readonly limit: 'maxEntries' | 'maxEntryBytes' | 'maxTotalBytes' | 'maxRatio',
    message: string,
  ) {
    super('bad-archive', message);
  }
}

/**
 * Reads and judges a zip's central directory without reading any entry: every entry's name, method, flags
 * and mode, the entry count, each declared size (`maxEntryBytes`), ratio (`maxRatio`) and their total
 * (`maxTotalBytes`), and that each local header and its data could lie inside the archive. Needs only the
 * archive's last bytes: `tail` holds bytes `tailStart` to the end of an archive of `archiveSize` bytes (the
 * whole archive when `tailStart` is 0); a central directory that starts before the tail is refused. Throws
 * ImageError 'bad-archive' (ZipLimitError for a limit) naming the entry; skipped entries (directories,
 * dotfiles) are left out.
 */
export function readZipCentralDirectory(
  tail: Uint8Array,
  tailStart: number,
  archiveSize: number,
  limits: UnzipLimits = {},
): ZipCentralEntry[] {
  const maxEntries = limits.maxEntries ?? 10_000;
  const maxTotal = limits.maxTotalBytes ?? 2 ** 31 - 1;
  const maxEntry = limits.maxEntryBytes ?? Infinity;
  const maxRatio = limits.maxRatio ?? 1100;
  const v = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let eocd = -1;
  for (let p = tail.length - 22; p >= Math.max(0, tail.length - 22 - 0xffff); p--) {
    if (v.getUint32(p, true) === 0x06054b50) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) throw new ImageError('bad-archive', 'not a zip archive: no end-of-central-directory record');
  const count = v.getUint16(eocd + 10, true);
  const cdSize = v.getUint32(eocd + 12, true);
  const cdStart = v.getUint32(eocd + 16, true);
  if (count === 0xffff || cdStart === 0xffffffff)
    throw new ImageError('bad-archive', 'Zip64 archives are not supported');
  if (count > maxEntries) {
    throw new ZipLimitError('maxEntries', `zip lists ${count} entries, more than the limit of ${maxEntries}`);
  }
  if (cdStart + cdSize > tailStart + eocd)
    throw new ImageError('bad-archive', `zip central directory (${cdStart}+${cdSize}) is out of bounds`);
  if (cdStart < tailStart)
    throw new ImageError(
      'bad-archive',
      `zip central directory (${cdSize} bytes) is larger than the ${tail.length - 22} bytes read for it`,
    );
  const out: ZipCentralEntry[] = [];
  const names = new Set<string>();
  let total = 0;
  let p = cdStart - tailStart;
  for (let i = 0; i < count; i++) {
    if (p + 46 > eocd || v.getUint32(p, true) !== 0x02014b50) {
      throw new ImageError(
        'bad-archive',
        `zip central directory entry ${i} at byte ${tailStart + p} is damaged`,
      );
    }
    const flags = v.getUint16(p + 8, true);
    const unixMode = v.getUint32(p + 38, true) >>> 16;
    const method = v.getUint16(p + 10, true);
    const crc = v.getUint32(p + 16, true);
    const csize = v.getUint32(p + 20, true);
    const usize = v.getUint32(p + 24, true);
    const nlen = v.getUint16(p + 28, true);
    const skip = nlen + v.getUint16(p + 30, true) + v.getUint16(p + 32, true);
    const local = v.getUint32(p + 42, true);
    if (p + 46 + nlen > eocd)
      throw new ImageError('bad-archive', `zip entry ${i} name runs past the directory`);
    const rawName = new TextDecoder('utf-8').decode(tail.subarray(p + 46, p + 46 + nlen));
    p += 46 + skip;
    const name = safeName(rawName, 'bad-archive');
    if (name === null) continue;
    const why = (s: string) => `zip entry '${name}' ${s}`;
    const bad = (s: string): ImageError => new ImageError('bad-archive', why(s));
    if (names.has(name)) throw bad('appears twice');
    names.add(name);
    if ((unixMode & S_IFMT) === S_IFLNK) throw bad('is a symbolic link');
    if (flags & 1) throw bad('is encrypted');
    if (method !== 0 && method !== 8) throw bad(`uses compression method ${method} (only store and deflate)`);
    if (csize === 0xffffffff || usize === 0xffffffff || local === 0xffffffff) throw bad('needs Zip64');
    if (usize > maxEntry)
      throw new ZipLimitError(
        'maxEntryBytes',
        why(`declares ${usize} bytes, over the limit of ${maxEntry} per entry`),
      );
    const ratio = usize / Math.max(csize, 1);
    if (usize > RATIO_EXEMPT_BYTES && ratio > maxRatio) {
      throw new ZipLimitError(
        'maxRatio',
        why(`expands ${csize} to ${usize} bytes (ratio ${Math.round(ratio)} > ${maxRatio})`),
      );
    }
    total += usize;
    if (total > maxTotal)
      throw new ZipLimitError(
        'maxTotalBytes',
        why(`brings the uncompressed total to ${total} bytes, over the limit of ${maxTotal}`),
      );
    if (local + 30 + csize > archiveSize)
      throw bad(`data (${csize} bytes after the local header at ${local}) runs past the archive end`);
    out.push({ name, method, crc, compressedSize: csize, size: usize, localOffset: local });
  }
  return out;
}

/**
 * readZipCentralDirectory over a whole archive in memory, then each entry's local header: where its data
 * starts, and that the data lies inside the archive.
 */
export function readZipDirectory(bytes: Uint8Array, limits: UnzipLimits = {}): ZipDirectoryEntry[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return readZipCentralDirectory(bytes, 0, bytes.length, limits).map((e) => {
    const bad = (why: string): ImageError => new ImageError('bad-archive', `zip entry '${e.name}' ${why}`);
    const local = e.localOffset;
    if (local + 30 > bytes.length || v.getUint32(local, true) !== 0x04034b50)
      throw bad(`has no local header at ${local}`);
    const dataStart = local + 30 + v.getUint16(local + 26, true) + v.getUint16(local + 28, true);
    if (dataStart + e.compressedSize > bytes.length)
      throw bad(`data (${e.compressedSize} bytes at ${dataStart}) runs past the archive end`);
    return { ...e, dataStart };
  });
}

/** Extracts the files of a zip archive; see the module comment for what is refused and skipped. */
export function unpackZip(bytes: Uint8Array, limits: UnzipLimits = {}): ZipEntry[] {
  return readZipDirectory(bytes, limits).map((e) => {
    const bad = (why: string): ImageError => new ImageError('bad-archive', `zip entry '${e.name}' ${why}`);
    const src = bytes.subarray(e.dataStart, e.dataStart + e.compressedSize);
    const data = e.method === 0 ? src.slice() : inflateBounded(src, e.size, bad);
    if (data.length !== e.size) throw bad(`holds ${data.length} bytes, its header says ${e.size}`);
    if (crc32(data) !== e.crc) throw bad('fails its CRC-32 check');
    if (isZipArchive(data))
      throw bad('is itself a zip archive; nested archives are not unpacked (put its files in the outer zip)');
    return { name: e.name, data };
  });
}

/** True when `data` starts like a zip archive (a local header, or the end record of an empty zip). */
export function isZipArchive(data: Uint8Array): boolean {
  return data.length >= 4 && data[0] === 0x50 && data[1] === 0x4b && (data[2] === 3 || data[2] === 5);
}

/**
 * Inflates `src` into at most `size` bytes, stopping as soon as the stream produces more. The buffer grows
 * with the output (from 4x the input), so a header that lies about `size` cannot make us allocate it.
 */
function inflateBounded(src: Uint8Array, size: number, bad: (why: string) => ImageError): Uint8Array {
  let out = new Uint8Array(Math.min(size, Math.max(1 << 16, 4 * src.length)));
  let written = 0;
  let overflow = false;
  const inflater = new Inflate((chunk) => {
    if (written + chunk.length > size) overflow = true;
    else {
      if (written + chunk.length > out.length) {
        const grown = new Uint8Array(Math.min(size, Math.max(2 * out.length, written + chunk.length)));
        grown.set(out.subarray(0, written));
        out = grown;
      }
      out.set(chunk, written);
    }
    written += chunk.length;
  });
  try {
    for (let p = 0; p < src.length && !overflow; p += INFLATE_STEP) {
      inflater.push(src.subarray(p, p + INFLATE_STEP), p + INFLATE_STEP >= src.length);
    }
  } catch (err) {
    throw bad(`has damaged deflate data: ${(err as Error).message}`);
  }
  if (overflow) throw bad(`inflates past its declared ${size} bytes (zip bomb?)`);
  return out.subarray(0, written);
}

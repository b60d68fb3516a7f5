import type {} from '@fastify/multipart';
import { randomUUID } from 'node:crypto';
import { pipeline, Readable, Transform } from 'node:stream';
import { crc32 as zlibCrc32, createInflateRaw, inflateRawSync } from 'node:zlib';
import type { FastifyRequest } from 'fastify';
import { inspectImage, isTiff, unsupportedFormatOf } from '../workers/image/decode.js';
import { isPng } from '../workers/image/png.js';
import { ImageError, type ImageErrorCode } from '../workers/image/types.js';
import {
  isZipArchive,
  readZipCentralDirectory,
  ZipLimitError,
  type ZipCentralEntry,
} from '../workers/image/zip.js';
import { keys, uploadFolder } from '../workers/queues/names.js';
import type { SubmittedImage } from '../workers/queues/submit.js';
import { StorageError } from '../workers/storage/storage.js';
import { ApiError, type ErrorCode } from './errors.js';
import type { KioskServices } from '../core/services.js';

export interface StoredUpload {
  readonly key: string;
  readonly name: string;
  readonly size: number;
}

/**
 * A file name safe as the last segment of a bucket key: folders dropped, characters outside
 * `[A-Za-z0-9._ -]` → `_`, no leading dots, at most 200 characters. An empty result becomes `upload`.
 */
export function safeFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  const clean = base
    .replace(/[^A-Za-z0-9._ -]/g, '_')
    .replace(/^[.\s]+/, '')
    .slice(-200);
  return clean || 'upload';
}

export const isZipName = (name: string) => /\.zip$/i.test(name);
export const isZipBytes = (b: Uint8Array) =>
  b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && (b[2] === 3 || b[2] === 5);
const firstBytes = (b: Uint8Array) =>
  [...b.subarray(0, 8)].map((x) => x.toString(16).padStart(2, '0')).join(' ') || '(empty file)';

/** Bytes of a request's files kept in memory while they stream to the bucket (see `keepBytes`). */
const KEEP_BYTES_LIMIT = 32 * 2 ** 20;

/**
 * Streams every file part of a multipart request into the bucket (`uploads/<request.lab>/<id>/<name>`), one
 * upload id per file. Limits: each file KIOSK_MAX_UPLOAD_MB (the multipart plugin stops the stream), all
 * files together KIOSK_MAX_REQUEST_MB (counted as they stream); over either, the request fails 413 and no
 * file of it is kept. Other fields are returned as strings.
 *
 * With `keepBytes`, the files' bytes are also kept in memory (`bytes`, by upload key) while the request's
 * files add up to at most 32 MiB, so a job created in the same request does not read them back from the
 * bucket; past that, `bytes` holds none of them.
 */
export async function saveMultipartFiles(
  req: FastifyRequest,
  s: KioskServices,
  opts: { readonly keepBytes?: boolean } = {},
): Promise<{ files: StoredUpload[]; fields: Record<string, string>; bytes: Map<string, Uint8Array> }> {
  if (!req.isMultipart()) throw new ApiError('not-multipart', 'send the files as multipart/form-data');
  const files: StoredUpload[] = [];
  const fields: Record<string, string> = {};
  const stored: string[] = [];
  const bytes = new Map<string, Uint8Array>();
  let keep = opts.keepBytes === true;
  let total = 0;
  const maxMiB = (bytes: number) => `${bytes / 2 ** 20} MiB`;
  try {
    for await (const part of req.parts()) {
      if (part.type === 'field') {
        fields[part.fieldname] = String(part.value);
        continue;
      }
      const name = safeFileName(part.filename);
      const key = keys.upload(req.lab, randomUUID(), name);
      stored.push(key);
      const chunks: Buffer[] = [];
      const counted = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          total += chunk.length;
          if (keep) {
            keep = total <= KEEP_BYTES_LIMIT;
            if (keep) chunks.push(chunk);
            else bytes.clear();
          }
          if (total <= s.config.maxRequestBytes) return done(null, chunk);
          done(
            new ApiError(
              'request-too-large',
              `the files of this upload are larger than the ${maxMiB(s.config.maxRequestBytes)} request limit ` +
                `(reached in ${part.filename}); upload them in several requests`,
            ),
          );
        },
      });
      part.file.on('error', (err) => counted.destroy(err));
      let size: number;
      try {
        size = await s.storage.putStream(key, part.file.pipe(counted));
      } catch (err) {
        if (err instanceof ApiError) throw err;
        if ((err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE' || part.file.truncated) {
          throw new ApiError(
            'upload-too-large',
            `${part.filename} is larger than the ${maxMiB(s.config.maxUploadBytes)} upload limit`,
          );
        }
        throw err;
      }
      if (part.file.truncated) {
        throw new ApiError(
          'upload-too-large',
          `${part.filename} is larger than the ${maxMiB(s.config.maxUploadBytes)} upload limit`,
        );
      }
      files.push({ key, name: part.filename, size });
      if (keep) bytes.set(key, new Uint8Array(Buffer.concat(chunks)));
    }
  } catch (err) {
    await deleteUploads(s, stored);
    throw err;
  }
  return { files, fields, bytes };
}

/**
 * Deletes uploaded files that no job will use (a refused request's) with their folders: each upload has a
 * folder of its own (`uploads/<lab>/<id>/`, which also holds a zip's unpacked `.d/` entries), so nothing of
 * a refused request is left behind. Ones already gone are ignored.
 */
export async function deleteUploads(s: KioskServices, uploadKeys: readonly string[]): Promise<void> {
  await Promise.all(
    uploadKeys.map((k) => {
      const folder = uploadFolder(k);
      return (folder ? s.storage.deletePrefix(folder) : s.storage.delete(k)).catch(() => undefined);
    }),
  );
}

/** True when `key` is an upload of `lab` (`uploads/<lab>/...`, no `..` segment): the keys a lab may read. */
export const isUploadOf = (key: string, lab: string) =>
  key.startsWith(`uploads/${lab}/`) && !key.split('/').includes('..');

/** The API error for an image a header check refused ('bad-image' for the rest). */
const IMAGE_ERROR_CODES: Partial<Record<ImageErrorCode, ErrorCode>> = {
  'too-many-pixels': 'too-many-pixels',
  'too-many-frames': 'too-many-frames',
};

/** Bytes read from an upload to decide what it is (a zip, a TIFF, a PNG or neither). */
export const SNIFF_BYTES = 64 * 1024;

function checkUploadKey(key: string, label: string, lab: string): void {
  if (!isUploadOf(key, lab)) {
    throw new ApiError(
      'upload-not-found',
      `${label}: ${JSON.stringify(key)} is not an upload of this lab (uploads/${lab}/...)`,
    );
  }
}

const notFound = (err: unknown, key: string, label: string): unknown =>
  err instanceof StorageError
    ? new ApiError('upload-not-found', `${label}: no uploaded file ${JSON.stringify(key)}`)
    : err;

async function readUpload(
  s: KioskServices,
  key: string,
  label: string,
  lab: string,
  known?: ReadonlyMap<string, Uint8Array>,
): Promise<Uint8Array> {
  checkUploadKey(key, label, lab);
  const held = known?.get(key);
  if (held) return held;
  try {
    return await s.storage.get(key);
  } catch (err) {
    throw notFound(err, key, label);
  }
}

/**
 * The first `n` bytes of an upload (fewer when it is shorter), read from the start of its stream, which is
 * then closed: deciding what a file is never reads the whole of it.
 */
export async function readUploadHead(
  s: KioskServices,
  key: string,
  label: string,
  lab: string,
  n: number,
  known?: ReadonlyMap<string, Uint8Array>,
): Promise<Uint8Array> {
  checkUploadKey(key, label, lab);
  const held = known?.get(key);
  if (held) return held.subarray(0, n);
  let stream: Readable;
  try {
    stream = await s.storage.getStream(key);
  } catch (err) {
    throw notFound(err, key, label);
  }
  const chunks: Buffer[] = [];
  let got = 0;
  try {
    for await (const chunk of stream) {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      chunks.push(b);
      got += b.length;
      if (got >= n) break;
    }
  } catch (err) {
    throw notFound(err, key, label);
  } finally {
    stream.destroy();
  }
  return new Uint8Array(Buffer.concat(chunks).subarray(0, n));
}

/** Bytes of an upload's end read to find a zip's central directory (10,000 entries of 100-byte names: 1.5 MB). */
export const ZIP_TAIL_BYTES = 8 * 2 ** 20 + 0xffff + 22;

/** An upload as a stream: from memory when this request holds its bytes, else from the bucket. */
async function openUpload(
  s: KioskServices,
  key: string,
  label: string,
  known?: ReadonlyMap<string, Uint8Array>,
): Promise<Readable> {
  const held = known?.get(key);
  if (held) return Readable.from([Buffer.from(held.buffer, held.byteOffset, held.byteLength)]);
  try {
    return await s.storage.getStream(key);
  } catch (err) {
    throw notFound(err, key, label);
  }
}

/**
 * The last `n` bytes of an upload (`tail`, starting at byte `tailStart`) and its size, keeping no more than
 * those in memory while the upload streams past (no backend reads a range).
 */
export async function readUploadTail(
  s: KioskServices,
  key: string,
  label: string,
  n: number,
  known?: ReadonlyMap<string, Uint8Array>,
): Promise<{ tail: Uint8Array; tailStart: number; size: number }> {
  const held = known?.get(key);
  if (held)
    return {
      tail: held.subarray(Math.max(0, held.length - n)),
      tailStart: Math.max(0, held.length - n),
      size: held.length,
    };
  const chunks: Buffer[] = [];
  let kept = 0;
  let size = 0;
  try {
    for await (const chunk of await openUpload(s, key, label)) {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      chunks.push(b);
      kept += b.length;
      size += b.length;
      while (kept - chunks[0]!.length >= n) kept -= chunks.shift()!.length;
    }
  } catch (err) {
    throw notFound(err, key, label);
  }
  const all = Buffer.concat(chunks);
  const tail = all.subarray(Math.max(0, all.length - n));
  return { tail, tailStart: size - tail.length, size };
}

/** Reads a stream front to back: skip to an offset, read a few bytes, or hand on the next `n` bytes. */
class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  /** Offset in the stream of `buf[0]`. */
  pos = 0;
  constructor(private readonly it: AsyncIterator<Buffer | Uint8Array>) {}

  private async more(): Promise<void> {
    const r = await this.it.next();
    if (r.done)
      throw new ImageError('bad-archive', `zip ends at byte ${this.pos + this.buf.length}, inside an entry`);
    const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
    this.buf = this.buf.length ? Buffer.concat([this.buf, b]) : b;
  }

  async skipTo(offset: number): Promise<void> {
    while (this.pos + this.buf.length < offset) {
      this.pos += this.buf.length;
      this.buf = Buffer.alloc(0);
      await this.more();
    }
    this.buf = this.buf.subarray(offset - this.pos);
    this.pos = offset;
  }

  async read(n: number): Promise<Buffer> {
    while (this.buf.length < n) await this.more();
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.pos += n;
    return out;
  }

  async *take(n: number): AsyncGenerator<Buffer> {
    for (let left = n; left > 0;) {
      if (this.buf.length === 0) await this.more();
      const c = this.buf.subarray(0, Math.min(left, this.buf.length));
      this.buf = this.buf.subarray(c.length);
      this.pos += c.length;
      left -= c.length;
      yield c;
    }
  }
}

/**
 * Unpacks a zip's entries (judged from its central directory) into `<zip key>.d/<entry>`, reading the zip
 * once, front to back, as a stream: entries in the order of their data, each local header checked, each
 * entry streamed through zipEntryStream into the bucket. Entries whose data overlap are refused (one
 * deflate stream shared by many entries is a known bomb). Neither the zip nor an entry is held whole.
 */
export async function unpackZipStreaming(
  s: KioskServices,
  input: { readonly key: string; readonly name: string },
  entries: readonly ZipCentralEntry[],
  known?: ReadonlyMap<string, Uint8Array>,
): Promise<void> {
  const stream = await openUpload(s, input.key, input.name, known);
  const reader = new ByteReader(stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
  let end = 0;
  let current = '';
  try {
    for (const e of [...entries].sort((a, b) => a.localOffset - b.localOffset)) {
      current = e.name;
      const bad = (why: string) => new ImageError('bad-archive', `zip entry '${e.name}' ${why}`);
      if (e.localOffset < end) throw bad(`overlaps the entry before it (zip bomb?)`);
      await reader.skipTo(e.localOffset);
      const header = await reader.read(30);
      if (header.readUInt32LE(0) !== 0x04034b50) throw bad(`has no local header at ${e.localOffset}`);
      await reader.skipTo(e.localOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28));
      const dataStart = reader.pos;
      end = dataStart + e.compressedSize;
      const key = `${input.key}.d/${e.name}`;
      if (e.size <= SMALL_ENTRY_BYTES && e.compressedSize <= SMALL_ENTRY_BYTES) {
        // small: inflated at once (bounded by the sizes just checked), saving a stream per entry
        await s.storage.put(key, smallEntry(await reader.read(e.compressedSize), e));
        continue;
      }
      const body = Readable.from(reader.take(e.compressedSize), { objectMode: false });
      await s.storage.putStream(key, zipEntryStream(body, e));
      await reader.skipTo(end);
    }
  } catch (err) {
    throw unpackError(err, input.name, current);
  } finally {
    stream.destroy();
  }
}

/**
 * One zip entry's bytes as a stream: inflated by node:zlib (in libuv's thread pool, off the event loop) in
 * 16 KiB chunks, counted as they come and stopped with ImageError as soon as they pass the size the central
 * directory declares (a lying header cannot make more), then held to that size, the entry's CRC-32 and
 * "not itself a zip" at the end. Nothing holds the whole entry.
 */
function zipEntryStream(source: Readable, e: ZipCentralEntry): Readable {
  const bad = (why: string) => new ImageError('bad-archive', `zip entry '${e.name}' ${why}`);
  let written = 0;
  let crc = 0;
  let head = Buffer.alloc(0);
  const check = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      written += chunk.length;
      if (written > e.size) return done(bad(`inflates past its declared ${e.size} bytes (zip bomb?)`));
      if (head.length < 4) {
        head = Buffer.concat([head, chunk.subarray(0, 4 - head.length)]);
        if (isZipArchive(head))
          return done(
            bad('is itself a zip archive; nested archives are not unpacked (put its files in the outer zip)'),
          );
      }
      crc = zlibCrc32(chunk, crc);
      done(null, chunk);
    },
    flush(done) {
      if (written !== e.size) return done(bad(`holds ${written} bytes, its header says ${e.size}`));
      if (crc >>> 0 !== e.crc) return done(bad('fails its CRC-32 check'));
      done();
    },
  });
  const stages: (NodeJS.ReadableStream | NodeJS.WritableStream)[] =
    e.method === 8 ? [source, createInflateRaw(), check] : [source, check];
  pipeline(stages, (err) => {
    if (err && !check.destroyed) check.destroy(err);
  });
  return check;
}

/**
 * Entries that declare at most this many bytes, in at most this many, are inflated in one call rather than
 * streamed: a zip of thousands of small images unpacks as fast as before streaming (a stream and a zlib
 * instance per entry cost more than inflating 1 MiB), and memory stays bounded by this size.
 */
const SMALL_ENTRY_BYTES = 2 ** 20;

/** A small entry's bytes (SMALL_ENTRY_BYTES), held to the same checks as zipEntryStream's. */
function smallEntry(src: Uint8Array, e: ZipCentralEntry): Uint8Array {
  const bad = (why: string) => new ImageError('bad-archive', `zip entry '${e.name}' ${why}`);
  let data: Uint8Array;
  if (e.method === 0) data = src;
  else {
    try {
      data = inflateRawSync(src, { maxOutputLength: Math.max(e.size, 1) });
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE')
        throw bad(`inflates past its declared ${e.size} bytes (zip bomb?)`);
      throw err;
    }
  }
  if (data.length !== e.size) throw bad(`holds ${data.length} bytes, its header says ${e.size}`);
  if (zlibCrc32(data) >>> 0 !== e.crc) throw bad('fails its CRC-32 check');
  if (isZipArchive(data))
    throw bad('is itself a zip archive; nested archives are not unpacked (put its files in the outer zip)');
  return data;
}

/** An error met while unpacking a zip entry, as the API answers it (damaged deflate data → bad-archive). */
function unpackError(err: unknown, zipName: string, entry: string): unknown {
  if (err instanceof ImageError) return new ApiError('bad-archive', `${zipName}: ${err.message}`);
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('Z_'))
    return new ApiError(
      'bad-archive',
      `${zipName}: zip entry '${entry}' has damaged deflate data: ${(err as Error).message}`,
    );
  return err;
}

/** Bytes shared by waiters: take(n) waits until n more fit (n is capped at the limit), release gives back. */
export class ByteBudget {
  private used = 0;
  private waiters: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async take(bytes: number): Promise<() => void> {
    const n = Math.min(bytes, this.limit);
    while (this.used + n > this.limit) await new Promise<void>((r) => this.waiters.push(r));
    this.used += n;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.used -= n;
      for (const w of this.waiters.splice(0)) w();
    };
  }
}

const budgets = new WeakMap<KioskServices, ByteBudget>();

/** The bytes of whole images the API may hold at once to check their headers: KIOSK_MAX_UPLOAD_MB. */
export function inspectBudget(s: KioskServices): ByteBudget {
  let b = budgets.get(s);
  if (!b) budgets.set(s, (b = new ByteBudget(s.config.maxUploadBytes)));
  return b;
}

/** The setting behind each zip limit, named in its refusal. */
export const ZIP_LIMIT_SETTINGS: Record<ZipLimitError['limit'], string> = {
  maxEntries: 'KIOSK_MAX_ZIP_ENTRIES',
  maxEntryBytes: 'KIOSK_MAX_ZIP_ENTRY_MB',
  maxTotalBytes: 'KIOSK_MAX_ZIP_MB',
  maxRatio: 'KIOSK_MAX_ZIP_RATIO',
};

type Planned =
  | { readonly kind: 'image'; readonly input: { key: string; name: string } }
  | {
      readonly kind: 'zip';
      readonly input: { key: string; name: string };
      readonly entries: ZipCentralEntry[];
    };

/**
 * Turns uploaded files into the images of a job, deciding what each file is by its bytes, never its name
 * (a PNG named `.tif` is a PNG; non-image bytes named `.png` are refused), in two passes so that a refused
 * job unpacks nothing:
 *
 * 1. Judge every input: its first SNIFF_BYTES decide what it is (a non-image is refused from those alone).
 *    A zip is judged from its central directory (readZipDirectory: `../` and absolute paths, symlinks,
 *    encryption, KIOSK_MAX_ZIP_ENTRIES, KIOSK_MAX_ZIP_ENTRY_MB, KIOSK_MAX_ZIP_RATIO, KIOSK_MAX_ZIP_MB — the
 *    last over all zips of the job); a TIFF or PNG must pass inspectImage (pixel and frame limits, sample
 *    type, compression, directories inside the file). One upload named twice is refused (`duplicate-input`),
 *    and so is a job of more than KIOSK_MAX_JOB_IMAGES images (`too-many-images`).
 * 2. Unpack each zip entry by entry, streaming (zipEntryStream: inflated off the event loop, stopped at its
 *    declared size, CRC-checked), into `<zip key>.d/<entry>`. Any failure removes the `.d/` folders made.
 *
 * A zip's entries are not checked as images here, so one bad file fails alone, by name, in the workers.
 * `batch` is true when the job has to be a parent (a zip, or more than one file). `known`: bytes of uploads
 * already in memory (the request that uploaded them), read instead of the bucket.
 */
export async function expandInputs(
  s: KioskServices,
  inputs: readonly { key: string; name: string }[],
  lab: string,
  known?: ReadonlyMap<string, Uint8Array>,
): Promise<{ images: SubmittedImage[]; batch: boolean }> {
  const seen = new Set<string>();
  for (const input of inputs) {
    if (seen.has(input.key))
      throw new ApiError(
        'duplicate-input',
        `${input.name}: the inputs name upload ${JSON.stringify(input.key)} more than once`,
      );
    seen.add(input.key);
  }
  const plan: Planned[] = [];
  let count = 0;
  let zipBytes = 0;
  const tooMany = (where: string) =>
    new ApiError(
      'too-many-images',
      `this job would have more than ${s.config.maxJobImages} images (KIOSK_MAX_JOB_IMAGES), ` +
        `reached at ${where}; send them as several jobs`,
    );
  for (const input of inputs) {
    const head = await readUploadHead(s, input.key, input.name, lab, SNIFF_BYTES, known);
    if (isZipBytes(head)) {
      let entries;
      try {
        const { tail, tailStart, size } = await readUploadTail(
          s,
          input.key,
          input.name,
          ZIP_TAIL_BYTES,
          known,
        );
        entries = readZipCentralDirectory(tail, tailStart, size, {
          maxEntries: s.config.maxZipEntries,
          maxEntryBytes: s.config.maxZipEntryBytes,
          maxTotalBytes: s.config.maxZipBytes,
          maxRatio: s.config.maxZipRatio,
        });
      } catch (err) {
        if (err instanceof ZipLimitError)
          throw new ApiError(
            'bad-archive',
            `${input.name}: ${err.message} (${ZIP_LIMIT_SETTINGS[err.limit]})`,
          );
        if (err instanceof ImageError) throw new ApiError('bad-archive', `${input.name}: ${err.message}`);
        throw err;
      }
      if (entries.length === 0) throw new ApiError('empty-archive', `${input.name} holds no files`);
      zipBytes += entries.reduce((n, e) => n + e.size, 0);
      if (zipBytes > s.config.maxZipBytes)
        throw new ApiError(
          'bad-archive',
          `${input.name}: the zips of this job declare ${zipBytes} uncompressed bytes in all, over the limit ` +
            `of ${s.config.maxZipBytes} (KIOSK_MAX_ZIP_MB)`,
        );
      count += entries.length;
      if (count > s.config.maxJobImages) throw tooMany(input.name);
      plan.push({ kind: 'zip', input, entries });
      continue;
    }
    if (!isTiff(head) && !isPng(head)) {
      if (isZipName(input.name)) {
        throw new ApiError(
          'bad-archive',
          `${input.name} is not a zip archive (it starts with bytes ${firstBytes(head)})`,
        );
      }
      const known = unsupportedFormatOf(head);
      throw new ApiError(
        'not-an-image',
        `${input.name} is not a TIFF or PNG image (${known ? `a ${known} file; ` : ''}it starts with bytes ${firstBytes(head)})`,
      );
    }
    count += 1;
    if (count > s.config.maxJobImages) throw tooMany(input.name);
    // The header check reads the whole image (a TIFF's directories may lie anywhere in it): the API holds
    // at most KIOSK_MAX_UPLOAD_MB of images for it at once, over all requests.
    const held = known?.has(input.key);
    const release = held
      ? () => undefined
      : await inspectBudget(s).take((await s.storage.size(input.key)) ?? 0);
    try {
      const bytes = await readUpload(s, input.key, input.name, lab, known);
      inspectImage(bytes, { name: input.name, maxPixels: s.config.maxPixels, maxFrames: s.config.maxFrames });
    } catch (err) {
      if (!(err instanceof ImageError)) throw err;
      throw new ApiError(IMAGE_ERROR_CODES[err.code] ?? 'bad-image', err.message);
    } finally {
      release();
    }
    plan.push({ kind: 'image', input });
  }

  const images: SubmittedImage[] = [];
  const unpacked: string[] = [];
  try {
    for (const p of plan) {
      if (p.kind === 'image') {
        images.push({ name: p.input.name, inputKey: p.input.key });
        continue;
      }
      unpacked.push(`${p.input.key}.d/`);
      await unpackZipStreaming(s, p.input, p.entries, known);
      for (const e of p.entries) images.push({ name: e.name, inputKey: `${p.input.key}.d/${e.name}` });
    }
  } catch (err) {
    await Promise.all(unpacked.map((d) => s.storage.deletePrefix(d).catch(() => undefined)));
    throw err;
  }
  return { images, batch: inputs.length > 1 || plan.some((p) => p.kind === 'zip') };
}

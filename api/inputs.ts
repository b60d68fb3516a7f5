import type {} from '@fastify/multipart';
import { randomUUID } from 'node:crypto';
import { Transform } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { inspectImage, isTiff, unsupportedFormatOf } from '../workers/image/decode.js';
import { isPng } from '../workers/image/png.js';
import { ImageError, type ImageErrorCode } from '../workers/image/types.js';
import { unpackZip } from '../workers/image/zip.js';
import { keys } from '../workers/queues/names.js';
import type { SubmittedImage } from '../workers/queues/submit.js';
import { StorageError } from '../workers/storage/storage.js';
import { ApiError, type ErrorCode } from './errors.js';
import type { KioskServices } from './services.js';

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

const isZipName = (name: string) => /\.zip$/i.test(name);
const isZipBytes = (b: Uint8Array) =>
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

/** Deletes uploaded files that no job will use (a refused request's), ignoring ones already gone. */
export async function deleteUploads(s: KioskServices, uploadKeys: readonly string[]): Promise<void> {
  await Promise.all(uploadKeys.map((k) => s.storage.delete(k).catch(() => undefined)));
}

/** True when `key` is an upload of `lab` (`uploads/<lab>/...`, no `..` segment): the keys a lab may read. */
export const isUploadOf = (key: string, lab: string) =>
  key.startsWith(`uploads/${lab}/`) && !key.split('/').includes('..');

/** The API error for an image a header check refused ('bad-image' for the rest). */
const IMAGE_ERROR_CODES: Partial<Record<ImageErrorCode, ErrorCode>> = {
  'too-many-pixels': 'too-many-pixels',
  'too-many-frames': 'too-many-frames',
};

async function readUpload(
  s: KioskServices,
  key: string,
  label: string,
  lab: string,
  known?: ReadonlyMap<string, Uint8Array>,
): Promise<Uint8Array> {
  if (!isUploadOf(key, lab)) {
    throw new ApiError(
      'upload-not-found',
      `${label}: ${JSON.stringify(key)} is not an upload of this lab (uploads/${lab}/...)`,
    );
  }
  const held = known?.get(key);
  if (held) return held;
  try {
    return await s.storage.get(key);
  } catch (err) {
    if (err instanceof StorageError)
      throw new ApiError('upload-not-found', `${label}: no uploaded file ${JSON.stringify(key)}`);
    throw err;
  }
}

/**
 * Turns uploaded files into the images of a job, deciding what each file is by its bytes, never its name
 * (a PNG named `.tif` is a PNG; non-image bytes named `.png` are refused). A zip is unpacked (unpackZip
 * refuses `../` and absolute paths, symlinks, nested zips, too many entries, bombs) into
 * `<zip key>.d/<entry>`; its entries are not checked here, so one bad file fails alone, by name, in the
 * workers. Any other file must be a TIFF or PNG whose header passes inspectImage (pixel and frame limits,
 * sample type, compression, directories inside the file), else 4xx with the reason. `batch` is true when
 * the job has to be a parent (a zip, or more than one file). `known`: bytes of uploads already in memory (the
 * request that uploaded them), read instead of the bucket.
 */
export async function expandInputs(
  s: KioskServices,
  inputs: readonly { key: string; name: string }[],
  lab: string,
  known?: ReadonlyMap<string, Uint8Array>,
): Promise<{ images: SubmittedImage[]; batch: boolean }> {
  const images: SubmittedImage[] = [];
  let batch = inputs.length > 1;
  for (const input of inputs) {
    const bytes = await readUpload(s, input.key, input.name, lab, known);
    if (isZipBytes(bytes)) {
      batch = true;
      let entries;
      try {
        entries = unpackZip(bytes, {
          maxEntries: s.config.maxZipEntries,
          maxTotalBytes: s.config.maxZipBytes,
          maxRatio: s.config.maxZipRatio,
        });
      } catch (err) {
        if (err instanceof ImageError) throw new ApiError('bad-archive', `${input.name}: ${err.message}`);
        throw err;
      }
      if (entries.length === 0) throw new ApiError('empty-archive', `${input.name} holds no files`);
      for (const e of entries) {
        const key = `${input.key}.d/${e.name}`;
        await s.storage.put(key, e.data);
        images.push({ name: e.name, inputKey: key });
      }
      continue;
    }
    if (!isTiff(bytes) && !isPng(bytes)) {
      if (isZipName(input.name)) {
        throw new ApiError(
          'bad-archive',
          `${input.name} is not a zip archive (it starts with bytes ${firstBytes(bytes)})`,
        );
      }
      const known = unsupportedFormatOf(bytes);
      throw new ApiError(
        'not-an-image',
        `${input.name} is not a TIFF or PNG image (${known ? `a ${known} file; ` : ''}it starts with bytes ${firstBytes(bytes)})`,
      );
    }
    try {
      inspectImage(bytes, { name: input.name, maxPixels: s.config.maxPixels, maxFrames: s.config.maxFrames });
    } catch (err) {
      if (!(err instanceof ImageError)) throw err;
      throw new ApiError(IMAGE_ERROR_CODES[err.code] ?? 'bad-image', err.message);
    }
    images.push({ name: input.name, inputKey: input.key });
  }
  return { images, batch };
}

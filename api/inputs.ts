import type {} from '@fastify/multipart';
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { isTiff } from '../workers/image/decode.js';
import { isPng } from '../workers/image/png.js';
import { ImageError } from '../workers/image/types.js';
import { unpackZip } from '../workers/image/zip.js';
import { keys } from '../workers/queues/names.js';
import type { SubmittedImage } from '../workers/queues/submit.js';
import { StorageError } from '../workers/storage/storage.js';
import { ApiError } from './errors.js';
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

/**
 * Streams every file part of a multipart request into the bucket (`uploads/<request.lab>/<id>/<name>`), one
 * upload id per file. Size limits come from the multipart plugin: a file over the limit stops the stream,
 * the partial object is removed, and the request fails 413. Other fields are returned as strings.
 */
export async function saveMultipartFiles(
  req: FastifyRequest,
  s: KioskServices,
): Promise<{ files: StoredUpload[]; fields: Record<string, string> }> {
  if (!req.isMultipart()) throw new ApiError('not-multipart', 'send the files as multipart/form-data');
  const files: StoredUpload[] = [];
  const fields: Record<string, string> = {};
  for await (const part of req.parts()) {
    if (part.type === 'field') {
      fields[part.fieldname] = String(part.value);
      continue;
    }
    const name = safeFileName(part.filename);
    const key = keys.upload(req.lab, randomUUID(), name);
    let size: number;
    try {
      size = await s.storage.putStream(key, part.file);
    } catch (err) {
      if ((err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE' || part.file.truncated) {
        throw new ApiError(
          'upload-too-large',
          `${part.filename} is larger than the ${s.config.maxUploadBytes / 2 ** 20} MiB upload limit`,
        );
      }
      throw err;
    }
    if (part.file.truncated) {
      await s.storage.delete(key);
      throw new ApiError(
        'upload-too-large',
        `${part.filename} is larger than the ${s.config.maxUploadBytes / 2 ** 20} MiB upload limit`,
      );
    }
    files.push({ key, name: part.filename, size });
  }
  return { files, fields };
}

async function readUpload(s: KioskServices, key: string, label: string, lab: string): Promise<Uint8Array> {
  if (!key.startsWith(`uploads/${lab}/`) || key.split('/').includes('..')) {
    throw new ApiError(
      'upload-not-found',
      `${label}: ${JSON.stringify(key)} is not an upload of this lab (uploads/${lab}/...)`,
    );
  }
  try {
    return await s.storage.get(key);
  } catch (err) {
    if (err instanceof StorageError)
      throw new ApiError('upload-not-found', `${label}: no uploaded file ${JSON.stringify(key)}`);
    throw err;
  }
}

/**
 * Turns uploaded files into the images of a job. A zip is unpacked (safely: H1's unpackZip refuses `../`
 * paths, too many entries, bombs) into `<zip key>.d/<entry>`; its entries are not checked here, so one bad
 * file fails alone, by name, in the workers. Any other file must start like a TIFF or PNG, else 400.
 * `batch` is true when the job has to be a parent (a zip, or more than one file).
 */
export async function expandInputs(
  s: KioskServices,
  inputs: readonly { key: string; name: string }[],
  lab: string,
): Promise<{ images: SubmittedImage[]; batch: boolean }> {
  const images: SubmittedImage[] = [];
  let batch = inputs.length > 1;
  for (const input of inputs) {
    const bytes = await readUpload(s, input.key, input.name, lab);
    if (isZipName(input.name) || isZipBytes(bytes)) {
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
      const head = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
      throw new ApiError(
        'not-an-image',
        `${input.name} is not a TIFF or PNG image (it starts with bytes ${head || '(empty file)'})`,
      );
    }
    images.push({ name: input.name, inputKey: input.key });
  }
  return { images, batch };
}

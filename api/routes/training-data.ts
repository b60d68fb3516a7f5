/**
 * Training data read from uploads in the bucket with a bounded memory footprint (issue 18), as a job's
 * inputs are (api/inputs.ts): what an upload is is decided from its first bytes; a zip is judged from its
 * central directory (KIOSK_MAX_ZIP_ENTRIES, KIOSK_MAX_ZIP_ENTRY_MB, KIOSK_MAX_ZIP_RATIO, KIOSK_MAX_ZIP_MB over
 * all the zips of one training) and unpacked streaming into `<zip key>.d/`; then each file is read from the
 * bucket on its own to be checked (workers/training/data-format.ts validateTrainingSet), under the API's
 * KIOSK_MAX_UPLOAD_MB budget of whole images held at once, and the checked pairs are copied as streams to
 * `training/<id>/data/`. Neither an upload nor the set is ever held whole; a file that is not a PNG or TIFF
 * by its first bytes is refused from those alone.
 */
import type { Readable } from 'node:stream';
import { isTiff } from '../../workers/image/decode.js';
import { isPng } from '../../workers/image/png.js';
import { ImageError } from '../../workers/image/types.js';
import { readZipCentralDirectory, ZipLimitError } from '../../workers/image/zip.js';
import type { Storage } from '../../workers/storage/storage.js';
import {
  validateTrainingSet,
  type TrainingDataReport,
  type TrainingPair,
  type TrainingProblem,
} from '../../workers/training/data-format.js';
import { trainingDataKey } from '../../workers/training/data-store.js';
import { ApiError } from '../errors.js';
import {
  inspectBudget,
  isZipBytes,
  isZipName,
  readUploadHead,
  readUploadTail,
  SNIFF_BYTES,
  unpackZipStreaming,
  ZIP_LIMIT_SETTINGS,
  ZIP_TAIL_BYTES,
} from '../inputs.js';
import type { KioskServices } from '../../core/services.js';

/** An upload of training data: its bucket key and the path it has in the set (a folder upload's path). */
export interface TrainingUpload {
  readonly key: string;
  readonly name: string;
}

/** A file of the set: its path in the set and the bucket key holding its bytes. */
export interface StoredTrainingFile {
  readonly path: string;
  readonly key: string;
}

/**
 * The files of a training set from its uploads: a zip becomes its entries, unpacked streaming into
 * `<zip key>.d/` (prefixed by `<zip stem>/` when there are several uploads, so two zips cannot collide); any
 * other upload is a file of its own. A zip refused by its central directory or while unpacking is a
 * 'bad-archive' problem naming the zip (and the setting for a limit), an empty zip an 'empty' one.
 * `unpacked`: the `.d/` folders made, for the caller to delete once the pairs are stored (or refused).
 */
export async function expandTrainingUploads(
  s: KioskServices,
  uploads: readonly TrainingUpload[],
  lab: string,
): Promise<{ files: StoredTrainingFile[]; problems: TrainingProblem[]; unpacked: string[] }> {
  const files: StoredTrainingFile[] = [];
  const problems: TrainingProblem[] = [];
  const unpacked: string[] = [];
  const limits = {
    maxEntries: s.config.maxZipEntries,
    maxEntryBytes: s.config.maxZipEntryBytes,
    maxTotalBytes: s.config.maxZipBytes,
    maxRatio: s.config.maxZipRatio,
  };
  let zipBytes = 0;
  try {
    for (const u of uploads) {
      const head = await readUploadHead(s, u.key, u.name, lab, SNIFF_BYTES);
      if (!isZipName(u.name) && !isZipBytes(head)) {
        files.push({ path: u.name, key: u.key });
        continue;
      }
      const badArchive = (message: string) => problems.push({ file: u.name, code: 'bad-archive', message });
      let entries;
      try {
        const { tail, tailStart, size } = await readUploadTail(s, u.key, u.name, ZIP_TAIL_BYTES);
        entries = readZipCentralDirectory(tail, tailStart, size, limits);
      } catch (err) {
        if (err instanceof ZipLimitError) {
          badArchive(`${u.name}: ${err.message} (${ZIP_LIMIT_SETTINGS[err.limit]})`);
          continue;
        }
        if (!(err instanceof ImageError)) throw err;
        badArchive(`${u.name}: ${err.message}`);
        continue;
      }
      if (entries.length === 0) {
        problems.push({ file: u.name, code: 'empty', message: `${u.name} holds no files` });
        continue;
      }
      zipBytes += entries.reduce((n, e) => n + e.size, 0);
      if (zipBytes > s.config.maxZipBytes) {
        badArchive(
          `${u.name}: the zips of this training declare ${zipBytes} uncompressed bytes in all, over the ` +
            `limit of ${s.config.maxZipBytes} (KIOSK_MAX_ZIP_MB)`,
        );
        continue;
      }
      unpacked.push(`${u.key}.d/`);
      try {
        await unpackZipStreaming(s, u, entries);
      } catch (err) {
        if (!(err instanceof ApiError) || err.code !== 'bad-archive') throw err;
        badArchive(err.message);
        continue;
      }
      const prefix = uploads.length > 1 ? `${u.name.replace(/\.zip$/i, '').replace(/[/\\]/g, '_')}/` : '';
      for (const e of entries) files.push({ path: `${prefix}${e.name}`, key: `${u.key}.d/${e.name}` });
    }
  } catch (err) {
    await deleteFolders(s.storage, unpacked);
    throw err;
  }
  return { files, problems, unpacked };
}

/**
 * Checks the set file by file (validateTrainingSet). A file whose first bytes are neither PNG nor TIFF is
 * checked on those bytes alone (the decoder refuses it from them); any other is read whole, within the
 * API's budget of KIOSK_MAX_UPLOAD_MB of whole images held at once over all requests, and let go once
 * checked.
 */
export async function checkStoredTrainingSet(
  s: KioskServices,
  files: readonly StoredTrainingFile[],
  lab: string,
  setName: string,
): Promise<TrainingDataReport<StoredTrainingFile>> {
  const withBytes = async <T>(f: StoredTrainingFile, use: (bytes: Uint8Array) => T): Promise<T> => {
    const head = await readUploadHead(s, f.key, f.path, lab, SNIFF_BYTES);
    if (!isTiff(head) && !isPng(head)) return use(head);
    const release = await inspectBudget(s).take((await s.storage.size(f.key)) ?? 0);
    try {
      return use(await s.storage.get(f.key));
    } finally {
      release();
    }
  };
  return validateTrainingSet(files, withBytes, { setName, maxPixels: s.config.maxPixels });
}

/** Copies checked pairs under `prefix` (ending in `/`) as streams; returns the keys written. */
export async function copyTrainingPairs(
  storage: Storage,
  prefix: string,
  pairs: readonly TrainingPair<StoredTrainingFile>[],
): Promise<string[]> {
  const written: string[] = [];
  for (const p of pairs) {
    for (const kind of ['image', 'labels'] as const) {
      const key = trainingDataKey(prefix, p, kind);
      const body: Readable = await storage.getStream(p[kind].key);
      await storage.putStream(key, body);
      written.push(key);
    }
  }
  return written;
}

/** Deletes folders (keys ending in `/`) made for a request; ones already gone are ignored. */
export async function deleteFolders(storage: Storage, folders: readonly string[]): Promise<void> {
  await Promise.all(folders.map((d) => storage.deletePrefix(d).catch(() => undefined)));
}

/**
 * Moving training data around: uploaded files (zips or single images) → a flat list of TrainingFile; a
 * checked set of pairs → the bucket (`training/<id>/data/<split>/<name>.(image|labels).<ext>`); the bucket →
 * a local folder with `train/` (and `val/`) in the layout `loadNucleiFolder` reads; a local folder → files.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { ImageError } from '../image/types.js';
import { unpackZip, type UnzipLimits } from '../image/zip.js';
import type { Storage } from '../storage/storage.js';
import type { TrainingFile, TrainingPair, TrainingProblem } from './data-format.js';

const isZip = (name: string, b: Uint8Array) =>
  /\.zip$/i.test(name) || (b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && (b[2] === 3 || b[2] === 5));

/**
 * Expands uploads into training files: a zip becomes its entries (prefixed by `<zip stem>/` when there are
 * several uploads, so two zips cannot collide); any other file keeps its name. A zip that cannot be opened
 * safely (`../` paths, a bomb, too many entries: see unpackZip) is a 'bad-archive' problem and an empty zip
 * an 'empty' problem, both named after the zip.
 */
export function filesFromUploads(
  uploads: readonly { name: string; bytes: Uint8Array }[],
  limits: UnzipLimits = {},
): { files: TrainingFile[]; problems: TrainingProblem[] } {
  const files: TrainingFile[] = [];
  const problems: TrainingProblem[] = [];
  for (const u of uploads) {
    if (!isZip(u.name, u.bytes)) {
      files.push({ path: u.name, bytes: u.bytes });
      continue;
    }
    let entries;
    try {
      entries = unpackZip(u.bytes, limits);
    } catch (err) {
      if (!(err instanceof ImageError)) throw err;
      problems.push({ file: u.name, code: 'bad-archive', message: `${u.name}: ${err.message}` });
      continue;
    }
    if (entries.length === 0) {
      problems.push({ file: u.name, code: 'empty', message: `${u.name} holds no files` });
      continue;
    }
    const prefix = uploads.length > 1 ? `${u.name.replace(/\.zip$/i, '').replace(/[/\\]/g, '_')}/` : '';
    for (const e of entries) files.push({ path: `${prefix}${e.name}`, bytes: e.data });
  }
  return { files, problems };
}

const ext = (path: string) => (/\.(png|tiff?)$/i.exec(path)?.[1] ?? 'png').toLowerCase();

/** The bucket key of one side of a checked pair under `prefix`: `<prefix><split>/<name>.<kind>.<ext>`. */
export function trainingDataKey(
  prefix: string,
  pair: TrainingPair<{ readonly path: string }>,
  kind: 'image' | 'labels',
): string {
  return `${prefix}${pair.split}/${pair.name}.${kind}.${ext(pair[kind].path)}`;
}

/** Writes checked pairs under `prefix` (ending in `/`); returns the keys written. */
export async function storeTrainingPairs(
  storage: Storage,
  prefix: string,
  pairs: readonly TrainingPair[],
): Promise<string[]> {
  const written: string[] = [];
  for (const p of pairs) {
    for (const kind of ['image', 'labels'] as const) {
      const key = trainingDataKey(prefix, p, kind);
      await storage.put(key, p[kind].bytes);
      written.push(key);
    }
  }
  return written;
}

/**
 * Copies the pairs stored under `prefix` into `dir/train` and `dir/val`. Resolves to the folders
 * (`valDir` only when there are validation pairs).
 */
export async function fetchTrainingData(
  storage: Storage,
  prefix: string,
  dir: string,
): Promise<{ trainDir: string; valDir?: string }> {
  let val = false;
  for (const key of await storage.list(prefix)) {
    const rest = key.slice(prefix.length);
    const m = /^(train|val)\/([^/]+)$/.exec(rest);
    if (!m) continue;
    if (m[1] === 'val') val = true;
    await mkdir(join(dir, m[1]!), { recursive: true });
    await writeFile(join(dir, m[1]!, m[2]!), await storage.get(key));
  }
  return { trainDir: join(dir, 'train'), ...(val ? { valDir: join(dir, 'val') } : {}) };
}

/** Every file under `dir` (recursively) as a TrainingFile with a `/`-separated relative path. */
export async function readTrainingFolder(dir: string): Promise<TrainingFile[]> {
  const out: TrainingFile[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    out.push({ path: relative(dir, full).split(sep).join('/'), bytes: new Uint8Array(await readFile(full)) });
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

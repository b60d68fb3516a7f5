/**
 * Training checkpoints in the bucket, so a job survives the death of its worker (or its node):
 *
 *   training/<id>/checkpoint/epoch-<n>/last/...   model + optimizer + state after epoch n
 *   training/<id>/checkpoint/epoch-<m>/best/...   the best model so far (from epoch m)
 *   training/<id>/checkpoint/latest.json          { epoch, step, last, best? } — written last
 *
 * A checkpoint is complete once `latest.json` points at it (a pointer written after every file it names),
 * so a worker killed halfway through an upload leaves the previous checkpoint in force. Older epoch folders
 * are deleted after the pointer moves.
 */
import { mkdir, readdir, writeFile, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { Storage } from '../storage/storage.js';

export interface CheckpointPointer {
  readonly epoch: number;
  readonly step: number;
  /** Prefix of `last/` (ends in `/`). */
  readonly last: string;
  /** Prefix of `best/`, when one was saved. */
  readonly best?: string;
}

export const checkpointPrefix = (id: string) => `training/${id}/checkpoint/`;

async function uploadDir(storage: Storage, dir: string, prefix: string): Promise<void> {
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const full = join(e.parentPath, e.name);
    await storage.put(`${prefix}${relative(dir, full).split(sep).join('/')}`, await readFile(full));
  }
}

async function downloadPrefix(storage: Storage, prefix: string, dir: string): Promise<void> {
  for (const key of await storage.list(prefix)) {
    const path = join(dir, ...key.slice(prefix.length).split('/'));
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, await storage.get(key));
  }
}

/** The newest complete checkpoint of a job, or undefined. */
export async function readPointer(storage: Storage, id: string): Promise<CheckpointPointer | undefined> {
  const key = `${checkpointPrefix(id)}latest.json`;
  if (!(await storage.exists(key))) return undefined;
  return JSON.parse(Buffer.from(await storage.get(key)).toString('utf8')) as CheckpointPointer;
}

/**
 * Uploads one epoch's snapshot (`<snapshot>/last`, and `<snapshot>/best` when `improved`), moves the pointer
 * to it, and deletes the epoch folders it no longer names. Resolves to the new pointer.
 */
export async function uploadCheckpoint(
  storage: Storage,
  id: string,
  snapshot: string,
  epoch: number,
  step: number,
  improved: boolean,
  previous: CheckpointPointer | undefined,
): Promise<CheckpointPointer> {
  const base = `${checkpointPrefix(id)}epoch-${epoch}/`;
  await uploadDir(storage, join(snapshot, 'last'), `${base}last/`);
  if (improved) await uploadDir(storage, join(snapshot, 'best'), `${base}best/`);
  const best = improved ? `${base}best/` : previous?.best;
  const pointer: CheckpointPointer = { epoch, step, last: `${base}last/`, ...(best ? { best } : {}) };
  await storage.put(`${checkpointPrefix(id)}latest.json`, Buffer.from(JSON.stringify(pointer)));
  for (const key of await storage.list(checkpointPrefix(id))) {
    if (key.endsWith('latest.json') || key.startsWith(pointer.last) || (best && key.startsWith(best)))
      continue;
    await storage.delete(key);
  }
  return pointer;
}

/** Copies the checkpoint `pointer` names into `dir/last` (and `dir/best`), where trainModel resumes from. */
export async function restoreCheckpoint(
  storage: Storage,
  pointer: CheckpointPointer,
  dir: string,
): Promise<void> {
  await downloadPrefix(storage, pointer.last, join(dir, 'last'));
  if (pointer.best) await downloadPrefix(storage, pointer.best, join(dir, 'best'));
}

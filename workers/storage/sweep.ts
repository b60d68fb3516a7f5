import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobRecords } from '../queues/records.js';
import type { LocalFolderStorage } from './local.js';
import type { Storage } from './storage.js';

export interface SweepResult {
  /** `results/<lab>/<job>/` folders removed (their job's record had expired or was deleted). */
  readonly results: number;
  /** `scratch/<job>/` folders removed (left by a job whose record is gone). */
  readonly scratch: number;
  /** `uploads/<lab>/<id>/` folders removed (every job that used them is gone, or none did for the TTL). */
  readonly uploads: number;
}

export interface SweeperOptions {
  /** The local folder bucket: its folders are read directly (which jobs left results, uploads). */
  readonly storage: LocalFolderStorage;
  /**
   * What its listings and deletes go through: the API's own bucket, which in tests checks each call against
   * the API role's grants (workers/storage/grant-check.ts). @default - `storage`
   */
  readonly via?: Storage;
  readonly records: JobRecords;
  /** Seconds an upload no job ever used is kept (the job TTL: a client may submit it later). */
  readonly unusedUploadTtlS: number;
  /** Where a failed sweep is reported. */
  readonly log: (msg: string) => void;
}

/**
 * Expiry for the local folder bucket. Job records expire in Redis (KIOSK_JOB_TTL_S after they finish, or
 * what `/api/redis/expire` set); this deletes what they leave in the bucket: each job's results and
 * leftover scratch once its record is gone, and each upload folder once every job that used it is gone
 * (or, if no job ever did, once it is older than the TTL). Cloud buckets do this with lifecycle rules.
 * Deleting is idempotent, so two API processes sweeping the same folder do no harm.
 */
export class ExpiredObjectSweeper {
  constructor(private readonly o: SweeperOptions) {}

  /** One pass over the bucket. */
  async sweep(now = Date.now()): Promise<SweepResult> {
    const { storage, records } = this.o;
    const bucket = this.o.via ?? storage;
    let results = 0;
    let scratch = 0;
    let uploads = 0;
    for (const lab of await subfolders(join(storage.root, 'results'))) {
      const ids = await subfolders(join(storage.root, 'results', lab));
      const alive = await records.existing(ids);
      for (const [i, id] of ids.entries()) {
        if (alive[i]) continue;
        await bucket.deletePrefix(`results/${lab}/${id}/`);
        results++;
      }
    }
    const scratchIds = [...new Set((await bucket.list('scratch/')).map((k) => k.split('/')[1]!))];
    const scratchAlive = await records.existing(scratchIds);
    for (const [i, id] of scratchIds.entries()) {
      if (scratchAlive[i]) continue;
      await bucket.deletePrefix(`scratch/${id}/`);
      scratch++;
    }
    for (const lab of await subfolders(join(storage.root, 'uploads'))) {
      const folders = (await subfolders(join(storage.root, 'uploads', lab))).map(
        (id) => `uploads/${lab}/${id}/`,
      );
      const states = await records.uploadStates(folders);
      const gone: string[] = [];
      for (const [i, folder] of folders.entries()) {
        if (states[i] === 'used') continue;
        if (states[i] === 'never') {
          const st = await stat(storage.pathOf(folder.slice(0, -1))).catch(() => undefined);
          if (!st || now - st.mtimeMs < this.o.unusedUploadTtlS * 1000) continue;
        }
        await bucket.deletePrefix(folder);
        gone.push(folder);
      }
      await records.forgetUploads(gone);
      uploads += gone.length;
    }
    return { results, scratch, uploads };
  }

  /** Sweeps every `intervalMs` (never two at once) until the returned function is called. */
  start(intervalMs: number): () => void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      this.sweep()
        .catch((err: unknown) => this.o.log(`bucket sweep: ${String(err)}`))
        .finally(() => (running = false));
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}

async function subfolders(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory()).map((e) => e.name);
}

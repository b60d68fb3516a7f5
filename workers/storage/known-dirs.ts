/**
 * KnownDirs: the folders a LocalFolderStorage (local.ts) remembers as existing, so a write skips its mkdir.
 */
import { sep } from 'node:path';

/** A bounded set of folder paths, least recently used dropped first (a Map keeps insertion order). */
export class KnownDirs {
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

/**
 * The job-type registry: every folder under workers/jobtypes/ that holds `job-type.ts` is a job type (its
 * default export, a JobTypeDefinition). Nothing lists them: a new folder is found by the next process that
 * asks. `jobTypeRegistry()` loads them once per process; `loadFolder` adds a type from elsewhere (a test's
 * fixture, a lab's own folder).
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SegmentationStages } from '../processors/stages.js';
import type { JobStages, JobTypeDefinition } from './types.js';

/** The file that makes a folder a job type. */
export const JOB_TYPE_FILES = ['job-type.ts', 'job-type.js'] as const;

const NAME = /^[a-z][a-z0-9-]{0,63}$/;

export class JobTypeRegistry {
  private readonly types = new Map<string, JobTypeDefinition>();
  /** alias → name */
  private readonly aliases = new Map<string, string>();
  private readonly made = new WeakMap<JobTypeDefinition, WeakMap<SegmentationStages, JobStages>>();

  /** Adds a definition; throws naming the problem (bad name, a name or alias taken, no outputs...). */
  register(def: JobTypeDefinition): void {
    const where = `job type ${JSON.stringify(def?.name)}`;
    if (typeof def?.name !== 'string' || !NAME.test(def.name))
      throw new Error(`${where}: name must match ${NAME.source}`);
    for (const n of [def.name, ...(def.aliases ?? [])]) {
      if (!NAME.test(n)) throw new Error(`${where}: alias ${JSON.stringify(n)} must match ${NAME.source}`);
      if (this.types.has(n) || this.aliases.has(n))
        throw new Error(
          `${where}: the name ${JSON.stringify(n)} is taken by job type ${this.resolveName(n)}`,
        );
    }
    if (!def.input?.channels?.length) throw new Error(`${where}: input.channels lists no channel`);
    if (!def.input.axes?.length) throw new Error(`${where}: input.axes lists no axes`);
    if (!def.outputs?.length) throw new Error(`${where}: outputs lists no output`);
    if (new Set(def.outputs.map((o) => o.name)).size !== def.outputs.length)
      throw new Error(`${where}: two outputs have the same name`);
    if (typeof def.stages !== 'function') throw new Error(`${where}: stages(base) is missing`);
    this.types.set(def.name, def);
    for (const a of def.aliases ?? []) this.aliases.set(a, def.name);
  }

  /** Removes a type and its aliases (tests clean up with it). */
  unregister(name: string): void {
    const def = this.types.get(name);
    if (!def) return;
    this.types.delete(name);
    for (const a of def.aliases ?? []) this.aliases.delete(a);
  }

  private resolveName(name: string): string | undefined {
    return this.types.has(name) ? name : this.aliases.get(name);
  }

  /**
   * The type called `name`; with `aliases` (the DeepCell-compatible routes) also a type one of whose
   * aliases it is. Undefined when none.
   */
  find(name: string, o: { aliases?: boolean } = {}): JobTypeDefinition | undefined {
    const n = o.aliases ? this.resolveName(name) : name;
    return n === undefined ? undefined : this.types.get(n);
  }

  /** Like find, but throws UnknownJobTypeError naming the known types. */
  get(name: string, o: { aliases?: boolean } = {}): JobTypeDefinition {
    const def = this.find(name, o);
    if (!def) throw new UnknownJobTypeError(name, this.names());
    return def;
  }

  /** The types, by name. */
  list(): JobTypeDefinition[] {
    return [...this.types.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  names(): string[] {
    return this.list().map((t) => t.name);
  }

  /** `def`'s stages over the worker's model stages `base` (made once per pair). */
  stagesOf(def: JobTypeDefinition, base: SegmentationStages): JobStages {
    let byBase = this.made.get(def);
    if (!byBase) this.made.set(def, (byBase = new WeakMap()));
    let stages = byBase.get(base);
    if (!stages) byBase.set(base, (stages = def.stages(base)));
    return stages;
  }

  /** Registers the job type of `folder` (its job-type.ts / .js default export); resolves to it. */
  async loadFolder(folder: string): Promise<JobTypeDefinition> {
    const file = JOB_TYPE_FILES.map((f) => join(folder, f)).find((f) => existsSync(f));
    if (!file) throw new Error(`${folder}: no ${JOB_TYPE_FILES.join(' or ')}`);
    const mod = (await import(pathToFileURL(file).href)) as { default?: JobTypeDefinition };
    if (!mod.default) throw new Error(`${file}: no default export (the JobTypeDefinition)`);
    this.register(mod.default);
    return mod.default;
  }

  /** Registers every job-type folder directly under `root`, in name order. */
  async loadAll(root: string): Promise<void> {
    const dirs = (await readdir(root, { withFileTypes: true }))
      .filter((d) => d.isDirectory() && JOB_TYPE_FILES.some((f) => existsSync(join(root, d.name, f))))
      .map((d) => d.name)
      .sort();
    for (const d of dirs) await this.loadFolder(join(root, d));
  }
}

/** A job names a type no folder defines; `known` lists the names there are. */
export class UnknownJobTypeError extends Error {
  readonly code = 'unknown-job-type';
  constructor(
    readonly jobType: string,
    readonly known: readonly string[],
  ) {
    super(`unknown job type ${JSON.stringify(jobType)}; available: ${known.join(', ')}`);
  }
}

/** This folder: the built-in job types' parent. */
export const JOB_TYPES_ROOT = dirname(fileURLToPath(import.meta.url));

let loaded: Promise<JobTypeRegistry> | undefined;

/** The process's registry, with every built-in job type (loaded on first call). */
export function jobTypeRegistry(): Promise<JobTypeRegistry> {
  loaded ??= (async () => {
    const r = new JobTypeRegistry();
    await r.loadAll(JOB_TYPES_ROOT);
    return r;
  })();
  return loaded;
}

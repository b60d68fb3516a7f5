import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Int8Choice, ModelRunner, RuntimeChoice } from '../model/runners.js';
import type { CardLike } from '../processors/stages.js';
import { BadInputError } from '../queues/errors.js';
import type { Storage } from '../storage/storage.js';

/** Where a model version comes from. `custom`: registered in code (the trivial test model). */
export type ModelSource = 'builtin' | 'bucket' | 'custom';

export interface ModelVersion {
  readonly name: string;
  /** A decimal integer, as a string (DeepCell's `modelVersion`). */
  readonly version: string;
  readonly source: ModelSource;
  readonly card: CardLike;
  /**
   * The lab that trained it (its card's `lab`): only that lab sees it.
   * @default - a shared model: shipped, registered in code, or put in the bucket without a lab
   */
  readonly lab?: string;
}

/** A model registered in code, e.g. the trivial test model. */
export interface CustomModel {
  readonly card: CardLike;
  createRunner(): Promise<ModelRunner>;
}

export interface ModelRegistryProps {
  readonly storage: Storage;
  /**
   * Models shipped with the code: `<builtinDir>/<name>/<version>/card.json` (+ weights).
   * @default - none
   */
  readonly builtinDir?: string;
  /**
   * Local folder for bucket models fetched before loading.
   * @default - a `model-cache` folder in the OS temp dir
   */
  readonly cacheDir?: string;
  /**
   * Runtime for loadRunner.
   * @default 'auto'
   */
  readonly runtime?: RuntimeChoice;
  /** Int8 copy choice for loadRunner (KIOSK_INT8). @default - loadRunner's default (KIOSK_INT8, else auto) */
  readonly int8?: Int8Choice;
  /**
   * onnxruntime intra-op threads.
   * @default - loadRunner's default (1)
   */
  readonly threads?: number;
  /** onnxruntime threads spin while idle. @default - loadRunner's default (true) */
  readonly spin?: boolean;
  /** Extra models by `name@version`, e.g. `{ 'trivial@1': { card, createRunner } }`. @default - none */
  readonly custom?: Readonly<Record<string, CustomModel>>;
  /**
   * How long `resolve` reuses a listing (every job stage resolves its model). A name or version it does not
   * know is looked up afresh at once; only "the newest version" may lag a new version by this much.
   * `list` and `catalog` always read afresh.
   * @default 2000
   */
  readonly listCacheMs?: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const VERSION = /^[0-9]{1,9}$/;

/**
 * The model registry: built-in models from the repository's `models/<name>/<version>/`, models in the
 * bucket's `models/<name>/<version>/` (what training writes; they appear without a restart), and custom
 * models registered in code. A bucket version shadows a built-in one of the same name and version.
 *
 * Labs: a bucket model whose card names a `lab` (every model the training service writes) belongs to that
 * lab; the API passes the caller's lab to `list`, `catalog` and `resolve`, which then show the shared
 * models and that lab's own, never another lab's. Without a lab (workers, which run jobs the API already
 * checked, and version numbering) every model is seen.
 */
export class ModelRegistry {
  private readonly runners = new Map<string, Promise<ModelRunner>>();
  private readonly cacheDir: string;

  constructor(private readonly props: ModelRegistryProps) {
    this.cacheDir = props.cacheDir ?? join(process.env.TMPDIR ?? '/tmp', 'kiosk-model-cache');
  }

  private cached?: { at: number; list: Promise<ModelVersion[]> };

  /**
   * The models and versions `lab` may use, numerically ascending, read afresh.
   * @param lab the caller's lab. @default - every lab's models
   */
  async list(lab?: string): Promise<ModelVersion[]> {
    return visibleTo(await this.scanAll(), lab);
  }

  private scanAll(): Promise<ModelVersion[]> {
    const list = this.scan();
    this.cached = { at: Date.now(), list };
    list.catch(() => (this.cached = undefined));
    return list;
  }

  private async recent(lab?: string): Promise<ModelVersion[]> {
    if (this.cached && Date.now() - this.cached.at <= (this.props.listCacheMs ?? 2000))
      return visibleTo(await this.cached.list, lab);
    return this.list(lab);
  }

  /** Every candidate, lowest precedence first (custom, built-in, bucket); visibleTo picks per lab. */
  private async scan(): Promise<ModelVersion[]> {
    const found: ModelVersion[] = [];
    for (const [id, m] of Object.entries(this.props.custom ?? {})) {
      const [name, version] = id.split('@') as [string, string];
      found.push({ name, version, source: 'custom', card: m.card });
    }
    if (this.props.builtinDir && existsSync(this.props.builtinDir)) {
      for (const name of await readdir(this.props.builtinDir)) {
        if (!NAME.test(name)) continue;
        for (const version of await readdir(join(this.props.builtinDir, name)).catch(() => [] as string[])) {
          const cardPath = join(this.props.builtinDir, name, version, 'card.json');
          if (!VERSION.test(version) || !existsSync(cardPath)) continue;
          const card = await readCard(await readFile(cardPath), name, version);
          if (card) found.push({ name, version, source: 'builtin', card });
        }
      }
    }
    for (const key of await this.props.storage.list('models/')) {
      const m = /^models\/([^/]+)\/([^/]+)\/card\.json$/.exec(key);
      if (!m || !NAME.test(m[1]!) || !VERSION.test(m[2]!)) continue;
      const card = await readCard(await this.props.storage.get(key), m[1]!, m[2]!);
      if (!card) continue;
      const lab = typeof card.lab === 'string' && card.lab ? card.lab : undefined;
      found.push({ name: m[1]!, version: m[2]!, source: 'bucket', card, ...(lab ? { lab } : {}) });
    }
    return found;
  }

  /**
   * `{ name: [versions] }`, the DeepCell `/api/models` shape.
   * @param lab the caller's lab. @default - every lab's models
   */
  async catalog(lab?: string): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    for (const m of await this.list(lab)) (out[m.name] ??= []).push(m.version);
    return out;
  }

  /**
   * Finds a model version `lab` may use; no version (or '') means the newest. Another lab's model is
   * unknown, with the same message as a model that does not exist.
   * @param lab the caller's lab. @default - every lab's models
   * @throws BadInputError 'unknown-model' / 'unknown-model-version', naming what exists
   */
  async resolve(name: string, version?: string, lab?: string): Promise<ModelVersion> {
    const hit = this.pick(await this.recent(lab), name, version);
    if (hit) return hit;
    const all = await this.list(lab);
    const fresh = this.pick(all, name, version);
    if (fresh) return fresh;
    const versions = all.filter((m) => m.name === name);
    if (versions.length === 0) {
      const names = [...new Set(all.map((m) => m.name))];
      throw new BadInputError(
        'unknown-model',
        `unknown model ${JSON.stringify(name)}; available: ${names.join(', ') || '(none)'}`,
      );
    }
    throw new BadInputError(
      'unknown-model-version',
      `model ${name} has no version ${JSON.stringify(version)}; available: ${versions.map((m) => m.version).join(', ')}`,
    );
  }

  private pick(all: readonly ModelVersion[], name: string, version?: string): ModelVersion | undefined {
    const versions = all.filter((m) => m.name === name);
    if (version === undefined || version === '') return versions[versions.length - 1];
    return versions.find((m) => m.version === String(version));
  }

  /** The runner of a model version, loaded once per process and shared (the predict worker batches on it). */
  runner(model: ModelVersion): Promise<ModelRunner> {
    const id = `${model.name}@${model.version}`;
    let r = this.runners.get(id);
    if (!r) {
      r = this.load(model);
      this.runners.set(id, r);
      r.catch(() => this.runners.delete(id)); // a failed load is retried by the next job
    }
    return r;
  }

  private async load(model: ModelVersion): Promise<ModelRunner> {
    const id = `${model.name}@${model.version}`;
    const custom = this.props.custom?.[id];
    if (custom) return custom.createRunner();
    const dir =
      model.source === 'builtin'
        ? join(this.props.builtinDir!, model.name, model.version)
        : await this.fetch(model);
    const { loadRunner } = await import('../model/runners.js');
    return loadRunner(dir, {
      runtime: this.props.runtime ?? 'auto',
      ...(this.props.int8 ? { int8: this.props.int8 } : {}),
      ...(this.props.threads ? { threads: this.props.threads } : {}),
      ...(this.props.spin !== undefined ? { spin: this.props.spin } : {}),
    });
  }

  /** Copies a bucket model into the cache folder (atomically: a half-copied folder is never used). */
  private async fetch(model: ModelVersion): Promise<string> {
    const dir = join(this.cacheDir, model.name, model.version);
    if (existsSync(join(dir, 'card.json'))) return dir;
    const prefix = `models/${model.name}/${model.version}/`;
    const tmp = `${dir}.part-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    for (const key of await this.props.storage.list(prefix)) {
      const path = join(tmp, ...key.slice(prefix.length).split('/'));
      await mkdir(join(path, '..'), { recursive: true });
      await writeFile(path, await this.props.storage.get(key));
    }
    await rm(dir, { recursive: true, force: true });
    await mkdir(join(dir, '..'), { recursive: true });
    await rename(tmp, dir);
    return dir;
  }

  /** Frees every loaded runner. */
  async close(): Promise<void> {
    const all = [...this.runners.values()];
    this.runners.clear();
    for (const r of all) await (await r.catch(() => undefined))?.dispose();
  }
}

/**
 * One version per name@version, the highest-precedence candidate `lab` may see (a lab's bucket model
 * shadows a shipped one of the same version only for that lab), sorted by name and numeric version.
 */
function visibleTo(all: readonly ModelVersion[], lab: string | undefined): ModelVersion[] {
  const pick = new Map<string, ModelVersion>();
  for (const m of all)
    if (lab === undefined || m.lab === undefined || m.lab === lab) pick.set(`${m.name}@${m.version}`, m);
  return [...pick.values()].sort(
    (a, b) => a.name.localeCompare(b.name) || Number(a.version) - Number(b.version),
  );
}

async function readCard(bytes: Uint8Array, name: string, version: string): Promise<CardLike | undefined> {
  try {
    const card = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
    return {
      ...card,
      name: typeof card.name === 'string' ? card.name : name,
      version: (card.version as number) ?? Number(version),
    };
  } catch {
    return undefined; // a half-written or broken card: the version is not listed
  }
}

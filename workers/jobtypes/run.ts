/**
 * A job type's stages run in this process, without queues (`kiosk segment --job-type`): preprocess →
 * predict → postprocess, and again at the scale the stages ask for (nextScale), as the service's
 * processors chain them; then each output encoded as its label TIFF.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelRunner } from '../model/runners.js';
import type { CardLike, ModelAccess, SegmentationStages, StageOptions } from '../processors/stages.js';
import type { Labels } from '../image/types.js';
import { BadInputError } from '../queues/errors.js';
import type { JobTypeRegistry } from './registry.js';
import { labelOutputs, type JobTypeDefinition } from './types.js';

export interface InProcessResult {
  /** The outputs, in the type's order (the first is the primary label image). */
  readonly outputs: readonly Labels[];
  /** Each output as a label TIFF (the stages' encodeLabels: pixel size stated). */
  readonly tiffs: readonly Uint8Array[];
  /** Network passes. */
  readonly passes: number;
}

/**
 * Runs image `bytes` (file `name`) through job type `def`'s stages over the model stages `base`; `models`
 * gives the stages any second model they load (whole-cell's cellModel, see {@link modelsInFolder}).
 */
export async function runJobType(
  registry: JobTypeRegistry,
  def: JobTypeDefinition,
  base: SegmentationStages,
  bytes: Uint8Array,
  name: string,
  runner: ModelRunner,
  card: CardLike,
  opts: StageOptions,
  models?: ModelAccess,
): Promise<InProcessResult> {
  const stages = registry.stagesOf(def, base);
  let scale: number | undefined;
  for (let pass = 1; ; pass++) {
    const prepared = await stages.preprocess(bytes, name, card, opts, scale);
    const maps = await stages.predict(prepared, runner, card, models);
    const outputs = labelOutputs(await stages.postprocess(maps, prepared.meta, card, opts));
    scale = stages.nextScale?.(outputs[0]!, prepared.meta, card, opts, pass, outputs);
    if (scale === undefined) {
      const tiffs = outputs.map((l) => stages.encodeLabels(l, prepared.meta, opts));
      return { outputs, tiffs, passes: pass };
    }
  }
}

/** A ModelAccess that also frees the runners it opened. */
export interface FolderModels extends ModelAccess {
  dispose(): Promise<void>;
}

/**
 * Models of a folder laid out as `<root>/<name>/<version>/` (card.json + weights; what `kiosk models
 * import` writes): no version means the highest. Each version's runner is opened once (loadRunner: a
 * bioimage.io import gets its own runner). An unknown name or version throws BadInputError
 * 'unknown-model' / 'unknown-model-version' naming what the folder holds.
 */
export function modelsInFolder(root: string, threads?: number): FolderModels {
  const open = new Map<string, Promise<{ runner: ModelRunner; card: CardLike }>>();
  const versionsOf = async (name: string): Promise<number[]> =>
    (await readdir(join(root, name), { withFileTypes: true }).catch(() => []))
      .filter((d) => d.isDirectory() && /^\d+$/.test(d.name))
      .map((d) => Number(d.name))
      .sort((a, b) => a - b);
  return {
    async load(name, version) {
      const versions = await versionsOf(name);
      if (versions.length === 0) {
        const names = (await readdir(root).catch(() => [] as string[])).sort();
        throw new BadInputError(
          'unknown-model',
          `unknown model ${JSON.stringify(name)} in ${root}; available: ${names.join(', ') || '(none)'}`,
        );
      }
      const v = version === undefined || version === '' ? versions[versions.length - 1]! : Number(version);
      if (!versions.includes(v))
        throw new BadInputError(
          'unknown-model-version',
          `model ${name} has no version ${JSON.stringify(version)} in ${root}; available: ${versions.join(', ')}`,
        );
      const id = `${name}@${v}`;
      let got = open.get(id);
      if (!got) {
        const dir = join(root, name, String(v));
        got = (async () => {
          const { readModelCard } = await import('../model/model-io.js');
          const { loadRunner } = await import('../model/runners.js');
          const card = (await readModelCard(dir)) as unknown as CardLike;
          return { card, runner: await loadRunner(dir, threads !== undefined ? { threads } : {}) };
        })();
        open.set(id, got);
        got.catch(() => open.delete(id));
      }
      return got;
    },
    async dispose() {
      const all = [...open.values()];
      open.clear();
      for (const m of all) await (await m.catch(() => undefined))?.runner.dispose();
    },
  };
}

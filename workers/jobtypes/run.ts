/**
 * A job type's stages run in this process, without queues (`kiosk segment --job-type`): preprocess →
 * predict → postprocess, and again at the scale the stages ask for (nextScale), as the service's
 * processors chain them; then each output encoded as its label TIFF.
 */
import type { ModelRunner } from '../model/runners.js';
import type { CardLike, SegmentationStages, StageOptions } from '../processors/stages.js';
import type { Labels } from '../image/types.js';
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

/** Runs image `bytes` (file `name`) through job type `def`'s stages over the model stages `base`. */
export async function runJobType(
  registry: JobTypeRegistry,
  def: JobTypeDefinition,
  base: SegmentationStages,
  bytes: Uint8Array,
  name: string,
  runner: ModelRunner,
  card: CardLike,
  opts: StageOptions,
): Promise<InProcessResult> {
  const stages = registry.stagesOf(def, base);
  let scale: number | undefined;
  for (let pass = 1; ; pass++) {
    const prepared = await stages.preprocess(bytes, name, card, opts, scale);
    const maps = await stages.predict(prepared, runner, card);
    const outputs = labelOutputs(await stages.postprocess(maps, prepared.meta, card, opts));
    scale = stages.nextScale?.(outputs[0]!, prepared.meta, card, opts, pass, outputs);
    if (scale === undefined) {
      const tiffs = outputs.map((l) => stages.encodeLabels(l, prepared.meta, opts));
      return { outputs, tiffs, passes: pass };
    }
  }
}

/**
 * `kiosk segment`'s two other ways through an image, beside plain 2-D segmentation: a job type other than
 * segmentation (its own stages, in-process, one file per output) and `--3d` (a ZYX stack into one 3-D label
 * TIFF). Each writes its files and returns the report line's middle part.
 */
import { writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { DEFAULT_MAX_PIXELS } from '../../workers/image/decode.js';
import { countObjects } from '../../workers/image/labels.js';
import { labelFileName } from '../../workers/image/label-names.js';
import { encodeLabelVolumeTiff } from '../../workers/image/tiff-write-volume.js';
import type { RawArray } from '../../workers/image/types.js';
import { outputLocalFileName } from '../../workers/jobtypes/outputs.js';
import type { JobTypeRegistry } from '../../workers/jobtypes/registry.js';
import { runJobType } from '../../workers/jobtypes/run.js';
import type { JobTypeDefinition } from '../../workers/jobtypes/types.js';
import type { ModelCard } from '../../workers/model/model-io.js';
import type { ModelRunner } from '../../workers/model/runners.js';
import { segmentVolume, type SegmentOptions } from '../../workers/pipeline/index.js';
import { pipelineStages } from '../../workers/processors/pipeline-stages.js';
import type { FolderModels } from '../../workers/jobtypes/run.js';
import type { CardLike } from '../../workers/processors/stages.js';

/** whole-cell's `--cell-model`: the model pinned as `name@version`, and the folder it loads from. */
export interface CellModelChoice {
  readonly ref: string;
  readonly models: FolderModels;
}

const passes = (n: number) => `${n} pass${n > 1 ? 'es' : ''}`;

/**
 * Job type `def`'s stages over the real pipeline: OUT/NAME.labels.tif and NAME.<output>.labels.tif; `cell`:
 * whole-cell's second-stage model.
 */
export async function segmentAsJobType(
  registry: JobTypeRegistry,
  def: JobTypeDefinition,
  file: string,
  bytes: Uint8Array,
  runner: ModelRunner,
  card: ModelCard,
  opts: SegmentOptions,
  outDir: string,
  cell?: CellModelChoice,
): Promise<string> {
  const r = await runJobType(
    registry,
    def,
    pipelineStages,
    bytes,
    basename(file),
    runner,
    card as unknown as CardLike,
    {
      ...(opts.mpp !== undefined && { micronsPerPixel: opts.mpp }),
      ...(opts.channels && { channels: opts.channels }),
      ...(opts.dimensionOrder !== undefined && { dimensionOrder: opts.dimensionOrder }),
      ...(cell && { cellModel: cell.ref }),
      maxPixels: DEFAULT_MAX_PIXELS,
    },
    cell?.models,
  );
  const parts: string[] = [];
  for (const [k, tif] of r.tiffs.entries()) {
    await writeFile(join(outDir, outputLocalFileName(basename(file), def, k)), tif);
    parts.push(`${def.outputs[k]!.name}: ${countObjects(r.outputs[k]!)} objects`);
  }
  return `${parts.join(', ')} (${passes(r.passes)})`;
}

/**
 * The stack `raw` segmented plane by plane at one scale and stitched across z (workers/pipeline/volume.ts):
 * OUT/NAME.labels.tif as a ZYX label TIFF, the µm/px (`--mpp`, else the file's) stated.
 */
export async function segmentAs3d(
  file: string,
  raw: RawArray,
  runner: ModelRunner,
  card: ModelCard,
  opts: SegmentOptions,
  outDir: string,
): Promise<string> {
  const r = await segmentVolume(raw, runner, card, opts);
  const v = r.volume;
  await writeFile(
    join(outDir, labelFileName(basename(file))),
    encodeLabelVolumeTiff(v, opts.mpp ?? raw.physicalSizeX),
  );
  let n = 0;
  for (const id of v.data) if (id > n) n = id; // stitched ids are 1..N
  return `${n} objects in 3-D (${v.depth} planes of ${v.height}x${v.width}, scale ${r.scale.toFixed(2)}, ${passes(r.passes)})`;
}

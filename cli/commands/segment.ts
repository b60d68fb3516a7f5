import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { UsageError, type Command } from '../command.js';
import { decodeImage } from '../../workers/image/decode.js';
import { writeLabelsTiff } from '../../workers/image/files.js';
import { labelFileName, labelStem } from '../../workers/image/label-names.js';
import { labelSource, labelTiffOptions } from '../../workers/image/tiff-write-labels.js';
import { readModelCard } from '../../workers/model/model-io.js';
import { loadRunner, type RuntimeChoice } from '../../workers/model/runners.js';
import { segmentImageDetailed, type SegmentOptions } from '../../workers/pipeline/segment.js';
import { jobTypeRegistry } from '../../workers/jobtypes/registry.js';
import { modelsInFolder } from '../../workers/jobtypes/run.js';
import { ImageError } from '../../workers/image/types.js';
import { cellModelInfo, parseModelRef } from '../../workers/pipeline/cell-model.js';
import { BadInputError } from '../../workers/queues/errors.js';
import { segmentAs3d, segmentAsJobType, type CellModelChoice } from './segment-variants.js';

const usage = `Usage: kiosk segment IMAGE... --out DIR [options]

Segments nuclei in each IMAGE (8/16-bit PNG or TIFF) in this process (no server) and writes
DIR/NAME.labels.tif (uint16/uint32 label TIFF; a stack gives NAME_K.labels.tif per plane), NAME being
the image's name less its extension and a .image before it (NAME.image.png or NAME.png → NAME.labels.tif,
as the training data pairs them), so \`kiosk eval\` pairs it with NAME.labels.png. The TIFF states the pixel size, --mpp or else the
image file's own (ImageJ unit=micron + resolution; OME-XML PhysicalSizeX/Y for an OME-TIFF input).

Options:
  --out DIR                 output folder (created if missing)              (required)
  --3d                      a ZYX stack (a multi-page TIFF, OME-TIFF Z) segmented plane by plane at one
                            scale and stitched across z: NAME.labels.tif is one ZYX label TIFF
  --job-type NAME           a job type (GET /v1/job-types; docs/job-types.md): its channels, stages
                            and outputs; output k > 0 is NAME.<output>.labels.tif (default: segmentation)
  --model NAME              model under models/NAME/           (default: the job type's, else nuclear)
  --version N               model version                                   (default: the latest)
  --model-dir PATH          a model folder (model.json, card.json[, model.onnx]) instead of --model
  --models-dir DIR          the folder --model and --cell-model name models in (default: the repository's
                            models/; \`kiosk models import --models-dir DIR\` writes there)
  --cell-model NAME[@VER]   job type whole-cell: a bioimage.io import (kiosk models import) predicting the
                            cells' foreground (+ boundaries) replaces the classical second stage; it takes
                            the membrane channel (1-channel model) or nuclear,membrane (2-channel)
  --mpp X                   µm per pixel of the images; without it the nucleus size is estimated
                            from a first pass and the image rescaled when needed
  --channels I[,J...]       channel indices to use, one per channel of the job type in its order
                            (whole-cell: nuclear,membrane)  (default: 0 for a 1-channel model; whole-cell 0,1)
  --dimension-order ORDER   axis order of the data, e.g. XY, CXY, XYC       (default: from the file)
  --runtime auto|onnx|tfjs  inference runtime                               (default: auto)
  --threads N               onnxruntime threads                             (default: all cores)
  --tile-size N             model tile size in px              (default: per image, 256-512 px)
  --batch-size N            tiles per model call                            (default: 4)
  --tta 1|4|8               test-time augmentation: average the model over 4 flips or all 8
                            flips/rotations of each tile (4x/8x the model time; the shipped
                            nuclear model, trained with them, gains < 0.005 F1)  (default: 1, off)`;

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The NAME of an image's labels (README "Label files"): a.image.png → a, cells.tif → cells, b.ome.tiff → b. */
export function outputStem(file: string): string {
  return labelStem(basename(file));
}

/** models/<name>/<version>: the given version, else the highest integer-named folder. */
export async function findModelDir(
  name: string,
  version?: number,
  root = join(repoRoot, 'models'),
): Promise<string> {
  const base = join(root, name);
  let versions: number[];
  try {
    versions = (await readdir(base, { withFileTypes: true }))
      .filter((d) => d.isDirectory() && /^\d+$/.test(d.name))
      .map((d) => Number(d.name))
      .sort((a, b) => a - b);
  } catch {
    const known = existsSync(root) ? (await readdir(root)).join(', ') || 'none' : 'none';
    throw new UsageError(`no model '${name}' in ${root} (models there: ${known})`);
  }
  if (versions.length === 0) throw new UsageError(`model '${name}' has no versions in ${base}`);
  if (version === undefined) return join(base, String(versions[versions.length - 1]));
  if (!versions.includes(version))
    throw new UsageError(`model '${name}' has no version ${version} (versions: ${versions.join(', ')})`);
  return join(base, String(version));
}

/**
 * `--cell-model NAME[@VER]` from `root`, checked before any image: a model there, a bioimage.io import whose
 * outputs are a cell foreground (+ boundaries) on 1 or 2 channels. Usage errors name what is wrong.
 */
async function openCellModel(text: string, root: string, threads: number): Promise<CellModelChoice> {
  const models = modelsInFolder(root, threads);
  try {
    const ref = parseModelRef(text, '--cell-model');
    const { card } = await models.load(ref.name, ref.version);
    cellModelInfo(card, `${card.name}@${card.version}`);
    return { ref: `${ref.name}@${card.version}`, models };
  } catch (err) {
    await models.dispose();
    if (err instanceof ImageError || err instanceof BadInputError)
      throw new UsageError(`--cell-model: ${err.message.replace(/^'(cellModel|--cell-model)' /, '')}`);
    throw err;
  }
}

function positiveNumber(flag: string, text: string | undefined, integer: boolean): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new UsageError(`--${flag} must be a positive ${integer ? 'integer' : 'number'}; got '${text}'`);
  }
  return v;
}

function channelList(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const parts = text.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p)))
    throw new UsageError(`--channels must be comma-separated indices like 0 or 0,1; got '${text}'`);
  return parts.map(Number);
}

export const command: Command = {
  name: 'segment',
  summary: 'segment images in-process (nuclei, whole cells, 3-D stacks) and write NAME.labels.tif files',
  usage,
  async run(args) {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        allowPositionals: true,
        options: {
          out: { type: 'string' },
          'job-type': { type: 'string', default: 'segmentation' },
          '3d': { type: 'boolean', default: false },
          model: { type: 'string' },
          version: { type: 'string' },
          'model-dir': { type: 'string' },
          'models-dir': { type: 'string' },
          'cell-model': { type: 'string' },
          mpp: { type: 'string' },
          channels: { type: 'string' },
          'dimension-order': { type: 'string' },
          runtime: { type: 'string', default: 'auto' },
          threads: { type: 'string' },
          'tile-size': { type: 'string' },
          'batch-size': { type: 'string' },
          tta: { type: 'string' },
        },
      });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const { values: v, positionals: images } = parsed;
    if (images.length === 0) throw new UsageError('give at least one image');
    if (!v.out) throw new UsageError('--out DIR is required');
    const runtime = v.runtime as RuntimeChoice;
    if (!['auto', 'onnx', 'tfjs'].includes(runtime))
      throw new UsageError(`--runtime must be auto, onnx or tfjs; got '${v.runtime}'`);
    if (v['model-dir'] && (v.version !== undefined || args.includes('--model'))) {
      throw new UsageError('--model-dir replaces --model/--version; give one or the other');
    }
    const mpp = positiveNumber('mpp', v.mpp, false);
    const threads = positiveNumber('threads', v.threads, true) ?? availableParallelism();
    const tileSize = positiveNumber('tile-size', v['tile-size'], true);
    const batchSize = positiveNumber('batch-size', v['batch-size'], true);
    if (v.tta !== undefined && !['1', '4', '8'].includes(v.tta))
      throw new UsageError(`--tta must be 1, 4 or 8; got '${v.tta}'`);
    const tta = v.tta === undefined ? undefined : (Number(v.tta) as 1 | 4 | 8);
    const channels = channelList(v.channels);
    const registry = await jobTypeRegistry();
    const jobType = registry.find(v['job-type']);
    if (!jobType)
      throw new UsageError(`unknown job type '${v['job-type']}'; available: ${registry.names().join(', ')}`);
    if (v['3d'] && jobType.name !== 'segmentation')
      throw new UsageError(
        `--3d is a variant of job type segmentation (docs/job-types.md), not of ${jobType.name}`,
      );
    const want = jobType.input.channels;
    if (!jobType.input.channelsFromModel && channels && channels.length !== want.length)
      throw new UsageError(
        `job type ${jobType.name} takes ${want.length} channel(s), in this order: ${want.map((c) => c.name).join(', ')}; ` +
          `--channels must give the file's channel index for each; got '${v.channels}'`,
      );
    if (v['cell-model'] !== undefined && jobType.name !== 'whole-cell')
      throw new UsageError(
        `--cell-model (a model for the cells' foreground) is for job type whole-cell; ${jobType.name} has no second stage`,
      );
    const modelsRoot = v['models-dir'] ?? join(repoRoot, 'models');
    const modelDir =
      v['model-dir'] ??
      (await findModelDir(
        v.model ?? jobType.defaultModel ?? 'nuclear',
        positiveNumber('version', v.version, true),
        modelsRoot,
      ));
    const cell =
      v['cell-model'] === undefined ? undefined : await openCellModel(v['cell-model'], modelsRoot, threads);

    const card = await readModelCard(modelDir);
    const runner = await loadRunner(modelDir, { runtime, threads });
    const opts: SegmentOptions = {
      ...(mpp !== undefined && { mpp }),
      ...(channels && { channels }),
      ...(v['dimension-order'] !== undefined && { dimensionOrder: v['dimension-order'] }),
      ...(tileSize !== undefined && { tileSize }),
      ...(batchSize !== undefined && { batchSize }),
      ...(tta !== undefined && { tta }),
    };
    process.stdout.write(`model ${card.name}/${card.version} (${modelDir}) on ${runner.runtime}\n`);
    await mkdir(v.out, { recursive: true });
    const written = new Map<string, string>();
    let failed = 0;
    try {
      for (const file of images) {
        const stem = outputStem(file);
        const started = performance.now();
        try {
          const earlier = written.get(stem);
          if (earlier)
            throw new Error(
              `its output ${labelFileName(basename(file))} would overwrite the one of ${earlier}; rename one of them`,
            );
          written.set(stem, file);
          const bytes = await readFile(file);
          const took = () => `in ${((performance.now() - started) / 1000).toFixed(2)} s`;
          if (jobType.name !== 'segmentation') {
            // Another type: its stages, as the service runs them (segmentation keeps the pipeline's own
            // entry below, for stacks, --tta and the tile options).
            const line = await segmentAsJobType(
              registry,
              jobType,
              file,
              bytes,
              runner,
              card,
              opts,
              v.out,
              cell,
            );
            process.stdout.write(`${file}: ${line} ${took()}\n`);
            continue;
          }
          const raw = decodeImage(bytes, { name: basename(file) });
          const tiffOpts = labelTiffOptions(labelSource(raw, bytes), mpp); // the pixel size (issue 23 #3)
          if (v['3d']) {
            process.stdout.write(
              `${file}: ${await segmentAs3d(file, raw, runner, card, opts, v.out)} ${took()}\n`,
            );
            continue;
          }
          const results = await segmentImageDetailed(raw, runner, card, opts);
          const parts: string[] = [];
          for (const [k, r] of results.entries()) {
            const out = join(v.out, labelFileName(basename(file), results.length === 1 ? undefined : k));
            await writeLabelsTiff(out, r.labels, tiffOpts);
            const objects = new Set(r.labels.data).size - (r.labels.data.includes(0) ? 1 : 0);
            parts.push(
              `${objects} objects (scale ${r.scale.toFixed(2)}, ${r.passes} pass${r.passes > 1 ? 'es' : ''})`,
            );
          }
          process.stdout.write(`${file}: ${parts.join('; ')} ${took()}\n`);
        } catch (err) {
          failed++;
          const code = (err as { code?: unknown }).code;
          process.stderr.write(
            `${file}: failed: ${err instanceof Error ? err.message : String(err)}${typeof code === 'string' ? ` [${code}]` : ''}\n`,
          );
        }
      }
    } finally {
      await runner.dispose();
      await cell?.models.dispose();
    }
    if (failed) process.stderr.write(`${failed} of ${images.length} image(s) failed\n`);
    return failed ? 1 : 0;
  },
};

/**
 * `kiosk segment --job-type whole-cell --cell-model NAME[@VER]`: a whole-cell model imported from a
 * bioimage.io package built from scratch (workers/jobtypes/whole-cell/cell-model-package.test-helpers.ts)
 * replaces the classical second stage over the shipped nuclear model; the files written equal the
 * in-process run of the job type's stages; each wrong --cell-model is a usage error naming it.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPackage, writeImportedModel } from '../../workers/bioimageio/import.js';
import { decodeImage } from '../../workers/image/decode.js';
import { scoreImage } from '../../workers/image/metrics.js';
import { syntheticCells } from '../../workers/image/synthetic-cells.js';
import { encodeTiff } from '../../workers/image/tiff-write.js';
import type { Labels } from '../../workers/image/types.js';
import { jobTypeRegistry } from '../../workers/jobtypes/registry.js';
import { modelsInFolder, runJobType } from '../../workers/jobtypes/run.js';
import { cellForegroundPackage } from '../../workers/jobtypes/whole-cell/cell-model-package.test-helpers.js';
import { readModelCard } from '../../workers/model/model-io.js';
import { loadRunner } from '../../workers/model/runners.js';
import { DEFAULT_MAX_PIXELS } from '../../workers/image/decode.js';
import { pipelineStages } from '../../workers/processors/pipeline-stages.js';
import type { CardLike } from '../../workers/processors/stages.js';
import { runCaptured } from './run-captured.test-helpers.js';
import { command, findModelDir } from './segment.js';

let dir: string;
let nuclear: string;
const truth = syntheticCells(160, 160, { count: 30, minR: 12, maxR: 16, seed: 3 });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'segment-cell-model-'));
  await writeImportedModel(
    join(dir, 'models'),
    await checkPackage(cellForegroundPackage(), { name: 'cells-fg' }),
  );
  nuclear = await findModelDir('nuclear');
  const { height: h, width: w } = truth.cells;
  const data = new Float32Array(h * w * 2);
  for (let i = 0; i < h * w; i++) {
    data[2 * i] = truth.nuclear.data[i]!;
    data[2 * i + 1] = truth.membrane.data[i]!;
  }
  await writeFile(
    join(dir, 'tissue.tif'),
    encodeTiff({ data, dtype: 'float32', shape: [h, w, 2], axes: 'YXS' }),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const labelsOf = async (path: string): Promise<Labels> => {
  const raw = decodeImage(await readFile(path), { name: path });
  return { data: Uint32Array.from(raw.data), height: raw.shape[0]!, width: raw.shape[1]! };
};

describe('kiosk segment --job-type whole-cell --cell-model', () => {
  const base = () => [
    join(dir, 'tissue.tif'),
    '--job-type',
    'whole-cell',
    '--model-dir',
    nuclear,
    '--models-dir',
    join(dir, 'models'),
    '--runtime',
    'onnx',
    '--threads',
    '1',
  ];

  it("writes the cells the imported model bounds, the same as the job type's stages in-process", async () => {
    const out = join(dir, 'out');
    const r = await runCaptured(command, [...base(), '--out', out, '--cell-model', 'cells-fg']);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/tissue\.tif: cells: \d+ objects, nuclei: \d+ objects/);
    const cells = await labelsOf(join(out, 'tissue.labels.tif'));
    const nuclei = await labelsOf(join(out, 'tissue.nuclei.labels.tif'));
    for (let i = 0; i < nuclei.data.length; i++)
      if (nuclei.data[i]) expect(cells.data[i]).toBe(nuclei.data[i]);
    const registry = await jobTypeRegistry();
    const models = modelsInFolder(join(dir, 'models'));
    const runner = await loadRunner(nuclear, { runtime: 'onnx', threads: 1 });
    try {
      const local = await runJobType(
        registry,
        registry.get('whole-cell'),
        pipelineStages,
        await readFile(join(dir, 'tissue.tif')),
        'tissue.tif',
        runner,
        (await readModelCard(nuclear)) as unknown as CardLike,
        { cellModel: 'cells-fg@1', maxPixels: DEFAULT_MAX_PIXELS },
        models,
      );
      expect(cells.data).toEqual(local.outputs[0]!.data);
      expect(nuclei.data).toEqual(local.outputs[1]!.data);
    } finally {
      await runner.dispose();
      await models.dispose();
    }
    const f1 = scoreImage(cells, truth.cells).f1_50;
    process.stderr.write(`kiosk segment whole-cell --cell-model cells-fg: cells F1@0.5 ${f1.toFixed(3)}\n`);
    expect(f1).toBeGreaterThan(0.9);
  });

  it('a wrong --cell-model is a usage error naming it', async () => {
    const out = ['--out', join(dir, 'bad')];
    await expect(runCaptured(command, [...base(), ...out, '--cell-model', 'nope'])).rejects.toThrow(
      /--cell-model: unknown model "nope" in .*; available: cells-fg/,
    );
    await expect(runCaptured(command, [...base(), ...out, '--cell-model', 'cells-fg@4'])).rejects.toThrow(
      /--cell-model: model cells-fg has no version "4" in .*; available: 1/,
    );
    await expect(runCaptured(command, [...base(), ...out, '--cell-model', 'cells fg'])).rejects.toThrow(
      /--cell-model: must be a model name or name@version/,
    );
    // the shipped nuclear model is not a bioimage.io import
    const shipped = [...base().slice(0, 5), '--runtime', 'onnx', ...out, '--cell-model', 'nuclear'];
    await expect(runCaptured(command, shipped)).rejects.toThrow(
      /--cell-model: nuclear@\d+ is not a bioimage\.io import/,
    );
    const seg = [join(dir, 'tissue.tif'), '--model-dir', nuclear, ...out, '--cell-model', 'cells-fg'];
    await expect(runCaptured(command, seg)).rejects.toThrow(
      /--cell-model .* is for job type whole-cell; segmentation/,
    );
  });
});

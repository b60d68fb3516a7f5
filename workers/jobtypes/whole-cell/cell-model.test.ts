/**
 * whole-cell with `cellModel` in-process (workers/jobtypes/run.ts, the chain the service runs): a
 * third-party bioimage.io package built from scratch (cell-model-package.test-helpers.ts) is imported with
 * the real import (checkPackage: its test run) into a models folder, then runs as the second stage over the
 * trivial nuclear stage. Cells are scored against the known cells, each nucleus must lie in its own cell with
 * the same id, and a model whose foreground reaches 3 px beyond the cells shows that the model's foreground,
 * not the classical Otsu estimate, bounds the cells.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPackage, writeImportedModel } from '../../bioimageio/import.js';
import { decodeImage } from '../../image/decode.js';
import { scoreImage } from '../../image/metrics.js';
import { syntheticCells, syntheticCellsPng, type SyntheticCells } from '../../image/synthetic-cells.js';
import type { Labels } from '../../image/types.js';
import { TRIVIAL_CARD, TrivialThresholdRunner, trivialStages } from '../../processors/trivial-stages.js';
import { jobTypeRegistry } from '../registry.js';
import { modelsInFolder, runJobType, type FolderModels } from '../run.js';
import { percentileNormalize } from '../../image/normalize.js';
import { cellsFromForeground } from '../../image/propagate.js';
import {
  cellBoundaryPackage,
  cellForegroundPackage,
  expectedCellBoundary,
  expectedCellForeground,
} from './cell-model-package.test-helpers.js';

/** Each nucleus pixel's id is its cell's, and the two hold the same ids. */
function expectMatched(cells: Labels, nuclei: Labels): void {
  let outside = 0;
  for (let i = 0; i < nuclei.data.length; i++)
    if (nuclei.data[i] !== 0 && cells.data[i] !== nuclei.data[i]) outside++;
  expect(outside).toBe(0);
  expect(new Set(cells.data)).toEqual(new Set(nuclei.data));
}

const count = (l: Labels) => l.data.reduce((n, v) => n + (v !== 0 ? 1 : 0), 0);

describe('whole-cell with an imported cell model (in-process)', () => {
  let dir: string;
  let models: FolderModels;
  let truth: SyntheticCells;
  let png: Uint8Array;
  let sparse: SyntheticCells;
  let sparsePng: Uint8Array;
  const runner = new TrivialThresholdRunner();
  const run = async (cellModel?: string, image = png) => {
    const registry = await jobTypeRegistry();
    const r = await runJobType(
      registry,
      registry.get('whole-cell'),
      trivialStages,
      image,
      'tissue.png',
      runner,
      TRIVIAL_CARD,
      { channels: [0, 1], maxPixels: 2 ** 24, ...(cellModel ? { cellModel } : {}) },
      models,
    );
    return r.outputs as [Labels, Labels];
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'whole-cell-model-'));
    await writeImportedModel(dir, await checkPackage(cellForegroundPackage(0), { name: 'cells-fg' }));
    await writeImportedModel(dir, await checkPackage(cellForegroundPackage(3), { name: 'cells-wide' }));
    await writeImportedModel(dir, await checkPackage(cellBoundaryPackage(), { name: 'cells-two' }));
    models = modelsInFolder(dir);
    // cells pressed into each other (the membrane between them decides), and a sparse scene with
    // background around every cell (where the foreground decides)
    truth = syntheticCells(192, 192, { count: 40, minR: 12, maxR: 16, seed: 5 });
    png = syntheticCellsPng(truth);
    sparse = syntheticCells(192, 192, { count: 30, minR: 12, maxR: 16, seed: 5, spacing: 1.1 });
    sparsePng = syntheticCellsPng(sparse);
  });
  afterAll(async () => {
    await models?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('cells from the model: F1@0.5 against the known cells, each nucleus in its own cell with its id', async () => {
    const [cells, nuclei] = await run('cells-fg');
    expectMatched(cells, nuclei);
    const n = new Set(truth.cells.data).size - 1;
    const fc = scoreImage(cells, truth.cells);
    const fn = scoreImage(nuclei, truth.nuclei);
    process.stderr.write(
      `whole-cell + cells-fg, ${n} cells: cells F1@0.5 ${fc.f1_50.toFixed(3)} DSB ${fc.dsb.toFixed(3)}; nuclei F1@0.5 ${fn.f1_50.toFixed(3)}\n`,
    );
    expect(fn.f1_50).toBe(1);
    expect(fc.f1_50).toBeGreaterThan(0.95);
  });

  it("the model's foreground bounds the cells: a model reaching 3 px further gives cells 3 px wider than Otsu's", async () => {
    const [classical] = await run(undefined, sparsePng);
    const [wide, nuclei] = await run('cells-wide', sparsePng);
    expectMatched(wide, nuclei);
    const raw = decodeImage(sparsePng, { name: 'tissue.png' });
    const { height: h, width: w } = sparse.cells;
    const membrane = new Float32Array(h * w);
    for (let i = 0; i < h * w; i++) membrane[i] = raw.data[i * 3 + 1]!;
    const fg = expectedCellForeground(membrane, h, w, 3);
    let outsideModel = 0;
    let beyondClassical = 0;
    for (let i = 0; i < h * w; i++) {
      if (wide.data[i] !== 0 && !(fg[i]! > 0.5) && nuclei.data[i] === 0) outsideModel++;
      if (wide.data[i] !== 0 && classical.data[i] === 0) beyondClassical++;
    }
    let modelFg = 0;
    for (let i = 0; i < h * w; i++) if (fg[i]! > 0.5) modelFg++;
    process.stderr.write(
      `cells: classical ${count(classical)} px, cells-wide ${count(wide)} px (model foreground ${modelFg} px); ${beyondClassical} px beyond the classical cells\n`,
    );
    expect(outsideModel).toBe(0); // no cell pixel where the model says background
    expect(count(wide)).toBe(modelFg); // every foreground pixel reached (each blob holds a nucleus)
    expect(beyondClassical).toBeGreaterThan(0.2 * count(classical));
  });

  it('a two-channel model sees [nuclear, membrane] and its boundary map is what the cells grow on', async () => {
    const [cells, nuclei] = await run('cells-two');
    expectMatched(cells, nuclei);
    const fc = scoreImage(cells, truth.cells).f1_50;
    process.stderr.write(
      `whole-cell + cells-two (foreground + boundaries, 2 channels): cells F1@0.5 ${fc.toFixed(3)}\n`,
    );
    // its foreground comes from the membrane channel only: with the channels swapped it would be the nuclei
    expect(fc).toBeGreaterThan(0.95);
    const raw = decodeImage(png, { name: 'tissue.png' });
    const { height: h, width: w } = truth.cells;
    const pair = new Float32Array(h * w * 2);
    for (let i = 0; i < h * w; i++) [pair[2 * i], pair[2 * i + 1]] = [raw.data[3 * i]!, raw.data[3 * i + 1]!];
    const want = expectedCellBoundary(pair, h, w);
    const plane = (data: Float32Array) => ({ data, height: h, width: w });
    const expected = cellsFromForeground(nuclei, plane(want.foreground), plane(want.boundaries));
    expect(cells.data).toEqual(expected.data);
    // grown on the membrane channel instead, some border pixels would go to the other cell
    const membrane = percentileNormalize({
      data: Float32Array.from({ length: h * w }, (_, i) => pair[2 * i + 1]!),
      height: h,
      width: w,
      channels: 1,
    });
    const onMembrane = cellsFromForeground(nuclei, plane(want.foreground), plane(membrane.data));
    expect(onMembrane.data.some((v, i) => v !== cells.data[i])).toBe(true);
  });

  it('an unknown cell model fails naming the models there are', async () => {
    await expect(run('no-such-model')).rejects.toThrow(
      /unknown model "no-such-model".*cells-fg, cells-two, cells-wide/,
    );
  });
});

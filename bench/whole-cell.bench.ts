/**
 * The whole-cell job type (issue 21 #3) with the shipped nuclear model, in-process through the type's own
 * stages (workers/jobtypes/run.ts, the chain the service runs): two-channel images with known cells and
 * nuclei, both label images scored (F1@0.5, DSB) and checked to hold the same ids.
 * - synthetic: disk cells pressed together, a nucleus at each centre, membrane bright on cell borders
 *   (workers/image/synthetic-cells.ts);
 * - val nuclei + drawn membrane: real nuclear images and their labels; the cells are each nucleus grown by up
 *   to 6 px (multi-source breadth-first, 8-connected: nearest nucleus wins), the membrane channel drawn on
 *   those cells' borders (1.0), 0.3 inside, with noise.
 * Each set runs twice: with the classical second stage, and with `cellModel` — a whole-cell foreground model
 * imported from a bioimage.io package built from scratch (sigmoid of the scaled membrane/cytoplasm channel,
 * workers/jobtypes/whole-cell/cell-model-package.test-helpers.ts), imported with the real import into a
 * temp models folder.
 * Prints one line per set, and the CPU time per image. Env: NUCLEAR_MODEL_DIR (default models/nuclear/<latest>).
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkPackage, writeImportedModel } from '../workers/bioimageio/import.js';
import { readImageFile, readLabelsFile } from '../workers/image/files.js';
import { poolScores, scoreImage, type Scores } from '../workers/image/metrics.js';
import { encodeTiff } from '../workers/image/tiff-write.js';
import { syntheticCells } from '../workers/image/synthetic-cells.js';
import { seededRandom } from '../workers/image/synthetic-nuclei.js';
import type { Labels } from '../workers/image/types.js';
import { jobTypeRegistry } from '../workers/jobtypes/registry.js';
import { modelsInFolder, runJobType } from '../workers/jobtypes/run.js';
import { cellForegroundPackage } from '../workers/jobtypes/whole-cell/cell-model-package.test-helpers.js';
import { readModelCard } from '../workers/model/model-io.js';
import { loadRunner } from '../workers/model/runners.js';
import { pipelineStages } from '../workers/processors/pipeline-stages.js';
import type { CardLike } from '../workers/processors/stages.js';
import { NUCLEI_VAL } from '../test/data.js';

const versions = existsSync('models/nuclear')
  ? readdirSync('models/nuclear').filter((v) => /^\d+$/.test(v))
  : [];
const latest = versions.sort((a, b) => Number(a) - Number(b)).pop();
const modelDir = process.env.NUCLEAR_MODEL_DIR ?? (latest && join('models/nuclear', latest));
if (!modelDir) throw new Error('no model: set NUCLEAR_MODEL_DIR or commit models/nuclear/<v>');
const card = (await readModelCard(modelDir)) as unknown as CardLike;
const runner = await loadRunner(modelDir, { runtime: 'onnx', threads: 2 });
const registry = await jobTypeRegistry();
const wholeCell = registry.get('whole-cell');
console.log(`model ${modelDir}; onnxruntime-node, 2 threads, this machine; whole-cell in-process`);
const cellModelsDir = await mkdtemp(join(tmpdir(), 'whole-cell-bench-'));
await writeImportedModel(cellModelsDir, await checkPackage(cellForegroundPackage(), { name: 'cells-fg' }));
const cellModels = modelsInFolder(cellModelsDir, 2);

/** A [H, W, 2] float32 TIFF: channel 0 nuclear, 1 membrane. */
function twoChannelTiff(nuclear: Float32Array, membrane: Float32Array, h: number, w: number): Uint8Array {
  const data = new Float32Array(h * w * 2);
  for (let i = 0; i < h * w; i++) {
    data[2 * i] = nuclear[i]!;
    data[2 * i + 1] = membrane[i]!;
  }
  return encodeTiff({ data, dtype: 'float32', shape: [h, w, 2], axes: 'YXS' });
}

/** Membrane channel of `cells`: 1 on border pixels (a 4-neighbour of another id), 0.3 inside, noise. */
function drawMembrane(cells: Labels, seed: number): Float32Array {
  const { data: c, height: h, width: w } = cells;
  const rand = seededRandom(seed);
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const id = c[i]!;
      const edge =
        id !== 0 &&
        ((y > 0 && c[i - w] !== id) ||
          (y < h - 1 && c[i + w] !== id) ||
          (x > 0 && c[i - 1] !== id) ||
          (x < w - 1 && c[i + 1] !== id));
      out[i] = (id === 0 ? 0 : edge ? 1 : 0.3) + 0.1 * rand();
    }
  return out;
}

/** Each nucleus grown by up to `steps` 8-connected steps; a pixel goes to the nucleus that reaches it first. */
function growNuclei(nuclei: Labels, steps: number): Labels {
  const { height: h, width: w } = nuclei;
  const out = Uint32Array.from(nuclei.data);
  let front: number[] = [];
  for (let i = 0; i < out.length; i++) if (out[i] !== 0) front.push(i);
  for (let s = 0; s < steps; s++) {
    const next: number[] = [];
    for (const p of front) {
      const y = (p / w) | 0;
      const x = p % w;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const ny = y + dy;
          const nx = x + dx;
          if (ny < 0 || ny >= h || nx < 0 || nx >= w) continue;
          const q = ny * w + nx;
          if (out[q] === 0) {
            out[q] = out[p]!;
            next.push(q);
          }
        }
    }
    front = next;
  }
  return { data: out, height: h, width: w };
}

interface Case {
  readonly bytes: Uint8Array;
  readonly cells: Labels;
  readonly nuclei: Labels;
}

async function score(name: string, cases: readonly Case[], cellModel?: string): Promise<void> {
  const cellScores: Scores[] = [];
  const nucleusScores: Scores[] = [];
  let mismatched = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const [k, c] of cases.entries()) {
    const r = await runJobType(
      registry,
      wholeCell,
      pipelineStages,
      c.bytes,
      `img${k}.tif`,
      runner,
      card,
      { channels: [0, 1], maxPixels: 2 ** 28, ...(cellModel ? { cellModel } : {}) },
      cellModels,
    );
    const [cells, nuclei] = r.outputs as [Labels, Labels];
    for (let i = 0; i < nuclei.data.length; i++)
      if (nuclei.data[i] !== 0 && cells.data[i] !== nuclei.data[i]) mismatched++;
    cellScores.push(scoreImage(cells, c.cells));
    nucleusScores.push(scoreImage(nuclei, c.nuclei));
  }
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  const pc = poolScores(cellScores);
  const pn = poolScores(nucleusScores);
  console.log(
    `${name}: ${cases.length} images, ${pc.nTruth} cells — cells F1@0.5 ${pc.f1_50.toFixed(3)} DSB ${pc.dsb.toFixed(3)}; ` +
      `nuclei F1@0.5 ${pn.f1_50.toFixed(3)} DSB ${pn.dsb.toFixed(3)}; nucleus pixels outside their own cell: ${mismatched}; ` +
      `CPU ${((cpu.user + cpu.system) / 1e3 / cases.length).toFixed(0)} ms/image (wall ${(wall / cases.length).toFixed(0)} ms, loaded machine)`,
  );
}

const synthetic: Case[] = [1, 2, 3, 4].map((seed) => {
  const s = syntheticCells(256, 256, { count: 60, minR: 14, maxR: 20, seed, noise: 0.1 });
  return {
    bytes: twoChannelTiff(s.nuclear.data, s.membrane.data, 256, 256),
    cells: s.cells,
    nuclei: s.nuclei,
  };
});
// warm-up (JIT, onnxruntime sessions) of both paths, so the first row's CPU time is not the warm-up's
for (const cm of [undefined, 'cells-fg'])
  await runJobType(
    registry,
    wholeCell,
    pipelineStages,
    synthetic[0]!.bytes,
    'warm-up.tif',
    runner,
    card,
    { channels: [0, 1], maxPixels: 2 ** 28, ...(cm ? { cellModel: cm } : {}) },
    cellModels,
  );
await score('synthetic disk cells 256x256', synthetic);
await score('synthetic disk cells 256x256, cellModel cells-fg (imported)', synthetic, 'cells-fg');

const files = readdirSync(NUCLEI_VAL)
  .filter((f) => f.endsWith('.image.png'))
  .sort()
  .filter((_, i) => i % 9 === 0);
const val: Case[] = [];
for (const [k, f] of files.entries()) {
  const img = await readImageFile(join(NUCLEI_VAL, f));
  const nuclei = await readLabelsFile(join(NUCLEI_VAL, f.replace('.image.png', '.labels.png')));
  const { height: h, width: w } = nuclei;
  const ch = img.data.length / (h * w);
  const nuclear = new Float32Array(h * w);
  for (let i = 0; i < h * w; i++) nuclear[i] = img.data[i * ch]!;
  const cells = growNuclei(nuclei, 6);
  val.push({ bytes: twoChannelTiff(nuclear, drawMembrane(cells, k + 1), h, w), cells, nuclei });
}
await score('val nuclei + drawn membrane', val);
await score('val nuclei + drawn membrane, cellModel cells-fg (imported)', val, 'cells-fg');
await runner.dispose();
await cellModels.dispose();
await rm(cellModelsDir, { recursive: true, force: true });

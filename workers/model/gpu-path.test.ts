/**
 * The GPU training path (scripts/gpu/, docs/training-gpu.md) against the product's own code: the PyTorch
 * trainer must train the same thing and write a model folder the product serves unchanged.
 *
 * - parity (numpy only): Python's canonical-scale loading, cropAndScale, dihedral and targets on real val
 *   images equal workers/model's (targets within 1e-5, labels exactly), with the pure PNG reader and the numpy
 *   EDT as well as with PIL + scipy when installed;
 * - conversion (torch): models/nuclear/1's tfjs weights loaded into the PyTorch network give the shipped
 *   model.onnx's outputs on a real val tile, and the ONNX the Python writer makes from them does too;
 * - a tiny CPU training run (torch) writes a folder that readModelCard accepts, that loadRunner serves through
 *   onnxruntime-node with the shipped model's input/output contract, whose model.json + weights.bin (tfjs)
 *   agree with its model.onnx, and that segments a val image through the real pipeline.
 *
 * Needs /usr/bin/python3 with numpy for the parity tests (Debian python3-numpy, which scripts/setup-tests.sh's
 * python3-skimage brings). The PyTorch tests are opt-in: KIOSK_GPU_PATH_TESTS=1 and Debian python3-torch
 * (not in setup-tests.sh: ~2 min to install, and these tests took ~40 s on the shared 2-core machine). Whatever
 * is skipped says so loudly, with the reason.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readImageFile } from '../image/files.js';
import type { Labels } from '../image/types.js';
import { segmentImage } from '../pipeline/segment.js';
import { cropAndScale, dihedral } from './augment.js';
import { readTrainingState } from './checkpoint.js';
import { loadNucleiFolder } from './dataset.js';
import { readModelCard } from './model-io.js';
import { loadRunner } from './runners.js';
import { initTfjs } from './runtime.js';
import { computeTargets } from './targets.js';
import { NUCLEI_VAL } from '../../test/data.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = 'scripts/gpu/train_nuclear.py';
const SHIPPED = 'models/nuclear/1';

function pythonHas(module: string): boolean {
  return spawnSync(PYTHON, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;
}
const hasNumpy = pythonHas('numpy');
const optedIn = process.env.KIOSK_GPU_PATH_TESTS === '1';
const hasTorch = hasNumpy && optedIn && pythonHas('torch');
const hasScipy = hasNumpy && pythonHas('scipy');
if (!hasNumpy) {
  console.warn(
    `\n*** gpu-path.test.ts: ${PYTHON} lacks numpy: the GPU trainer's parity tests are SKIPPED. ***\n`,
  );
}
if (!hasTorch) {
  console.warn(
    `\n*** gpu-path.test.ts: the GPU trainer's PyTorch tests (tfjs->torch conversion, tiny training run) are ` +
      `SKIPPED: ${optedIn ? `${PYTHON} lacks torch (apt-get install python3-torch)` : 'opt in with KIOSK_GPU_PATH_TESTS=1 (needs Debian python3-torch)'}. ***\n`,
  );
}

function runPython(args: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(PYTHON, [SCRIPT, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env, PYTHONUNBUFFERED: '1', OMP_NUM_THREADS: '1' },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0)
    throw new Error(`python ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function countDiffering(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

interface Blob {
  offset: number;
  length: number;
  dtype: '<f4' | '<u4' | '<u1';
}
interface ParitySample {
  name: string;
  height: number;
  width: number;
  scale: number;
  medianDiameter: number;
  image: Blob;
  labels: Blob;
  crop: { centerY: number; centerX: number; scale: number; size: number };
  cropImage: Blob;
  cropLabels: Blob;
  op: number;
  dihedralImage: Blob;
  dihedralLabels: Blob;
  inner: Blob;
  outer: Blob;
  fg: Blob;
  fullInner: Blob;
  fullOuter: Blob;
}

const tmp = mkdtempSync(join(tmpdir(), 'gpu-path-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.runIf(hasNumpy)('GPU trainer data parity with workers/model (numpy)', () => {
  const variants: { label: string; env: Record<string, string> }[] = [
    { label: 'pure PNG reader + numpy EDT', env: { NUCLEAR_PNG: 'pure', NUCLEAR_EDT: 'numpy' } },
    ...(hasScipy ? [{ label: 'PIL/scipy when installed', env: {} }] : []),
  ];
  for (const { label, env } of variants) {
    it(`canonical loading, cropAndScale, dihedral and targets match on 3 val images (${label})`, async () => {
      const out = join(tmp, `parity-${variants.findIndex((v) => v.label === label)}.json`);
      runPython(['parity', '--data', NUCLEI_VAL, '--out', out, '--limit', '3', '--diameter', '20'], env);
      const meta = JSON.parse(readFileSync(out, 'utf8')) as { samples: ParitySample[]; edt: string };
      const bin = readFileSync(`${out}.bin`);
      const view = (b: Blob): Float32Array | Uint32Array | Uint8Array => {
        const bytes = bin.buffer.slice(
          bin.byteOffset + b.offset,
          bin.byteOffset + b.offset + b.length * (b.dtype === '<u1' ? 1 : 4),
        );
        return b.dtype === '<f4'
          ? new Float32Array(bytes)
          : b.dtype === '<u4'
            ? new Uint32Array(bytes)
            : new Uint8Array(bytes);
      };
      const ts = await loadNucleiFolder(NUCLEI_VAL, { targetDiameterPx: 20, limit: 3 });
      expect(meta.samples.map((s) => s.name)).toEqual(ts.map((s) => s.name));
      const worst = { image: 0, crop: 0, dihedral: 0, inner: 0, outer: 0, fullInner: 0, fullOuter: 0 };
      for (const [k, py] of meta.samples.entries()) {
        const s = ts[k]!;
        expect(py.scale).toBeCloseTo(s.scale, 12);
        expect(py.medianDiameter).toBeCloseTo(s.medianDiameter, 12);
        expect([py.height, py.width]).toEqual([s.image.height, s.image.width]);
        worst.image = Math.max(worst.image, maxAbsDiff(view(py.image), s.image.data));
        expect(countDiffering(view(py.labels), s.labels.data)).toBe(0);
        // Fixed crop through the TS code, from the TS canonical image.
        const { centerY, centerX, scale, size } = py.crop;
        const crop = cropAndScale(s.image, s.labels, { centerY, centerX, scale, height: size, width: size });
        worst.crop = Math.max(worst.crop, maxAbsDiff(view(py.cropImage), crop.image.data));
        expect(countDiffering(view(py.cropLabels), crop.labels.data)).toBe(0);
        const d = dihedral(crop.image, crop.labels, py.op);
        worst.dihedral = Math.max(worst.dihedral, maxAbsDiff(view(py.dihedralImage), d.image.data));
        expect(countDiffering(view(py.dihedralLabels), d.labels.data)).toBe(0);
        expect(d.labels.data.some((v) => v !== 0)).toBe(true); // the crop holds nuclei: the targets test something
        const t = computeTargets(d.labels);
        worst.inner = Math.max(worst.inner, maxAbsDiff(view(py.inner), t.inner.data));
        worst.outer = Math.max(worst.outer, maxAbsDiff(view(py.outer), t.outer.data));
        expect(countDiffering(view(py.fg), t.fg)).toBe(0);
        const full = computeTargets(s.labels as Labels);
        worst.fullInner = Math.max(worst.fullInner, maxAbsDiff(view(py.fullInner), full.inner.data));
        worst.fullOuter = Math.max(worst.fullOuter, maxAbsDiff(view(py.fullOuter), full.outer.data));
      }
      console.log(`python (${label}, EDT ${meta.edt}) vs TS, max |diff|: ${JSON.stringify(worst)}`);
      for (const v of Object.values(worst)) expect(v).toBeLessThan(1e-5);
    }, 120_000);
  }
});

async function runOnnx(path: string, input: Float32Array, size: number) {
  const session = await ort.InferenceSession.create(path);
  const result = await session.run({ input: new ort.Tensor('float32', input, [1, size, size, 1]) });
  const meta = {
    inputs: session.inputMetadata.map((m) =>
      m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : m,
    ),
    outputs: session.outputMetadata.map((m) =>
      m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : m,
    ),
  };
  const out = Object.fromEntries(
    session.outputNames.map((n) => [
      n,
      { dims: result[n]!.dims, type: result[n]!.type, data: result[n]!.data as Float32Array },
    ]),
  );
  await session.release();
  return { meta, out };
}

describe.runIf(hasTorch)('GPU trainer (PyTorch) against the served model', () => {
  beforeAll(async () => {
    await initTfjs({ prefer: 'wasm' });
  });

  it('tfjs -> torch conversion of models/nuclear/1: torch and the re-written model.onnx give the shipped model.onnx outputs on a real val tile (< 1e-4)', async () => {
    const out = join(tmp, 'converted');
    const image = readdirSync(NUCLEI_VAL)
      .filter((f) => f.endsWith('.image.png'))
      .sort()[5]!;
    runPython([
      'convert',
      '--from',
      SHIPPED,
      '--out',
      out,
      '--check-image',
      join(NUCLEI_VAL, image),
      '--check-size',
      '128',
    ]);
    const input = readF32(join(out, 'check-input.f32'));
    const shipped = await runOnnx(join(SHIPPED, 'model.onnx'), input, 128);
    const rewritten = await runOnnx(join(out, 'model.onnx'), input, 128);
    expect(rewritten.meta).toEqual(shipped.meta);
    const diffs: Record<string, { torch: number; onnx: number; peak: number }> = {};
    for (const head of ['inner', 'outer', 'fgbg']) {
      const ref = shipped.out[head]!;
      const torchOut = readF32(join(out, `check-${head}.f32`));
      expect(rewritten.out[head]!.dims).toEqual(ref.dims);
      diffs[head] = {
        torch: maxAbsDiff(torchOut, ref.data),
        onnx: maxAbsDiff(rewritten.out[head]!.data, ref.data),
        peak: Math.max(...Array.from(ref.data, Math.abs)),
      };
    }
    console.log(`${image} (128 px tile) max |diff| vs shipped model.onnx: ${JSON.stringify(diffs)}`);
    for (const d of Object.values(diffs)) {
      expect(d.peak).toBeGreaterThan(0.1); // the tile has signal: a comparison of zeros proves nothing
      expect(d.torch).toBeLessThan(1e-4);
      expect(d.onnx).toBeLessThan(1e-4);
    }
    // The re-written tfjs files load with the product's loader and give the same outputs.
    const tfjs = await loadRunner(out, { runtime: 'tfjs', tfjsPrefer: 'wasm' });
    const maps = await tfjs.predict(input, 1, 128, 128, 1);
    await tfjs.dispose();
    expect(maxAbsDiff(maps.inner, shipped.out['inner']!.data)).toBeLessThan(1e-4);
  }, 180_000);

  it('a tiny CPU training run writes a model folder the product serves: card, ONNX contract, tfjs weights, segmentation', async () => {
    const out = join(tmp, 'tiny');
    const log = runPython([
      'train',
      '--data',
      join(NUCLEI_VAL, '..'),
      '--out',
      out,
      '--limit',
      '6',
      '--val-limit',
      '1',
      '--max-steps',
      '4',
      '--batch',
      '2',
      '--crop',
      '32',
      '--workers',
      '0',
      '--log-every',
      '2',
      '--threads',
      '1',
      '--diameter',
      '20',
      '--ema',
      '0.9',
      '--version',
      '9',
    ]);
    expect(log).toMatch(/stopped \(max-steps\) at step 4/);
    // The loss curve and throughput are logged.
    const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, number>);
    const steps = metrics.filter((m) => m.loss !== undefined);
    expect(steps.map((m) => m.step)).toEqual([2, 4]);
    for (const m of steps) {
      expect(Number.isFinite(m.loss) && m.loss! > 0).toBe(true);
      expect(m.samplesPerSecond).toBeGreaterThan(0);
    }
    expect(metrics.some((m) => m.val_fg_iou !== undefined)).toBe(true);

    const card = await readModelCard(out);
    expect(card.version).toBe(9);
    expect(card.input.targetDiameterPx).toBe(20);
    expect(card.input.mpp).toBe(0.45);
    expect(card.outputs).toEqual(['inner', 'outer', 'fgbg']);
    expect((card.training as Record<string, unknown>).steps).toBe(4);
    // state.json as checkpoint.ts reads it (scripts/export-nuclear.ts --checkpoint takes the folder).
    const state = await readTrainingState(out);
    expect(state.step).toBe(4);
    expect(state.history.at(-1)!.valLoss).toBeGreaterThan(0);
    expect((state.meta as Record<string, unknown>).targetDiameterPx).toBe(20);
    const shippedCard = await readModelCard(SHIPPED);
    expect(card.network).toEqual(shippedCard.network);
    expect(card.params).toBe(shippedCard.params);

    // Same input/output contract as the shipped model.onnx, on the same real input.
    const image = readdirSync(NUCLEI_VAL)
      .filter((f) => f.endsWith('.image.png'))
      .sort()[0]!;
    const raw = await readImageFile(join(NUCLEI_VAL, image));
    const size = 64;
    const input = new Float32Array(size * size).map(
      (_, i) => Number(raw.data[Math.floor(i / size) * raw.shape[1]! + (i % size)]) / 255,
    );
    const mine = await runOnnx(join(out, 'model.onnx'), input, size);
    const ref = await runOnnx(join(SHIPPED, 'model.onnx'), input, size);
    expect(mine.meta).toEqual(ref.meta);
    for (const head of ['inner', 'outer', 'fgbg']) {
      expect(mine.out[head]!.dims).toEqual(ref.out[head]!.dims);
      expect(mine.out[head]!.type).toBe('float32');
    }

    // The folder's model.json + weights.bin (tfjs) and model.onnx are the same network.
    const onnx = await loadRunner(out, { runtime: 'onnx', threads: 1 });
    const tfjs = await loadRunner(out, { runtime: 'tfjs', tfjsPrefer: 'wasm' });
    const a = await onnx.predict(input, 1, size, size, 1);
    const b = await tfjs.predict(input, 1, size, size, 1);
    await tfjs.dispose();
    const tfjsDiff = Math.max(
      maxAbsDiff(a.inner, b.inner),
      maxAbsDiff(a.outer, b.outer),
      maxAbsDiff(a.fg, b.fg),
    );
    console.log(`tiny run: onnx vs tfjs max |diff| ${tfjsDiff.toExponential(2)}`);
    expect(tfjsDiff).toBeLessThan(1e-4);

    // And it segments a val image through the product's pipeline (an untrained model: any labels of the right size).
    const [labels] = await segmentImage(raw, onnx, card, { autoscale: false });
    await onnx.dispose();
    expect([labels!.height, labels!.width]).toEqual([raw.shape[0], raw.shape[1]]);
  }, 240_000);
});

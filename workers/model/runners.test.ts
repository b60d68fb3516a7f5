import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportModelDir } from './export-model-dir.js';
import { ModelIoError, readModelCard, saveModel, writeModelCard } from './model-io.js';
import { buildNetwork, countParams } from './network.js';
import { exportToOnnx, OnnxExportError } from './onnx-export.js';
import { calibrationModel, CalibrationRunner, planQuantization, quantizeQdq } from './quantize.js';
import { INT8_GATE, INT8_ONNX, type Int8CardEntry } from './quantize-card.js';
import {
  identifyHeads,
  int8Decision,
  int8DecisionFile,
  int8FromEnv,
  int8Refusal,
  INT8_MIN_SPEEDUP,
  loadRunner,
  OnnxRunner,
  RunnerError,
  TfjsRunner,
  type Int8Choice,
} from './runners.js';
import { testCard } from '../pipeline/testing/precomputed-maps-runner.js';
import { initTfjs } from './runtime.js';
import { buildTinyUnet } from './testing/tiny-unet.js';

let dir: string;
beforeAll(async () => {
  await initTfjs({ prefer: 'wasm' });
  dir = await mkdtemp(join(tmpdir(), 'runners-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function pattern(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.abs(Math.sin(i * 0.13)));
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('OnnxRunner and TfjsRunner', () => {
  it('give the same three head maps [N, H, W] (fg = softmax channel 1) for a batch', async () => {
    const model = buildTinyUnet({ width: 4, depth: 2, seed: 4 });
    const onnx = await OnnxRunner.create(exportToOnnx(model), { threads: 2, name: 'tiny' });
    const tfjs = new TfjsRunner(model, 'wasm');
    expect(onnx.runtime).toBe('onnxruntime-node/cpu');
    const [n, h, w] = [3, 32, 16];
    const input = pattern(n * h * w);
    const a = await onnx.predict(input, n, h, w, 1);
    const b = await tfjs.predict(input, n, h, w, 1);
    for (const head of ['inner', 'outer', 'fg'] as const) {
      expect(a[head].length).toBe(n * h * w);
      // random BatchNorm statistics make outputs of order 10-100: compare relative to the largest value
      const scale = Math.max(1, ...b[head].map(Math.abs));
      expect(maxDiff(a[head], b[head])).toBeLessThan(5e-5 * scale);
    }
    // fg is a probability (softmax channel 1)
    expect(Math.min(...a.fg)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a.fg)).toBeLessThanOrEqual(1);
    await onnx.dispose();
    await tfjs.dispose();
  });

  it('a sigmoid fg head is passed through as it is', async () => {
    const model = buildNetwork({ baseFilters: 4, depth: 1, fgbg: 'sigmoid' });
    const runner = new TfjsRunner(model, 'wasm');
    const out = await runner.predict(pattern(64), 1, 8, 8, 1);
    expect(out.fg.length).toBe(64);
    await runner.dispose();
  });

  it('rejects a batch whose length or channels do not match, naming the shapes', async () => {
    const model = buildTinyUnet({ width: 4, depth: 1 });
    const onnx = await OnnxRunner.create(exportToOnnx(model));
    const tfjs = new TfjsRunner(model, 'wasm');
    for (const r of [onnx, tfjs]) {
      await expect(r.predict(new Float32Array(10), 1, 4, 4, 1)).rejects.toThrow(
        /batch has 10 values; \[N, H, W, C\] = \[1, 4, 4, 1\] needs 16/,
      );
      await expect(r.predict(new Float32Array(32), 1, 4, 4, 2)).rejects.toThrow(
        /batch has 2 channels; the model takes 1/,
      );
      await expect(r.predict(new Float32Array(0), 0, 4, 4, 1)).rejects.toThrow(RunnerError);
    }
    await onnx.dispose();
    await tfjs.dispose();
  });

  it('rejects bad options and broken models', async () => {
    await expect(OnnxRunner.create('/nonexistent/model.onnx')).rejects.toThrow(
      /no ONNX model at \/nonexistent\/model.onnx/,
    );
    await expect(OnnxRunner.create(new Uint8Array([1, 2, 3]))).rejects.toThrow(
      /onnxruntime could not load the model/,
    );
    await expect(OnnxRunner.create(new Uint8Array(0), { threads: 0 })).rejects.toThrow(
      /onnx threads must be a positive integer; got 0/,
    );
    await expect(OnnxRunner.create(new Uint8Array(0), { spin: 'yes' as unknown as boolean })).rejects.toThrow(
      /onnx spin must be true or false; got yes/,
    );
  });

  it('threads that spin when idle (the default) or sleep give the same maps', async () => {
    const bytes = exportToOnnx(buildTinyUnet({ width: 4, depth: 2, seed: 7 }));
    const input = pattern(2 * 32 * 32);
    const maps = [];
    for (const spin of [undefined, false, true]) {
      const r = await OnnxRunner.create(bytes, { threads: 2, ...(spin === undefined ? {} : { spin }) });
      maps.push(await r.predict(input, 2, 32, 32, 1));
      await r.dispose();
    }
    for (const m of maps.slice(1))
      for (const head of ['inner', 'outer', 'fg'] as const) expect(m[head]).toEqual(maps[0]![head]);
  });
});

describe('identifyHeads', () => {
  it('finds heads by name in any order, else by position', () => {
    expect(identifyHeads(['fgbg', 'inner', 'outer'], [2, 1, 1])).toEqual({
      inner: { index: 1, channels: 1 },
      outer: { index: 2, channels: 1 },
      fg: { index: 0, channels: 2 },
    });
    expect(identifyHeads(['a', 'b', 'c'], [1, 1, 1]).fg).toEqual({ index: 2, channels: 1 });
  });
  it('refuses the wrong number of outputs or channels', () => {
    expect(() => identifyHeads(['a', 'b'], [1, 1])).toThrow(/model has 2 outputs \(a, b\); expected 3 heads/);
    expect(() => identifyHeads(['inner', 'outer', 'fgbg'], [1, 3, 2])).toThrow(
      /head 'outer' \(output 'outer'\) has 3 channels; expected 1/,
    );
    expect(() => identifyHeads(['inner', 'outer', 'fgbg'], [1, 1, 3])).toThrow(
      /head 'fg' \(output 'fgbg'\) has 3 channels; expected 1 or 2/,
    );
  });
});

describe('loadRunner and the export step', () => {
  it('auto picks onnx when model.onnx exists, tfjs (wasm) when asked or when it does not', async () => {
    const modelDir = join(dir, 'nuclear', '1');
    const model = buildNetwork({ baseFilters: 4, depth: 2 });
    await saveModel(model, modelDir);
    const plain = await loadRunner(modelDir, { runtime: 'auto', tfjsPrefer: 'wasm' });
    expect(plain.runtime).toBe('@tensorflow/tfjs-backend-wasm');
    expect(plain.name).toBe('nuclear/1');
    const report = await exportModelDir(modelDir);
    expect(report.path).toBe(join(modelDir, 'model.onnx'));
    for (const d of Object.values(report.maxAbsDiff)) expect(d).toBeLessThan(1e-5);
    const auto = await loadRunner(modelDir, { tfjsPrefer: 'wasm' });
    expect(auto.runtime).toBe('onnxruntime-node/cpu');
    const tfjs = await loadRunner(modelDir, { runtime: 'tfjs', tfjsPrefer: 'wasm' });
    const x = pattern(16 * 16);
    const a = await auto.predict(x, 1, 16, 16, 1);
    const b = await tfjs.predict(x, 1, 16, 16, 1);
    expect(maxDiff(a.outer, b.outer)).toBeLessThan(1e-5);
    expect(maxDiff((await plain.predict(x, 1, 16, 16, 1)).inner, a.inner)).toBeLessThan(1e-5);
    await Promise.all([plain, auto, tfjs].map((r) => r.dispose()));
    model.dispose();
  });

  it('says what is missing or wrong', async () => {
    const empty = join(dir, 'empty');
    await expect(loadRunner(empty, { runtime: 'onnx' })).rejects.toThrow(
      /no ONNX model at .*empty\/model.onnx/,
    );
    await expect(loadRunner(empty, { runtime: 'tfjs', tfjsPrefer: 'wasm' })).rejects.toBeInstanceOf(
      ModelIoError,
    );
    await expect(loadRunner(empty, { runtime: 'gpu' as 'auto' })).rejects.toThrow(
      /runtime must be auto, onnx or tfjs; got "gpu"/,
    );
    await expect(exportModelDir(empty)).rejects.toThrow(/model.json not found/);
  });

  it('the export step refuses a model the runtimes disagree on (tolerance 0 on a non-trivial model)', async () => {
    const modelDir = join(dir, 'strict');
    const model = buildTinyUnet({ width: 8, depth: 2, seed: 7 });
    await saveModel(model, modelDir);
    await expect(exportModelDir(modelDir, { tolerance: 0 })).rejects.toThrow(
      /disagrees with tfjs by .* \(> 0\)/,
    );
    await expect(exportModelDir(modelDir, { tolerance: 0 })).rejects.toBeInstanceOf(OnnxExportError);
    expect(existsSync(join(modelDir, 'model.onnx'))).toBe(false);
    model.dispose();
  });
});

describe('int8 copy selection (issue 22 #1)', () => {
  let base: string;
  let int8Bytes: Uint8Array;
  /** A folder with model.onnx, card.json and model.int8.onnx; `entry` edits the card.int8 record. */
  async function folder(name: string, entry: (e: Int8CardEntry) => object | undefined): Promise<string> {
    const d = join(base, name);
    await mkdir(d, { recursive: true });
    for (const f of ['model.onnx', 'card.json']) await copyFile(join(base, 'src', f), join(d, f));
    await writeFile(join(d, INT8_ONNX), int8Bytes);
    const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
    const good: Int8CardEntry = {
      file: INT8_ONNX,
      sha256: sha(int8Bytes),
      bytes: int8Bytes.length,
      format: 'test',
      calibration: {
        data: 'synthetic tiles',
        images: 2,
        tiles: 2,
        method: 'minmax',
        weightBits: 8,
        floatSha256: sha(new Uint8Array(await readFile(join(d, 'model.onnx')))),
      },
      validation: {
        data: 'none',
        pipeline: 'none',
        float: { f1_50: 0, dsb: 0 },
        int8: { f1_50: 0, dsb: 0 },
        gate: { ...INT8_GATE },
        passed: true,
      },
    };
    const card = await readModelCard(d);
    const e = entry(good);
    await writeModelCard(d, e ? { ...card, int8: e } : card);
    return d;
  }

  beforeAll(async () => {
    base = join(dir, 'int8');
    const src = join(base, 'src');
    const model = buildNetwork({ baseFilters: 4, depth: 2 });
    await saveModel(model, src, { ...testCard(), params: countParams(model) });
    model.dispose();
    await exportModelDir(src);
    const float = new Uint8Array(await readFile(join(src, 'model.onnx')));
    const plan = planQuantization(float);
    const calib = await CalibrationRunner.create(calibrationModel(float, plan), plan);
    for (let s = 0; s < 2; s++) await calib.predict(pattern(64 * 64), 1, 64, 64, 1);
    int8Bytes = quantizeQdq(float, calib.ranges({ kind: 'minmax' }), {}, plan);
    await calib.dispose();
  });

  it('KIOSK_INT8 is auto, on or off (unset: auto); anything else is a bad option', async () => {
    expect(int8FromEnv({})).toBe('auto');
    expect(int8FromEnv({ KIOSK_INT8: 'off' })).toBe('off');
    expect(int8FromEnv({ KIOSK_INT8: ' on ' })).toBe('on');
    expect(() => int8FromEnv({ KIOSK_INT8: 'yes' })).toThrow(/KIOSK_INT8 must be auto, on or off; got "yes"/);
    const d = await folder('env', (e) => e);
    await expect(loadRunner(d, { runtime: 'onnx', int8: 'maybe' as Int8Choice })).rejects.toMatchObject({
      code: 'bad-option',
    });
    const saved = process.env.KIOSK_INT8;
    process.env.KIOSK_INT8 = 'sometimes';
    try {
      await expect(loadRunner(d, { runtime: 'onnx' })).rejects.toMatchObject({ code: 'bad-option' });
      process.env.KIOSK_INT8 = 'on';
      const r = await loadRunner(d, { runtime: 'onnx' });
      expect(r.runtime).toBe('onnxruntime-node/cpu int8');
      await r.dispose();
    } finally {
      if (saved === undefined) delete process.env.KIOSK_INT8;
      else process.env.KIOSK_INT8 = saved;
    }
  });

  it("'on' serves the int8 copy (missing-file without one), 'off' the float model", async () => {
    const d = await folder('on-off', () => undefined);
    const on = await loadRunner(d, { runtime: 'onnx', int8: 'on' });
    const off = await loadRunner(d, { runtime: 'onnx', int8: 'off' });
    expect(on.runtime).toBe('onnxruntime-node/cpu int8');
    expect(off.runtime).toBe('onnxruntime-node/cpu');
    const a = await on.predict(pattern(32 * 32), 1, 32, 32, 1);
    const b = await off.predict(pattern(32 * 32), 1, 32, 32, 1);
    expect(maxDiff(a.fg, b.fg)).toBeGreaterThan(0); // really another model
    await on.dispose();
    await off.dispose();
    await rm(join(d, INT8_ONNX));
    await expect(loadRunner(d, { runtime: 'onnx', int8: 'on' })).rejects.toMatchObject({
      code: 'missing-file',
    });
  });

  it("'auto' refuses a copy without a passed gate for exactly these files, and says why", async () => {
    const cases: [string, (e: Int8CardEntry) => object | undefined, RegExp][] = [
      ['no-record', () => undefined, /card.json has no int8 record/],
      ['failed', (e) => ({ ...e, validation: { ...e.validation, passed: false } }), /passed accuracy gate/],
      ['other-file', (e) => ({ ...e, sha256: '0'.repeat(64) }), /not the file card.int8 describes/],
      [
        'other-float',
        (e) => ({ ...e, calibration: { ...e.calibration, floatSha256: 'f'.repeat(64) } }),
        /made from another model.onnx/,
      ],
    ];
    for (const [name, edit, reason] of cases) {
      const d = await folder(name, edit);
      const r = await loadRunner(d, { runtime: 'onnx', int8: 'auto', threads: 1 });
      expect(r.runtime).toBe('onnxruntime-node/cpu');
      expect(int8Decision(d, 1)).toMatchObject({ int8: false, reason: expect.stringMatching(reason) });
      expect(await int8Refusal(d)).toMatch(reason);
      await r.dispose();
    }
  });

  it("'auto' times both on one tile when the card vouches for the copy, serves the faster, and keeps the timing", async () => {
    const d = await folder('vouched', (e) => e);
    expect(await int8Refusal(d)).toBeUndefined();
    const r = await loadRunner(d, { runtime: 'onnx', int8: 'auto', threads: 1 });
    const decision = int8Decision(d, 1)!;
    console.log(`int8 auto on a small net: ${decision.reason}`);
    expect(decision.floatMs).toBeGreaterThan(0);
    expect(decision.int8Ms).toBeGreaterThan(0);
    expect(decision.int8).toBe(decision.floatMs! / decision.int8Ms! >= INT8_MIN_SPEEDUP);
    expect(r.runtime).toBe(decision.int8 ? 'onnxruntime-node/cpu int8' : 'onnxruntime-node/cpu');
    await r.dispose();
    // The machine keeps the timing (by the copy's sha256): later loads, with any thread count and in any
    // process, serve the same model without timing again.
    const file = int8DecisionFile(createHash('sha256').update(int8Bytes).digest('hex'));
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(decision);
    const again = await loadRunner(d, { runtime: 'onnx', int8: 'auto', threads: 2 });
    expect(int8Decision(d, 2)).toEqual(decision);
    expect(again.runtime).toBe(r.runtime);
    await again.dispose();
    // A different decision in the file is what every later load follows.
    await writeFile(file, JSON.stringify({ ...decision, int8: !decision.int8 }));
    const flipped = await loadRunner(d, { runtime: 'onnx', int8: 'auto', threads: 1 });
    expect(flipped.runtime).toBe(decision.int8 ? 'onnxruntime-node/cpu' : 'onnxruntime-node/cpu int8');
    await flipped.dispose();
    await rm(file);
    // A card that stops vouching is noticed at once.
    const card = await readModelCard(d);
    const { int8: _dropped, ...rest } = card;
    await writeModelCard(d, rest as typeof card);
    const after = await loadRunner(d, { runtime: 'onnx', int8: 'auto', threads: 1 });
    expect(after.runtime).toBe('onnxruntime-node/cpu');
    await after.dispose();
  });
});

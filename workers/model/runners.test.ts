import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportModelDir } from './export-model-dir.js';
import { ModelIoError, saveModel } from './model-io.js';
import { buildNetwork } from './network.js';
import { exportToOnnx, OnnxExportError } from './onnx-export.js';
import { identifyHeads, loadRunner, OnnxRunner, RunnerError, TfjsRunner } from './runners.js';
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

import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../command.js';
import { readImageFile, readLabelsFile } from '../../workers/image/files.js';
import { exportModelDir } from '../../workers/model/export-model-dir.js';
import { saveModel } from '../../workers/model/model-io.js';
import { buildNetwork } from '../../workers/model/network.js';
import { initTfjs } from '../../workers/model/runtime.js';
import { testCard } from '../../workers/pipeline/testing/precomputed-maps-runner.js';
import { runCaptured } from './run-captured.test-helpers.js';
import { command, findModelDir, outputStem } from './segment.js';
import { jobTypeRegistry } from '../../workers/jobtypes/registry.js';
import { decodeImage } from '../../workers/image/decode.js';
import { randomEllipsoids, renderEllipsoidStack } from '../../workers/image/synthetic-nuclei.js';
import { encodeTiff } from '../../workers/image/tiff-write.js';

const TINY = join(import.meta.dirname, '../../workers/jobtypes/testing/tiny');
import { NUCLEI_VAL } from '../../test/data.js';
import { tifffilePixelSize, tiffinfo } from '../../workers/image/tiff-pixel-size.test-helpers.js';

const VAL = NUCLEI_VAL;
let dir: string;
let modelDir: string;

beforeAll(async () => {
  await initTfjs({ prefer: 'wasm' });
  dir = await mkdtemp(join(tmpdir(), 'segment-cli-'));
  // A small untrained network in the layout of models/<name>/<version>: tests the command, not the model.
  modelDir = join(dir, 'models', 'nuclear', '3');
  const model = buildNetwork({ baseFilters: 4, depth: 2 });
  await saveModel(model, modelDir, { ...testCard(14), name: 'nuclear', version: 3 });
  await exportModelDir(modelDir);
  model.dispose();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const run = (args: string[]) => runCaptured(command, args);

describe('kiosk segment', () => {
  it('writes NAME.labels.tif per image at the image size, reports each, and keeps going past a bad file', async () => {
    const good = 'dsb_03398329ced0c23b.image.png';
    const bad = join(dir, 'notes.image.png');
    await writeFile(bad, 'this is not a PNG');
    await copyFile(join(VAL, 'dsb_077f026f4ab0f0bc.image.png'), join(dir, 'second.png'));
    const outDir = join(dir, 'out');
    const r = await run([
      join(VAL, good),
      bad,
      join(dir, 'second.png'),
      '--out',
      outDir,
      '--model-dir',
      modelDir,
      '--runtime',
      'onnx',
      '--threads',
      '1',
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/model nuclear\/3 .* on onnxruntime-node\/cpu/);
    expect(r.out).toMatch(
      /dsb_03398329ced0c23b\.image\.png: \d+ objects \(scale \d\.\d\d, [12] pass(es)?\) in \d+\.\d\d s/,
    );
    expect(r.err).toMatch(/notes\.image\.png: failed: .*not-an-image/);
    expect(r.err).toMatch(/1 of 3 image\(s\) failed/);
    const labels = await readLabelsFile(join(outDir, 'dsb_03398329ced0c23b.labels.tif'));
    const image = await readImageFile(join(VAL, good));
    expect([labels.height, labels.width]).toEqual(image.shape.slice(0, 2));
    await expect(readLabelsFile(join(outDir, 'second.labels.tif'))).resolves.toBeDefined();
  });

  it('issue 23 #3: with --mpp the label TIFF states the pixel size (tifffile and tiffinfo read it)', async () => {
    const outDir = join(dir, 'out-mpp');
    const image = join(VAL, 'dsb_03398329ced0c23b.image.png');
    const args = ['--model-dir', modelDir, '--runtime', 'onnx', '--threads', '1'];
    const r = await run([image, '--out', outDir, '--mpp', '0.4', ...args]);
    expect(r.code, r.err).toBe(0);
    const path = join(outDir, 'dsb_03398329ced0c23b.labels.tif');
    const t = tifffilePixelSize(path);
    expect(t).toMatchObject({ is_imagej: true, unit: 'micron', resunit: 1 });
    expect(t.xres![1]! / t.xres![0]!).toBeCloseTo(0.4, 9);
    expect(tiffinfo(path)).toMatch(/Resolution: 2\.5, 2\.5 \(unitless\)/);
    // no --mpp and a PNG that states none: the TIFF states none
    const none = await run([image, '--out', join(dir, 'out-no-mpp'), ...args]);
    expect(none.code, none.err).toBe(0);
    expect(tifffilePixelSize(join(dir, 'out-no-mpp', 'dsb_03398329ced0c23b.labels.tif'))).toMatchObject({
      unit: null,
      xres: null,
    });
  });

  it('finds the latest version under models/NAME, or the one asked for', async () => {
    expect(await findModelDir('nuclear', undefined, join(dir, 'models'))).toBe(modelDir);
    await expect(findModelDir('nuclear', 7, join(dir, 'models'))).rejects.toThrow(
      /model 'nuclear' has no version 7 \(versions: 3\)/,
    );
    await expect(findModelDir('cyto', undefined, join(dir, 'models'))).rejects.toThrow(
      /no model 'cyto' in .* \(models there: nuclear\)/,
    );
  });

  it('stems: NAME.image.png → NAME, a.tif → a', () => {
    expect(outputStem('/x/y/abc.image.png')).toBe('abc');
    expect(outputStem('cells.tif')).toBe('cells');
    expect(outputStem('b.ome.tiff')).toBe('b'); // issue 23 #2: an OME-TIFF's .ome goes with its extension
  });

  it('refuses two inputs with the same stem instead of overwriting', async () => {
    const a = join(dir, 'a', 'same.image.png');
    const b = join(dir, 'b', 'same.png');
    await mkdir(join(dir, 'a'), { recursive: true });
    await mkdir(join(dir, 'b'), { recursive: true });
    await copyFile(join(VAL, 'dsb_03398329ced0c23b.image.png'), a);
    await copyFile(join(VAL, 'dsb_03398329ced0c23b.image.png'), b);
    const r = await run([
      a,
      b,
      '--out',
      join(dir, 'out2'),
      '--model-dir',
      modelDir,
      '--runtime',
      'onnx',
      '--mpp',
      '0.5',
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /same\.png: failed: its output same\.labels\.tif would overwrite the one of .*same\.image\.png/,
    );
  });

  it.each([
    [[], /give at least one image/],
    [['x.png'], /--out DIR is required/],
    [['x.png', '--out', 'o', '--runtime', 'gpu'], /--runtime must be auto, onnx or tfjs; got 'gpu'/],
    [['x.png', '--out', 'o', '--mpp', 'abc'], /--mpp must be a positive number; got 'abc'/],
    [['x.png', '--out', 'o', '--threads', '1.5'], /--threads must be a positive integer; got '1.5'/],
    [['x.png', '--out', 'o', '--channels', '0,a'], /--channels must be comma-separated indices/],
    [['x.png', '--out', 'o', '--bogus'], /Unknown option '--bogus'/],
    [['x.png', '--out', 'o', '--tta', '2'], /--tta must be 1, 4 or 8; got '2'/],
    [
      ['x.png', '--out', 'o', '--model-dir', 'm', '--version', '2'],
      /--model-dir replaces --model\/--version/,
    ],
  ] as const)('usage error for %j', async (args, message) => {
    const p = command.run([...args]);
    await expect(p).rejects.toBeInstanceOf(UsageError);
    await expect(p).rejects.toThrow(message);
  });

  it('--tta 4 averages the model over flipped tiles: 4x the model calls, labels written', async () => {
    const image = join(VAL, 'dsb_03398329ced0c23b.image.png');
    const args = (out: string) => [image, '--out', join(dir, out), '--model-dir', modelDir, '--runtime', 'onnx', '--mpp', '0.6429', '--batch-size', '1'];
    const { loadRunner } = await import('../../workers/model/runners.js');
    const calls: number[] = [];
    const real = loadRunner;
    const spy = vi.spyOn(await import('../../workers/model/runners.js'), 'loadRunner');
    spy.mockImplementation(async (...a: Parameters<typeof real>) => {
      const runner = await real(...a);
      const predict = runner.predict.bind(runner);
      runner.predict = (...p: Parameters<typeof predict>) => (calls.push(p[1]), predict(...p));
      return runner;
    });
    try {
      expect((await run(args('tta1'))).code).toBe(0);
      const once = calls.length;
      expect(once).toBeGreaterThan(0);
      expect((await run([...args('tta4'), '--tta', '4'])).code).toBe(0);
      expect(calls.length - once).toBe(4 * once);
    } finally {
      spy.mockRestore();
    }
    const labels = await readLabelsFile(join(dir, 'tta4', 'dsb_03398329ced0c23b.labels.tif'));
    expect(labels.width).toBeGreaterThan(0);
  }); // prettier-ignore

  it('a bad option value found by the pipeline fails each image with its reason', async () => {
    const r = await run([
      join(VAL, 'dsb_03398329ced0c23b.image.png'),
      '--out',
      join(dir, 'out3'),
      '--model-dir',
      modelDir,
      '--runtime',
      'onnx',
      '--tile-size',
      '100',
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /'tileSize' must be a multiple of the model's size multiple 16; got 100 \[bad-argument\]/,
    );
  });

  it('--job-type: an unknown type or channels that do not fit the type are usage errors naming what fits', async () => {
    const base = [
      join(VAL, 'dsb_03398329ced0c23b.image.png'),
      '--out',
      join(dir, 'jt'),
      '--model-dir',
      modelDir,
    ];
    await expect(run([...base, '--job-type', 'tracking'])).rejects.toThrow(
      /unknown job type 'tracking'; available: .*segmentation/,
    );
    const registry = await jobTypeRegistry();
    const tiny = await registry.loadFolder(TINY);
    try {
      await expect(run([...base, '--job-type', 'tiny-test', '--channels', '0'])).rejects.toThrow(
        /job type tiny-test takes 2 channel\(s\), in this order: signal, other/,
      );
      // a type's stages over the real pipeline, in-process: one file per output
      const r = await run([...base, '--job-type', 'tiny-test', '--channels', '0,0', '--runtime', 'onnx']);
      expect(r.err).toBe('');
      expect(r.out).toMatch(/objects: \d+ objects, background: 1 objects \([12] pass(es)?\)/);
      const objects = await readLabelsFile(join(dir, 'jt', 'dsb_03398329ced0c23b.labels.tif'));
      const background = await readLabelsFile(join(dir, 'jt', 'dsb_03398329ced0c23b.background.labels.tif'));
      for (let i = 0; i < objects.data.length; i += 97)
        expect(background.data[i]).toBe(objects.data[i] === 0 ? 1 : 0);
    } finally {
      registry.unregister(tiny.name);
    }
  });

  it('--3d: a ZYX stack becomes one ZYX label TIFF; a 2-D image is refused naming what 3-D needs', async () => {
    const [Z, H, W] = [5, 64, 64];
    const e = randomEllipsoids(6, Z, H, W, { minR: 6, maxR: 9, zScale: 1, seed: 4 });
    const { raw } = renderEllipsoidStack(e, Z, H, W, 9);
    const stack = join(dir, 'stack.tif');
    await writeFile(stack, encodeTiff({ ...raw, axes: 'ZYX' }));
    const out = join(dir, 'out3d');
    const base = ['--out', out, '--model-dir', modelDir, '--runtime', 'onnx', '--mpp', '0.5'];
    const r = await run([stack, '--3d', ...base]);
    expect(r.err).toBe('');
    expect(r.out).toMatch(
      /stack\.tif: \d+ objects in 3-D \(5 planes of 64x64, scale \d+\.\d\d, \d+ pass(es)?\)/,
    );
    const labels = decodeImage(await readFile(join(out, 'stack.labels.tif')), { name: 'stack.labels.tif' });
    expect([labels.axes, labels.shape]).toEqual(['ZYX', [5, 64, 64]]);
    expect(labels.physicalSizeX).toBeCloseTo(0.5, 6);
    const flat = await run([join(VAL, 'dsb_03398329ced0c23b.image.png'), '--3d', ...base]);
    expect(flat.code).toBe(1);
    expect(flat.err).toMatch(/3-D segmentation needs a stack of z planes/);
    await expect(run([stack, '--3d', '--job-type', 'whole-cell', ...base])).rejects.toThrow(
      /--3d is a variant of job type segmentation/,
    );
  });
});

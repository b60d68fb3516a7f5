import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runKiosk } from '../run-kiosk.test-helpers.js';
import { describe, expect, it } from 'vitest';
import { encodePng } from '../../workers/image/png.js';
import { encodeLabelsTiff } from '../../workers/image/tiff-write.js';
import type { Labels } from '../../workers/image/types.js';
import { NUCLEI_VAL } from '../../test/data.js';

const valDir = NUCLEI_VAL;

/** A 12 x 16 label image with axis-aligned boxes [id, y0, x0, height, width]. */
function boxes(...list: [number, number, number, number, number][]): Labels {
  const width = 16;
  const data = new Uint32Array(12 * width);
  for (const [id, y0, x0, h, w] of list)
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) data[y * width + x] = id;
  return { data, height: 12, width };
}
const png = (l: Labels): Uint8Array =>
  encodePng({ data: Uint16Array.from(l.data), dtype: 'uint16', shape: [l.height, l.width], axes: 'YX' });
const tif = (l: Labels): Uint8Array => encodeLabelsTiff(l);

function folders(): { root: string; pred: string; truth: string } {
  const root = mkdtempSync(join(tmpdir(), 'kiosk-eval-'));
  const pred = join(root, 'pred');
  const truth = join(root, 'truth');
  mkdirSync(pred);
  mkdirSync(truth);
  return { root, pred, truth };
}

describe('kiosk eval (the real CLI, spawned)', () => {
  it('scores the 68 validation label images against themselves: F1 = 1, DSB = 1', async () => {
    const r = await runKiosk(['eval', '--pred', valDir, '--truth', valDir, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown> & { images: unknown[] };
    expect(out.n_images).toBe(68);
    expect(out.images.length).toBe(68);
    expect([out.f1_50, out.dsb, out.precision_50, out.recall_50]).toEqual([1, 1, 1, 1]);
    expect(out.n_truth).toBeGreaterThan(68);
    expect(out.n_truth).toBe(out.tp_50);
  });

  it('gives the hand-computed figures on a perturbed copy (deleted, split and shifted objects)', async () => {
    const { pred, truth } = folders();
    // a: three 4x4 boxes; the prediction deletes one.
    //    every threshold: tp 2, fp 0, fn 1 → P 1, R 2/3, F1 4/5, TP/(TP+FP+FN) 2/3 → DSB_a 2/3.
    writeFileSync(join(truth, 'a.labels.png'), png(boxes([1, 1, 1, 4, 4], [2, 1, 6, 4, 4], [3, 7, 1, 4, 4])));
    writeFileSync(join(pred, 'a.png'), png(boxes([1, 1, 1, 4, 4], [2, 1, 6, 4, 4])));
    // b: a 4x4 box and a 4x8 box; the prediction (other ids) splits the 4x8 box into two 4x4 halves,
    //    each with IoU 16/32 = 0.5 with it.
    //    at 0.5: one half matches → tp 2, fp 1, fn 0 (F1 4/5, 2/3); above 0.5: tp 1, fp 2, fn 1 (1/4).
    //    DSB_b = (2/3 + 9/4) / 10 = 0.291666...
    writeFileSync(join(truth, 'b.labels.tif'), tif(boxes([1, 1, 1, 4, 4], [2, 6, 4, 4, 8])));
    writeFileSync(join(pred, 'b.labels.tiff'), tif(boxes([5, 1, 1, 4, 4], [6, 6, 4, 4, 4], [7, 6, 8, 4, 4])));
    // c: two 4x4 boxes; the prediction shifts one right by 1 px: 12 common px, union 20, IoU 0.6.
    //    at 0.5, 0.55, 0.6: tp 2 (1 each); 0.65..0.95: tp 1, fp 1, fn 1 (1/3). DSB_c = (3 + 7/3) / 10.
    //    c.image.png next to it is a raw image and must be skipped.
    writeFileSync(join(truth, 'c.png'), png(boxes([1, 1, 1, 4, 4], [2, 6, 6, 4, 4])));
    writeFileSync(join(truth, 'c.image.png'), png(boxes([9, 0, 0, 12, 16])));
    writeFileSync(join(pred, 'c.tif'), tif(boxes([1, 1, 1, 4, 4], [2, 6, 7, 4, 4])));
    // Pooled at 0.5: tp 2+2+2 = 6, fp 0+1+0 = 1, fn 1+0+0 = 1 → P = R = F1 = 6/7.
    // Pooled TP/(TP+FP+FN): 0.5 → 6/8; 0.55, 0.6 → (2+1+2)/(5+2+2) = 5/9; 0.65..0.95 → 4/(4+3+3) = 4/10.
    // Pooled DSB = (6/8 + 2 * 5/9 + 7 * 4/10) / 10 = 0.466111...
    // Mean per image: DSB (2/3 + 0.291666 + 0.533333) / 3 = 0.497222..., F1@0.5 (4/5 + 4/5 + 1) / 3,
    // precision@0.5 (1 + 2/3 + 1) / 3, recall@0.5 (2/3 + 1 + 1) / 3.
    const r = await runKiosk(['eval', '--pred', pred, '--truth', truth, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      [k: string]: number | object;
      mean_per_image: Record<string, number>;
      images: { name: string; dsb: number; f1_50: number; tp_50: number; fp_50: number; fn_50: number }[];
    };
    expect(out.n_images).toBe(3);
    expect([out.tp_50, out.fp_50, out.fn_50]).toEqual([6, 1, 1]);
    expect(out.f1_50).toBeCloseTo(6 / 7, 12);
    expect(out.precision_50).toBeCloseTo(6 / 7, 12);
    expect(out.recall_50).toBeCloseTo(6 / 7, 12);
    expect(out.dsb).toBeCloseTo((6 / 8 + (2 * 5) / 9 + (7 * 4) / 10) / 10, 12);
    expect(out.mean_per_image.dsb).toBeCloseTo((2 / 3 + (2 / 3 + 9 / 4) / 10 + (3 + 7 / 3) / 10) / 3, 12);
    expect(out.mean_per_image.f1_50).toBeCloseTo((4 / 5 + 4 / 5 + 1) / 3, 12);
    expect(out.images.map((i) => [i.name, i.tp_50, i.fp_50, i.fn_50])).toEqual([
      ['a', 2, 0, 1],
      ['b', 2, 1, 0],
      ['c', 2, 0, 0],
    ]);
    expect(out.images.map((i) => i.dsb)).toEqual(
      [2 / 3, (2 / 3 + 9 / 4) / 10, (3 + 7 / 3) / 10].map((v) => expect.closeTo(v, 12)),
    );

    // The table shows the same figures.
    const t = await runKiosk(['eval', '--pred', pred, '--truth', truth]);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/^a\s+3\s+2\s+2\s+0\s+1\s+1\.000\s+0\.667\s+0\.800\s+0\.667$/m);
    expect(t.stdout).toMatch(/^pooled \(3\)\s+7\s+7\s+6\s+1\s+1\s+0\.857\s+0\.857\s+0\.857\s+0\.466$/m);
    expect(t.stdout).toMatch(/^mean per image\s+0\.889\s+0\.889\s+0\.867\s+0\.497$/m);
  });

  it("issue 23 #2: pairs predictions named as any of the project's outputs with training-layout truth", async () => {
    const { pred, truth } = folders();
    const l = boxes([1, 1, 1, 4, 4], [2, 6, 8, 4, 4]);
    for (const n of ['a', 'b', 'c', 'd', 'e f']) writeFileSync(join(truth, `${n}.labels.png`), png(l));
    writeFileSync(join(truth, 'a.image.png'), png(boxes([9, 0, 0, 12, 16]))); // the raw image: skipped
    writeFileSync(join(pred, 'a.labels.tif'), tif(l)); // kiosk segment / predict, the API, the web UI
    writeFileSync(join(pred, 'b_feature_0.tif'), tif(l)); // a DeepCell zip's entry
    writeFileSync(join(pred, 'c.image.labels.tif'), tif(l)); // the older web UI / kiosk predict name
    writeFileSync(join(pred, 'd.image_feature_0.tif'), tif(l)); // a DeepCell zip's entry for d.image.png
    writeFileSync(join(pred, 'e_f.labels.tif'), tif(l)); // the API's name for 'e f.image.png'
    const r = await runKiosk(['eval', '--pred', pred, '--truth', truth, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { n_images: number; f1_50: number; images: { name: string }[] };
    expect(out.images.map((i) => i.name).sort()).toEqual(['a', 'b', 'c', 'd', 'e f']);
    expect([out.n_images, out.f1_50]).toEqual([5, 1]);
  });

  it('fails with a clear message when a counterpart is missing', async () => {
    const { pred, truth } = folders();
    writeFileSync(join(truth, 'x.labels.png'), png(boxes([1, 1, 1, 4, 4])));
    writeFileSync(join(truth, 'y.labels.png'), png(boxes([1, 1, 1, 4, 4])));
    writeFileSync(join(pred, 'x.labels.tif'), tif(boxes([1, 1, 1, 4, 4])));
    writeFileSync(join(pred, 'z.tif'), tif(boxes([1, 1, 1, 4, 4])));
    const r = await runKiosk(['eval', '--pred', pred, '--truth', truth]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `kiosk eval: no prediction in ${pred} for y; no ground truth in ${truth} for z (files pair up by stem, see kiosk eval --help)\n`,
    );
    expect(r.stdout).toBe('');
  });

  it('fails for an empty folder, a missing folder, a file given as folder and two files with one stem', async () => {
    const { root, pred, truth } = folders();
    writeFileSync(join(truth, 'x.labels.png'), png(boxes([1, 1, 1, 4, 4])));
    writeFileSync(join(pred, 'notes.txt'), 'not an image');
    const empty = await runKiosk(['eval', '--pred', pred, '--truth', truth]);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/--pred .* holds no label images/);
    const missing = await runKiosk(['eval', '--pred', join(root, 'nope'), '--truth', truth]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--pred folder .*nope cannot be read: ENOENT/);
    const file = await runKiosk(['eval', '--pred', join(truth, 'x.labels.png'), '--truth', truth]);
    expect(file.code).toBe(1);
    expect(file.stderr).toMatch(/--pred .*x\.labels\.png is not a folder/);
    writeFileSync(join(truth, 'x.tif'), tif(boxes([1, 1, 1, 4, 4])));
    const twice = await runKiosk(['eval', '--pred', truth, '--truth', truth]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/x\.labels\.png and x\.tif both have stem 'x'/);
    expect(`${empty.stderr}${missing.stderr}${twice.stderr}`).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('fails for an unreadable file and for images of different shapes, naming them', async () => {
    const { pred, truth } = folders();
    writeFileSync(join(truth, 'x.labels.png'), png(boxes([1, 1, 1, 4, 4])));
    writeFileSync(join(pred, 'x.labels.png'), 'this is not a png');
    const bad = await runKiosk(['eval', '--pred', pred, '--truth', truth]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^kiosk eval: cannot read .*pred\/x\.labels\.png: /);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    writeFileSync(
      join(pred, 'x.labels.png'),
      encodePng({ data: new Uint16Array(6), dtype: 'uint16', shape: [2, 3], axes: 'YX' }),
    );
    const shape = await runKiosk(['eval', '--pred', pred, '--truth', truth]);
    expect(shape.code).toBe(1);
    expect(shape.stderr).toBe(
      'kiosk eval: x: pred has shape [2, 3] but truth has shape [12, 16]; they must match\n',
    );
  });

  it('exits 2 with the usage for missing or unknown flags', async () => {
    const r = await runKiosk(['eval', '--pred', valDir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/both --pred DIR and --truth DIR are required[\s\S]*Usage: kiosk eval/);
    const u = await runKiosk(['eval', '--pred', valDir, '--truth', valDir, '--iou', '0.5']);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/Unknown option '--iou'/);
  });
});

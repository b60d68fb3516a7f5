import { describe, expect, it } from 'vitest';
import { countObjects } from './labels.js';
import { diskDistanceMaps, randomDisks, type Disk } from './synthetic-nuclei.js';
import { ImageError, type FloatMap, type Labels } from './types.js';
import { deepWatershed, type DeepWatershedOptions } from './watershed.js';

/** IoU of object `id` in `pred` with object `truthId` in `truth`. */
function iou(pred: Labels, id: number, truth: Labels, truthId: number): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < pred.data.length; i++) {
    const a = pred.data[i] === id;
    const b = truth.data[i] === truthId;
    if (a && b) inter++;
    if (a || b) union++;
  }
  return inter / union;
}
const at = (l: Labels, d: Disk): number => l.data[d.cy * l.width + d.cx]!;

describe('deepWatershed', () => {
  it('splits two touching disks into exactly two labels, each close to its disk', () => {
    // Centres 19 px apart, radii 10: the disks overlap by 1 px and split along the line between them.
    const disks = [
      { cy: 20, cx: 20, r: 10 },
      { cy: 20, cx: 39, r: 10 },
    ];
    const maps = diskDistanceMaps(disks, 40, 60);
    const out = deepWatershed({ inner: maps.inner, outer: maps.outer });
    expect(countObjects(out)).toBe(2);
    expect(new Set(out.data)).toEqual(new Set([0, 1, 2]));
    const [a, b] = [at(out, disks[0]!), at(out, disks[1]!)];
    expect([a, b]).toEqual([1, 2]); // numbered in raster order of their seeds
    // Default interiorSmooth 1 blurs `outer` past the rim, so the 0.01 mask grows by about 1 px:
    // IoU ~ (10/11)^2. Without smoothing the labels follow the disks to the pixel.
    expect(iou(out, a, maps.labels, 1)).toBeGreaterThan(0.85);
    expect(iou(out, b, maps.labels, 2)).toBeGreaterThan(0.85);
    const sharp = deepWatershed({ inner: maps.inner, outer: maps.outer }, { interiorSmooth: 0 });
    expect(countObjects(sharp)).toBe(2);
    expect(iou(sharp, 1, maps.labels, 1)).toBeGreaterThan(0.95);
    expect(iou(sharp, 2, maps.labels, 2)).toBeGreaterThan(0.95);
  });
  it('finds every disk of a crowded scene (one label per disk, each matching its disk)', () => {
    const disks = randomDisks(40, 200, 200, { minR: 8, maxR: 14, spacing: 0.95, seed: 5 });
    expect(disks.length).toBe(40);
    const maps = diskDistanceMaps(disks, 200, 200);
    const sharp = deepWatershed({ inner: maps.inner, outer: maps.outer }, { interiorSmooth: 0 });
    expect(countObjects(sharp)).toBe(disks.length);
    disks.forEach((d, k) => expect(iou(sharp, at(sharp, d), maps.labels, k + 1)).toBeGreaterThan(0.9));
    // Default smoothing grows each object by ~1 px: r = 8 gives IoU ~ (8/9)^2 = 0.79.
    const out = deepWatershed({ inner: maps.inner, outer: maps.outer });
    expect(countObjects(out)).toBe(disks.length);
    disks.forEach((d, k) => expect(iou(out, at(out, d), maps.labels, k + 1)).toBeGreaterThan(0.75));
  });
  it('takes the mask from fg when given (outer still shapes the flood)', () => {
    const disks = [{ cy: 12, cx: 12, r: 8 }];
    const maps = diskDistanceMaps(disks, 25, 25);
    // fg says only the left half is foreground.
    const fg = new Float32Array(625);
    for (let i = 0; i < 625; i++) fg[i] = i % 25 <= 12 ? maps.fg.data[i]! : 0;
    const out = deepWatershed({ ...maps, fg: { data: fg, height: 25, width: 25 } }, { interiorSmooth: 0 });
    expect(countObjects(out)).toBe(1);
    for (let i = 0; i < 625; i++) expect(out.data[i]).toBe(fg[i]! > 0.5 ? 1 : 0);
  });
  it('removes objects smaller than smallObjectsThreshold and renumbers 1..N', () => {
    const disks = [
      { cy: 10, cx: 10, r: 3 }, // 29 px
      { cy: 30, cx: 30, r: 8 },
    ];
    const maps = diskDistanceMaps(disks, 45, 45);
    expect(countObjects(deepWatershed(maps, { interiorSmooth: 0 }))).toBe(2);
    const out = deepWatershed(maps, { interiorSmooth: 0, smallObjectsThreshold: 30 });
    expect(countObjects(out)).toBe(1);
    expect(at(out, disks[1]!)).toBe(1);
    expect(at(out, disks[0]!)).toBe(0);
  });
  it('fills a hole in the mask smaller than fillHolesThreshold', () => {
    const disks = [{ cy: 15, cx: 15, r: 10 }];
    const maps = diskDistanceMaps(disks, 31, 31);
    const outer = new Float32Array(maps.outer.data);
    for (const [y, x] of [
      [15, 20],
      [15, 21],
      [16, 20],
    ])
      outer[y! * 31 + x!] = 0; // a 3-px hole in the object
    const holed = { inner: maps.inner, outer: { data: outer, height: 31, width: 31 } };
    const withHole = deepWatershed(holed, { interiorSmooth: 0 });
    expect(withHole.data[15 * 31 + 20]).toBe(0);
    expect(deepWatershed(holed, { interiorSmooth: 0, fillHolesThreshold: 3 }).data[15 * 31 + 20]).toBe(0);
    expect(deepWatershed(holed, { interiorSmooth: 0, fillHolesThreshold: 4 }).data[15 * 31 + 20]).toBe(1);
  });
  it('excludeBorder drops a seed near the edge; radius merges close seeds', () => {
    const disks = [
      { cy: 5, cx: 5, r: 5 },
      { cy: 20, cx: 25, r: 6 },
      { cy: 20, cx: 36, r: 6 },
    ];
    const maps = diskDistanceMaps(disks, 30, 45);
    expect(countObjects(deepWatershed(maps))).toBe(3);
    expect(at(deepWatershed(maps, { excludeBorder: true }), disks[0]!)).toBe(0);
    // Seeds 11 px apart: radius 12 keeps only the first of the two, which floods both disks.
    expect(countObjects(deepWatershed(maps, { radius: 12 }))).toBe(2);
  });
  it('all-zero maps and a constant inner map give no objects', () => {
    const z = (v: number): FloatMap => ({ data: new Float32Array(100).fill(v), height: 10, width: 10 });
    expect(countObjects(deepWatershed({ inner: z(0), outer: z(0) }))).toBe(0);
    expect(countObjects(deepWatershed({ inner: z(0.9), outer: z(0.9) }))).toBe(0);
  });
});

describe('deepWatershed errors', () => {
  const m = (h: number, w: number): FloatMap => ({ data: new Float32Array(h * w), height: h, width: w });
  const err = (f: () => unknown): ImageError => {
    try {
      f();
    } catch (e) {
      if (e instanceof ImageError) return e;
      throw e;
    }
    throw new Error('expected an ImageError');
  };
  it('maps of different shapes → shape-mismatch with both shapes', () => {
    const e = err(() => deepWatershed({ inner: m(4, 5), outer: m(5, 4) }));
    expect(e.code).toBe('shape-mismatch');
    expect(e.message).toBe('inner has shape [4, 5] but outer has shape [5, 4]; they must match');
    expect(err(() => deepWatershed({ inner: m(4, 5), outer: m(4, 5), fg: m(4, 6) })).message).toBe(
      'fg has shape [4, 6] but outer has shape [4, 5]; they must match',
    );
  });
  it('a data length that does not match the shape → shape-mismatch', () => {
    const bad = { data: new Float32Array(3), height: 2, width: 2 };
    expect(err(() => deepWatershed({ inner: bad, outer: bad })).code).toBe('shape-mismatch');
  });
  it('non-finite map values → bad-argument naming the map and pixel', () => {
    const inner = m(3, 3);
    inner.data[4] = NaN;
    expect(err(() => deepWatershed({ inner, outer: m(3, 3) })).message).toBe(
      'inner: value at [1, 1] is NaN; need finite values',
    );
  });
  const cases: [DeepWatershedOptions, RegExp][] = [
    [{ radius: 0 }, /'radius' must be an integer >= 1, got 0/],
    [{ radius: 2.5 }, /'radius' .* got 2.5/],
    [{ maximaThreshold: NaN }, /'maximaThreshold' must be a finite number, got NaN/],
    [{ interiorThreshold: Infinity }, /'interiorThreshold' must be a finite number, got Infinity/],
    [{ maximaSmooth: -1 }, /'maximaSmooth' must be a finite number >= 0, got -1/],
    [{ interiorSmooth: 100 }, /'interiorSmooth' must be <= 64 px, got 100/],
    [{ smallObjectsThreshold: -2 }, /'smallObjectsThreshold' must be an integer >= 0, got -2/],
    [{ fillHolesThreshold: 0.5 }, /'fillHolesThreshold' must be an integer >= 0, got 0.5/],
    [{ excludeBorder: 'yes' as unknown as boolean }, /'excludeBorder' must be a boolean, got yes/],
    [{ connectivity: 8 as 1 }, /'connectivity' must be 1 .* got 8/],
    [{ minDistance: 3 } as DeepWatershedOptions, /unknown deepWatershed option 'minDistance'/],
  ];
  for (const [opts, message] of cases) {
    it(`rejects ${JSON.stringify(opts)}`, () => {
      const e = err(() => deepWatershed({ inner: m(3, 3), outer: m(3, 3) }, opts));
      expect(e.code).toBe('bad-argument');
      expect(e.message).toMatch(message);
    });
  }
});

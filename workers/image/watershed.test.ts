import { describe, expect, it } from 'vitest';
import { countObjects } from './labels.js';
import { diskDistanceMaps, seededRandom } from './synthetic-nuclei.js';
import { ImageError, type FloatMap, type Labels } from './types.js';
import { watershed } from './watershed.js';
import { labelsOf, mapOf, rowsOf } from './grids.test-helpers.js';

describe('watershed on hand-written arrays', () => {
  it('constant surface: breadth-first from each marker, a tie goes to the marker queued first', () => {
    const s = mapOf([[0, 0, 0, 0, 0, 0, 0]]);
    expect(rowsOf(watershed(s, labelsOf([[1, 0, 0, 0, 0, 0, 2]])))).toEqual([[1, 1, 1, 1, 2, 2, 2]]);
    expect(rowsOf(watershed(s, labelsOf([[2, 0, 0, 0, 0, 0, 1]])))).toEqual([[2, 2, 2, 2, 1, 1, 1]]);
  });
  it('low values flood first, so a marker in a low valley takes the ridge it reaches first', () => {
    const s = mapOf([[0, 5, 5, 5, 1, 1, 0]]);
    // pop order: m1(0), m2(0), x5(1), x4(1) → x3 to 2; then x1(5) → x2 to 1.
    expect(rowsOf(watershed(s, labelsOf([[1, 0, 0, 0, 0, 0, 2]])))).toEqual([[1, 1, 1, 2, 2, 2, 2]]);
  });
  it('a pixel is labelled when first reached: a later lower path does not steal it', () => {
    const s = mapOf([
      [0, 9, 0],
      [9, 9, 9],
    ]);
    expect(
      rowsOf(
        watershed(
          s,
          labelsOf([
            [1, 0, 2],
            [0, 0, 0],
          ]),
        ),
      ),
    ).toEqual([
      [1, 1, 2],
      [1, 1, 2],
    ]);
  });
  it('keeps marker ids as given', () => {
    expect(rowsOf(watershed(mapOf([[1, 1, 1, 1]]), labelsOf([[7, 0, 0, 42]])))).toEqual([[7, 7, 42, 42]]);
  });
  it('floods only inside the mask; a masked gap stops the flood; markers outside the mask are dropped', () => {
    const s = mapOf([[0, 0, 0, 0, 0]]);
    const m = Uint8Array.from([1, 1, 0, 1, 1]);
    expect(rowsOf(watershed(s, labelsOf([[1, 0, 0, 0, 0]]), m))).toEqual([[1, 1, 0, 0, 0]]);
    expect(rowsOf(watershed(s, labelsOf([[0, 0, 3, 0, 0]]), m))).toEqual([[0, 0, 0, 0, 0]]);
  });
  it('connectivity 1 does not cross a diagonal; 2 does', () => {
    const s = mapOf([
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ]);
    const m = Uint8Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const k = labelsOf([
      [5, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(rowsOf(watershed(s, k, m))).toEqual([
      [5, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(rowsOf(watershed(s, k, m, { connectivity: 2 }))).toEqual([
      [5, 0, 0],
      [0, 5, 0],
      [0, 0, 5],
    ]);
  });
  it('-0 and +0 are the same level (FIFO decides)', () => {
    const s = mapOf([[0, 0, 0, -0, 0]]);
    expect(rowsOf(watershed(s, labelsOf([[1, 0, 0, 0, 2]])))).toEqual([[1, 1, 1, 2, 2]]);
  });
  it('no markers → all zeros; 0-pixel input → empty output', () => {
    expect(
      rowsOf(
        watershed(
          mapOf([
            [1, 2],
            [3, 4],
          ]),
          labelsOf([
            [0, 0],
            [0, 0],
          ]),
        ),
      ),
    ).toEqual([
      [0, 0],
      [0, 0],
    ]);
    expect(
      watershed(
        { data: new Float32Array(0), height: 0, width: 3 },
        { data: new Uint32Array(0), height: 0, width: 3 },
      ).data.length,
    ).toBe(0);
  });
  it('does not mutate its inputs', () => {
    const s = mapOf([[0, 1, 0]]);
    const k = labelsOf([[1, 0, 0]]);
    watershed(s, k);
    expect([...k.data]).toEqual([1, 0, 0]);
    expect([...s.data]).toEqual([0, 1, 0]);
  });
});

/** Straightforward reference: a list searched for the minimum (value, age) on each pop. */
function referenceWatershed(s: FloatMap, markers: Labels, mask: Uint8Array, eight: boolean): Uint32Array {
  const { height: h, width: w } = s;
  const out = new Uint32Array(h * w);
  const queue: { v: number; age: number; i: number }[] = [];
  let age = 0;
  for (let i = 0; i < h * w; i++)
    if (mask[i] && markers.data[i]) {
      out[i] = markers.data[i]!;
      queue.push({ v: s.data[i]!, age: age++, i });
    }
  const offsets = eight
    ? [
        [-1, -1],
        [-1, 0],
        [-1, 1],
        [0, -1],
        [0, 1],
        [1, -1],
        [1, 0],
        [1, 1],
      ]
    : [
        [-1, 0],
        [0, -1],
        [0, 1],
        [1, 0],
      ];
  while (queue.length) {
    let best = 0;
    for (let j = 1; j < queue.length; j++) {
      const a = queue[j]!;
      const b = queue[best]!;
      if (a.v < b.v || (a.v === b.v && a.age < b.age)) best = j;
    }
    const { i } = queue.splice(best, 1)[0]!;
    const y = Math.floor(i / w);
    const x = i % w;
    for (const [dy, dx] of offsets) {
      const yy = y + dy!;
      const xx = x + dx!;
      if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
      const q = yy * w + xx;
      if (!mask[q] || out[q]) continue;
      out[q] = out[i]!;
      queue.push({ v: s.data[q]!, age: age++, i: q });
    }
  }
  return out;
}

describe('watershed matches a plain (value, age) priority-queue reference', () => {
  for (const [seed, eight, levels] of [
    [1, false, 0],
    [2, true, 0],
    [3, false, 7],
    [4, true, 3],
  ] as const) {
    it(`random ${levels ? `${levels}-level` : 'float'} surface, connectivity ${eight ? 2 : 1} (seed ${seed})`, () => {
      const rand = seededRandom(seed);
      const h = 50;
      const w = 61; // > 1024 distinct values for float surfaces: exercises both bitmap levels
      const data = Float32Array.from({ length: h * w }, () =>
        levels ? Math.floor(rand() * levels) : rand() * 10 - 5,
      );
      const s = { data, height: h, width: w };
      const mk = new Uint32Array(h * w);
      for (let k = 1; k <= 12; k++) mk[Math.floor(rand() * h * w)] = k;
      const mask = Uint8Array.from({ length: h * w }, () => (rand() < 0.85 ? 1 : 0));
      const markers = { data: mk, height: h, width: w };
      const got = watershed(s, markers, mask, { connectivity: eight ? 2 : 1 }).data;
      expect(got).toEqual(referenceWatershed(s, markers, mask, eight));
    });
  }
});

describe('watershed errors', () => {
  const s = mapOf([[0, 1, 2]]);
  const k = labelsOf([[1, 0, 0]]);
  const catchErr = (f: () => unknown): ImageError => {
    try {
      f();
    } catch (e) {
      if (e instanceof ImageError) return e;
      throw e;
    }
    throw new Error('expected an ImageError');
  };
  it('markers of another shape → shape-mismatch naming both shapes', () => {
    const e = catchErr(() => watershed(s, labelsOf([[1], [0], [0]])));
    expect(e.code).toBe('shape-mismatch');
    expect(e.message).toBe('surface has shape [1, 3] but markers has shape [3, 1]; they must match');
  });
  it('mask of the wrong length → shape-mismatch', () => {
    const e = catchErr(() => watershed(s, k, new Uint8Array(4)));
    expect(e.code).toBe('shape-mismatch');
    expect(e.message).toMatch(/mask has 4 values but surface has shape \[1, 3\]/);
  });
  it('bad connectivity → bad-argument', () => {
    expect(catchErr(() => watershed(s, k, undefined, { connectivity: 4 as 1 })).message).toMatch(
      /'connectivity' must be 1 .* got 4/,
    );
  });
  it('a surface that is not float32 → bad-argument', () => {
    const f64 = { data: Float64Array.from([0, 1, 2]), height: 1, width: 3 } as unknown as FloatMap;
    expect(catchErr(() => watershed(f64, k)).message).toBe(
      'surface: data must be a Float32Array, got Float64Array',
    );
  });
  it('NaN in the surface → bad-argument naming the pixel', () => {
    const e = catchErr(() => watershed(mapOf([[0, NaN, 1]]), k));
    expect(e.code).toBe('bad-argument');
    expect(e.message).toBe('surface: value at [0, 1] is NaN; need finite values');
  });
});

describe('watershed on disks', () => {
  it('floods -outer from the disk centres back to the disks', () => {
    const disks = [
      { cy: 15, cx: 15, r: 9 },
      { cy: 15, cx: 33, r: 9 },
      { cy: 34, cx: 22, r: 8 },
    ];
    const maps = diskDistanceMaps(disks, 45, 50);
    const markers = new Uint32Array(45 * 50);
    disks.forEach((d, k) => (markers[d.cy * 50 + d.cx] = k + 1));
    const mask = Uint8Array.from(maps.fg.data, (v) => (v > 0 ? 1 : 0));
    const neg = { data: maps.outer.data.map((v) => -v), height: 45, width: 50 };
    const out = watershed(neg, { data: markers, height: 45, width: 50 }, mask);
    expect(countObjects(out)).toBe(3);
    let differ = 0;
    for (let i = 0; i < out.data.length; i++) if (out.data[i] !== maps.labels.data[i]) differ++;
    // Only pixels on the line where two disks touch may go either way.
    expect(differ).toBeLessThanOrEqual(4);
  });
});

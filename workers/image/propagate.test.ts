import { describe, expect, it } from 'vitest';
import { cellsFromNuclei, otsuThreshold, propagate } from './propagate.js';
import { labelsOf, mapOf, rowsOf } from './grids.test-helpers.js';

describe('propagate (CellProfiler Propagate: step cost sqrt(ΔI² + λ·|Δp|²))', () => {
  it('on a flat image splits by distance (Voronoi)', () => {
    // seeds at x = 0 and x = 5; x = 2 is 2 steps from seed 1, 3 from seed 2; x = 3 the other way round
    const out = propagate(labelsOf([[1, 0, 0, 0, 0, 2]]), mapOf([[0, 0, 0, 0, 0, 0]]), undefined, {
      lambda: 1,
    });
    expect(rowsOf(out)).toEqual([[1, 1, 1, 2, 2, 2]]);
  });

  it('stops at an intensity step: the border moves to the edge, not the midpoint', () => {
    // λ = 1. x = 3: from seed 1, 3 steps of cost 1 = 3; from seed 2, 1 + sqrt(10² + 1) = 11.05 → seed 1.
    // x = 4: from seed 1, 3 + 10.05 = 13.05; from seed 2, 1 → seed 2.
    const out = propagate(labelsOf([[1, 0, 0, 0, 0, 2]]), mapOf([[0, 0, 0, 0, 10, 10]]), undefined, {
      lambda: 1,
    });
    expect(rowsOf(out)).toEqual([[1, 1, 1, 1, 2, 2]]);
  });

  it('a bright ridge between two seeds is not crossed although it is nearer', () => {
    // 3×5, a membrane (value 5) in column 2; seed 1 at (1,0), seed 2 at (1,4). The ridge column itself goes
    // to whichever side reaches it first at equal cost: (ΔI = 5 both ways) — seed 1, pushed first.
    const image = mapOf([
      [0, 0, 5, 0, 0],
      [0, 0, 5, 0, 0],
      [0, 0, 5, 0, 0],
    ]);
    const out = propagate(
      labelsOf([
        [0, 0, 0, 0, 0],
        [1, 0, 0, 0, 2],
        [0, 0, 0, 0, 0],
      ]),
      image,
      undefined,
      { lambda: 0.05 },
    );
    expect(rowsOf(out)).toEqual([
      [1, 1, 1, 2, 2],
      [1, 1, 1, 2, 2],
      [1, 1, 1, 2, 2],
    ]);
  });

  it('keeps to the mask: pixels outside it, or cut off from every seed, stay 0; seeds keep their ids', () => {
    const flat = mapOf([[0, 0, 0, 0, 0, 0]]);
    // x = 2 is outside the mask: x = 3..5 cannot be reached from the one seed
    expect(
      rowsOf(propagate(labelsOf([[7, 0, 0, 0, 0, 0]]), flat, Uint8Array.from([1, 1, 0, 1, 1, 1]))),
    ).toEqual([[7, 7, 0, 0, 0, 0]]);
    // seed 3 at x = 5 lies outside the mask: it keeps its id and grows into the mask from there
    expect(
      rowsOf(propagate(labelsOf([[7, 0, 0, 0, 0, 3]]), flat, Uint8Array.from([1, 1, 0, 1, 1, 0]))),
    ).toEqual([[7, 7, 0, 3, 3, 3]]);
  });

  it('refuses planes of different sizes and a bad λ', () => {
    expect(() => propagate(labelsOf([[1, 0]]), mapOf([[0, 0, 0]]))).toThrow(
      /seeds are 1×2 but the image is 1×3/,
    );
    expect(() => propagate(labelsOf([[1, 0]]), mapOf([[0, 0]]), undefined, { lambda: -1 })).toThrow(
      /lambda must be a number ≥ 0/,
    );
  });
});

describe('otsuThreshold', () => {
  it('splits where the between-class variance is largest (hand-computed)', () => {
    // [0 0 0 3 | 10 10]: w0 w1 (m0 − m1)² = 4/6 · 2/6 · (0.75 − 10)² = 19.0 beats [0 0 0 | 3 10 10]: 14.7
    const t = otsuThreshold([0, 0, 0, 3, 10, 10]);
    expect(t).toBeGreaterThanOrEqual(3);
    expect(t).toBeLessThan(10);
    const u = otsuThreshold([1, 1, 1, 1, 9, 9, 9, 9]);
    expect(u).toBeGreaterThanOrEqual(1);
    expect(u).toBeLessThan(9);
    expect(otsuThreshold([4, 4, 4])).toBe(4);
  });
});

describe('cellsFromNuclei', () => {
  it('grows two nuclei into their cells up to the membrane and the foreground edge; ids kept', () => {
    // 9×13: two cells side by side, each a 7×5 block of cytoplasm (membrane channel 0.3) with a bright border
    // (1.0) shared in column 6; background (0) around. Nuclei: 1×1 at the cells' centres.
    const h = 9;
    const w = 13;
    const membrane = new Float32Array(h * w);
    const nuclei = new Uint32Array(h * w);
    for (let y = 1; y <= 7; y++)
      for (let x = 1; x <= 11; x++)
        membrane[y * w + x] = y === 1 || y === 7 || x === 1 || x === 6 || x === 11 ? 1 : 0.3;
    for (const [id, x] of [
      [4, 3],
      [9, 9],
    ] as const) {
      nuclei[4 * w + x] = id;
    }
    const cells = cellsFromNuclei(
      { data: nuclei, height: h, width: w },
      { data: membrane, height: h, width: w },
      { foregroundSigma: 0, membraneSigma: 0 },
    );
    const at = (y: number, x: number) => cells.data[y * w + x];
    expect([at(4, 3), at(4, 9)]).toEqual([4, 9]); // each cell holds its nucleus, same id
    for (let y = 2; y <= 6; y++) {
      for (let x = 2; x <= 5; x++) expect(at(y, x)).toBe(4);
      for (let x = 7; x <= 10; x++) expect(at(y, x)).toBe(9);
    }
    expect(at(0, 0)).toBe(0); // background stays out
    expect(new Set(cells.data)).toEqual(new Set([0, 4, 9]));
  });
});

import { describe, expect, it } from 'vitest';
import {
  connectedComponents,
  countObjects,
  fillHoles,
  objectAreas,
  rankLabels,
  relabelSequential,
  removeSmallObjects,
} from './labels.js';
import { ImageError, type Labels } from './types.js';

/** Rows of digits → a Labels/mask; '.' = 0. */
function grid(rows: string[]): Labels {
  const height = rows.length;
  const width = rows[0]!.length;
  const data = new Uint32Array(height * width);
  rows.forEach((row, y) => [...row].forEach((c, x) => (data[y * width + x] = c === '.' ? 0 : Number(c))));
  return { data, height, width };
}
const rowsOf = (l: Labels): string[] =>
  Array.from({ length: l.height }, (_, y) =>
    [...l.data.subarray(y * l.width, (y + 1) * l.width)].map((v) => (v === 0 ? '.' : String(v))).join(''),
  );
const maskOf = (rows: string[]): Uint8Array => Uint8Array.from(grid(rows).data, (v) => (v ? 1 : 0));

describe('connectedComponents', () => {
  const rows = ['11..1', '1...1', '..1..', '.1...'];
  it('8-connectivity joins corner neighbours; ids in raster order of first pixel', () => {
    expect(rowsOf(connectedComponents(maskOf(rows), 4, 5, 2))).toEqual(['11..2', '1...2', '..3..', '.3...']);
  });
  it('4-connectivity keeps corner neighbours apart', () => {
    expect(rowsOf(connectedComponents(maskOf(rows), 4, 5, 1))).toEqual(['11..2', '1...2', '..3..', '.4...']);
  });
  it('defaults to 8-connectivity (skimage label in 2-D)', () => {
    expect(rowsOf(connectedComponents(maskOf(rows), 4, 5))).toEqual(['11..2', '1...2', '..3..', '.3...']);
  });
  it('merges a U shape whose arms meet late (union of provisional labels)', () => {
    expect(rowsOf(connectedComponents(maskOf(['1.1.1', '1.1.1', '11111']), 3, 5, 1))).toEqual([
      '1.1.1',
      '1.1.1',
      '11111',
    ]);
  });
  it('empty mask → zeros; full mask → one component; 0-pixel mask → empty', () => {
    expect([...connectedComponents(new Uint8Array(6), 2, 3, 1).data]).toEqual([0, 0, 0, 0, 0, 0]);
    expect([...connectedComponents(new Uint8Array(6).fill(7), 2, 3, 1).data]).toEqual([1, 1, 1, 1, 1, 1]);
    expect(connectedComponents(new Uint8Array(0), 0, 4, 1).data.length).toBe(0);
  });
  it('throws shape-mismatch when the mask length is not H*W', () => {
    expect(() => connectedComponents(new Uint8Array(5), 2, 3, 1)).toThrow(
      /5 values but its shape \[2, 3\] needs 6/,
    );
    try {
      connectedComponents(new Uint8Array(5), 2, 3, 1);
    } catch (e) {
      expect(e).toBeInstanceOf(ImageError);
      expect((e as ImageError).code).toBe('shape-mismatch');
    }
  });
  it('throws bad-argument for a bad connectivity or a negative/fractional size', () => {
    expect(() => connectedComponents(new Uint8Array(6), 2, 3, 3 as 1)).toThrow(
      /'connectivity' must be 1 .* got 3/,
    );
    expect(() => connectedComponents(new Uint8Array(0), -1, 0, 1)).toThrow(/integers >= 0, got \[-1, 0\]/);
    expect(() => connectedComponents(new Uint8Array(3), 1.5, 2, 1)).toThrow(ImageError);
  });
});

describe('relabelSequential / countObjects / objectAreas / rankLabels', () => {
  const l = grid(['7.7', '.3.', '99.']);
  it('keeps order: smallest id → 1', () => {
    expect(rowsOf(relabelSequential(l))).toEqual(['2.2', '.1.', '33.']);
    expect(countObjects(l)).toBe(3);
    expect([...objectAreas(l)]).toEqual([
      [3, 1],
      [7, 2],
      [9, 2],
    ]);
  });
  it('handles ids too large for a lookup table (sparse path)', () => {
    const big = { data: Uint32Array.from([0, 4_000_000_000, 5, 4_000_000_000, 0, 5]), height: 2, width: 3 };
    expect([...relabelSequential(big).data]).toEqual([0, 2, 1, 2, 0, 1]);
    expect([...rankLabels(big.data).ids]).toEqual([5, 4_000_000_000]);
    expect(countObjects(big)).toBe(2);
  });
  it('countObjects: the distinct non-zero ids, with or without background, with gaps', () => {
    expect(countObjects(grid(['12', '21']))).toBe(2);
    expect(countObjects({ data: Uint32Array.from([9, 0, 9, 2, 2, 40]), height: 2, width: 3 })).toBe(3);
    // ids past the first table (4096) and past its doubling, seen again after others
    const ids = [5000, 0, 70_000, 5000, 3, 70_000, 70_000, 0];
    expect(countObjects({ data: Uint32Array.from(ids), height: 2, width: 4 })).toBe(3);
  });
  it('all background → no objects, zeros back', () => {
    const empty = grid(['...', '...']);
    expect(countObjects(empty)).toBe(0);
    expect(objectAreas(empty).size).toBe(0);
    expect([...relabelSequential(empty).data]).toEqual([0, 0, 0, 0, 0, 0]);
  });
  it('throws shape-mismatch for a bad data length', () => {
    const bad = { data: new Uint32Array(3), height: 2, width: 2 };
    expect(() => relabelSequential(bad)).toThrow(/3 values but its shape \[2, 2\] needs 4/);
    expect(() => countObjects(bad)).toThrow(ImageError);
    expect(() => objectAreas(bad)).toThrow(ImageError);
    expect(() => removeSmallObjects(bad, 2)).toThrow(ImageError);
    expect(() => fillHoles(bad, 2)).toThrow(ImageError);
  });
});

describe('removeSmallObjects', () => {
  const l = grid(['11.2', '11.2', '...3', '4..3']);
  it('removes ids with area < minSize (strict), keeps ids', () => {
    expect(rowsOf(removeSmallObjects(l, 2))).toEqual(['11.2', '11.2', '...3', '...3']);
    expect(rowsOf(removeSmallObjects(l, 3))).toEqual(['11..', '11..', '....', '....']);
  });
  it('counts an id over disconnected pieces together', () => {
    expect(rowsOf(removeSmallObjects(grid(['5..5']), 2))).toEqual(['5..5']);
  });
  it('minSize 0 and 1 remove nothing and do not mutate the input', () => {
    expect(rowsOf(removeSmallObjects(l, 0))).toEqual(rowsOf(l));
    const out = removeSmallObjects(l, 5);
    expect(out.data).not.toBe(l.data);
    expect(rowsOf(l)).toEqual(['11.2', '11.2', '...3', '4..3']);
  });
  it('throws bad-argument for a negative or fractional minSize', () => {
    expect(() => removeSmallObjects(l, -1)).toThrow(/'minSize' must be an integer >= 0, got -1/);
    expect(() => removeSmallObjects(l, 2.5)).toThrow(/got 2.5/);
  });
});

describe('fillHoles', () => {
  const l = grid([
    '......', //
    '.1111.',
    '.1..1.',
    '.1111.',
    '......',
  ]);
  it('fills a hole smaller than maxHoleSize with the surrounding id', () => {
    expect(rowsOf(fillHoles(l, 3))).toEqual(['......', '.1111.', '.1111.', '.1111.', '......']);
  });
  it('keeps a hole of exactly maxHoleSize or larger', () => {
    expect(rowsOf(fillHoles(l, 2))).toEqual(rowsOf(l));
  });
  it('leaves background enclosed by two objects, or open to the border, alone', () => {
    const two = grid(['.1122.', '.1.22.', '.1122.']);
    expect(rowsOf(fillHoles(two, 10))).toEqual(rowsOf(two));
    const open = grid(['1.1', '1.1', '111']);
    expect(rowsOf(fillHoles(open, 10))).toEqual(rowsOf(open));
  });
  it('uses 4-connectivity for holes: a diagonal gap does not leak', () => {
    const diag = grid(['11111', '1.111', '11.11', '11111']);
    expect(rowsOf(fillHoles(diag, 2))).toEqual(['11111', '11111', '11111', '11111']);
  });
  it('throws bad-argument for a bad maxHoleSize', () => {
    expect(() => fillHoles(l, -3)).toThrow(/'maxHoleSize' must be an integer >= 0, got -3/);
  });
});

import { describe, expect, it } from 'vitest';
import { minCostAssignment } from './assignment.js';
import { seededRandom } from './synthetic-nuclei.js';
import { ImageError } from './types.js';

/** Lowest total cost over every injective map of the smaller side into the larger, by enumeration. */
function bruteMin(cost: Float64Array, rows: number, cols: number): number {
  let best = Infinity;
  const usedCols = new Array<boolean>(cols).fill(false);
  const usedRows = new Array<boolean>(rows).fill(false);
  const go = (r: number, acc: number, assigned: number): void => {
    if (assigned === Math.min(rows, cols)) {
      best = Math.min(best, acc);
      return;
    }
    if (r === rows) return;
    if (rows - r > Math.min(rows, cols) - assigned) go(r + 1, acc, assigned); // leave row r out
    for (let c = 0; c < cols; c++) {
      if (usedCols[c]) continue;
      usedCols[c] = usedRows[r] = true;
      go(r + 1, acc + cost[r * cols + c]!, assigned + 1);
      usedCols[c] = usedRows[r] = false;
    }
  };
  go(0, 0, 0);
  return best;
}

describe('minCostAssignment', () => {
  it('solves a 3x3 by hand: greedy would take the 1 and pay 10 later', () => {
    const cost = Float64Array.from([1, 2, 10, 2, 10, 10, 10, 10, 1]);
    expect([...minCostAssignment(cost, 3, 3)]).toEqual([1, 0, 2]);
  });
  const rand = seededRandom(11);
  for (const [r, c] of [
    [1, 1],
    [4, 4],
    [3, 6],
    [6, 3],
    [5, 5],
  ] as const) {
    it(`reaches the brute-force optimum on random ${r}x${c} matrices`, () => {
      for (let trial = 0; trial < 20; trial++) {
        const cost = Float64Array.from({ length: r * c }, () => Math.round(rand() * 20 - 10) / 2);
        const colOfRow = minCostAssignment(cost, r, c);
        const cols = [...colOfRow].filter((x) => x >= 0);
        expect(cols.length).toBe(Math.min(r, c));
        expect(new Set(cols).size).toBe(cols.length);
        const total = [...colOfRow].reduce((s, col, row) => (col < 0 ? s : s + cost[row * c + col]!), 0);
        expect(total).toBeCloseTo(bruteMin(cost, r, c), 9);
      }
    });
  }
  it('handles empty matrices', () => {
    expect(minCostAssignment(new Float64Array(0), 0, 3).length).toBe(0);
    expect([...minCostAssignment(new Float64Array(0), 2, 0)]).toEqual([-1, -1]);
  });
  it('throws for a wrong length, a bad size or a non-finite cost', () => {
    expect(() => minCostAssignment(new Float64Array(5), 2, 3)).toThrow(
      /cost has 5 values but \[2, 3\] needs 6/,
    );
    expect(() => minCostAssignment(new Float64Array(2), 2, 1.5)).toThrow(
      /'cols' must be an integer >= 0, got 1.5/,
    );
    expect(() => minCostAssignment(Float64Array.from([0, NaN]), 1, 2)).toThrow(ImageError);
    expect(() => minCostAssignment(Float64Array.from([0, Infinity]), 1, 2)).toThrow(/cost\[1\] is Infinity/);
  });
});

/**
 * Optimal assignment (the Hungarian algorithm, Kuhn-Munkres with potentials; O(r^2 c) for r <= c), like
 * `scipy.optimize.linear_sum_assignment`.
 */
import { assertInteger } from './array-checks.js';
import { ImageError } from './types.js';

/**
 * Minimum-cost assignment for a rows x cols cost matrix (row-major, finite values). Every row is assigned
 * a distinct column when rows <= cols; otherwise every column gets a distinct row and the extra rows stay
 * unassigned. Returns `colOfRow` (length rows; -1 = unassigned). Ties: any optimal assignment (the one the
 * algorithm reaches first; deterministic for a given matrix).
 * Throws ImageError 'shape-mismatch' if cost.length != rows * cols, 'bad-argument' for a non-finite cost.
 */
export function minCostAssignment(cost: Float64Array, rows: number, cols: number): Int32Array {
  assertInteger('rows', rows, 0);
  assertInteger('cols', cols, 0);
  if (cost.length !== rows * cols) {
    throw new ImageError(
      'shape-mismatch',
      `cost has ${cost.length} values but [${rows}, ${cols}] needs ${rows * cols}`,
    );
  }
  for (let i = 0; i < cost.length; i++) {
    if (!Number.isFinite(cost[i]!))
      throw new ImageError('bad-argument', `cost[${i}] is ${cost[i]}; need finite costs`);
  }
  if (rows > cols) {
    // Solve the transpose (columns as rows), then invert the answer.
    const t = new Float64Array(cost.length);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = cost[r * cols + c]!;
    const rowOfCol = minCostAssignment(t, cols, rows);
    const colOfRow = new Int32Array(rows).fill(-1);
    rowOfCol.forEach((r, c) => (colOfRow[r] = c));
    return colOfRow;
  }
  const n = rows;
  const m = cols;
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const rowOf = new Int32Array(m + 1); // rowOf[j]: 1-based row assigned to 1-based column j; 0 = none
  const way = new Int32Array(m + 1);
  const minv = new Float64Array(m + 1);
  const used = new Uint8Array(m + 1);
  for (let i = 1; i <= n; i++) {
    rowOf[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = rowOf[j0]!;
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = cost[(i0 - 1) * m + (j - 1)]! - u[i0]! - v[j]!;
        if (cur < minv[j]!) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j]! < delta) {
          delta = minv[j]!;
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[rowOf[j]!]! += delta;
          v[j]! -= delta;
        } else {
          minv[j]! -= delta;
        }
      }
      j0 = j1;
    } while (rowOf[j0] !== 0);
    do {
      const j1 = way[j0]!;
      rowOf[j0] = rowOf[j1]!;
      j0 = j1;
    } while (j0 !== 0);
  }
  const colOfRow = new Int32Array(n).fill(-1);
  for (let j = 1; j <= m; j++) if (rowOf[j]! > 0) colOfRow[rowOf[j]! - 1] = j - 1;
  return colOfRow;
}

/**
 * Hand-written grids for the image tests: a label image or a float map from rows of numbers, and a label
 * image back to rows (for toEqual against the expected rows).
 */
import type { FloatMap, Labels } from './types.js';

/** Labels [rows.length, rows[0].length] from rows of ids. */
export const labelsOf = (rows: number[][]): Labels => ({
  data: Uint32Array.from(rows.flat()),
  height: rows.length,
  width: rows[0]!.length,
});

/** A float map [rows.length, rows[0].length] from rows of values. */
export const mapOf = (rows: number[][]): FloatMap => ({
  data: Float32Array.from(rows.flat()),
  height: rows.length,
  width: rows[0]!.length,
});

/** The rows of a label image, top to bottom. */
export const rowsOf = (l: Labels): number[][] =>
  Array.from({ length: l.height }, (_, y) => [...l.data.subarray(y * l.width, (y + 1) * l.width)]);

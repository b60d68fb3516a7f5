import { describe, expect, it } from 'vitest';
import { cellsFromForeground } from './propagate.js';
import { ImageError } from './types.js';
import { labelsOf, mapOf, rowsOf } from './grids.test-helpers.js';

describe('cellsFromForeground', () => {
  const nuclei = labelsOf([
    [0, 0, 0, 0, 0, 0],
    [0, 1, 0, 0, 2, 0],
    [0, 0, 0, 0, 0, 0],
  ]);
  const flat = mapOf([
    [0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0],
  ]);

  it('grows each nucleus over foreground > threshold only; nuclei are in even where the model says no', () => {
    const fg = mapOf([
      [0.9, 0.9, 0.9, 0.2, 0.2, 0.2],
      [0.9, 0.1, 0.9, 0.9, 0.1, 0.2],
      [0.9, 0.9, 0.9, 0.5, 0.2, 0.2],
    ]);
    // flat image: the split is by distance (Voronoi); 0.5 is not above the threshold 0.5
    expect(rowsOf(cellsFromForeground(nuclei, fg, flat, { imageSigma: 0 }))).toEqual([
      [1, 1, 1, 0, 0, 0],
      [1, 1, 1, 2, 2, 0],
      [1, 1, 1, 0, 0, 0],
    ]);
    expect(rowsOf(cellsFromForeground(nuclei, fg, flat, { imageSigma: 0, threshold: 0.15 }))).toEqual([
      [1, 1, 1, 2, 2, 2],
      [1, 1, 1, 2, 2, 2],
      [1, 1, 1, 2, 2, 2],
    ]);
  });

  it('the image decides where touching cells meet: a bright boundary column is crossed last', () => {
    const fg = mapOf([
      [1, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, 1, 1],
    ]);
    const boundary = mapOf([
      [0, 0, 0, 0, 1, 0],
      [0, 0, 0, 0, 1, 0],
      [0, 0, 0, 0, 1, 0],
    ]);
    // by distance alone, columns 0-2 | 3-5 (column 2-3 tie); the boundary at column 4 moves the split there
    const cells = cellsFromForeground(
      labelsOf([
        [0, 0, 0, 0, 0, 0],
        [0, 1, 0, 0, 0, 2],
        [0, 0, 0, 0, 0, 0],
      ]),
      fg,
      boundary,
      { imageSigma: 0 },
    );
    expect(rowsOf(cells).map((r) => r.slice(0, 4))).toEqual([
      [1, 1, 1, 1],
      [1, 1, 1, 1],
      [1, 1, 1, 1],
    ]);
    expect(rowsOf(cells).map((r) => r[5])).toEqual([2, 2, 2]);
  });

  it('refuses planes of different sizes and a threshold that is not a number, showing them', () => {
    const small = mapOf([[0.9]]);
    expect(() => cellsFromForeground(nuclei, small, flat)).toThrow(ImageError);
    expect(() => cellsFromForeground(nuclei, small, flat)).toThrow(
      /nuclei are 3×6 but the foreground is 1×1/,
    );
    expect(() => cellsFromForeground(nuclei, flat, flat, { threshold: Number.NaN })).toThrow(
      /threshold must be a finite number; got NaN/,
    );
  });
});

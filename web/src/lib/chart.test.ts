import { describe, expect, it } from 'vitest';
import { layoutChart } from './chart.js';

describe('layoutChart', () => {
  it('maps the shared x/y range onto the box, y pointing up', () => {
    const l = layoutChart(
      [
        {
          label: 'loss',
          points: [
            { x: 1, y: 2 },
            { x: 2, y: 1 },
            { x: 3, y: 0 },
          ],
        },
        { label: 'val', points: [{ x: 1, y: 1 }] },
      ],
      { width: 120, height: 70, pad: 10 },
    );
    expect(l).toMatchObject({ xMin: 1, xMax: 3, yMin: 0, yMax: 2 });
    expect(l.paths[0]).toBe('M10,10 L60,35 L110,60');
    expect(l.paths[1]).toBe('M10,35');
    expect(l.points[1]).toEqual([[10, 35]]);
  });

  it('skips non-finite points and gives an empty path for an empty series', () => {
    const l = layoutChart(
      [
        {
          label: 'a',
          points: [
            { x: 1, y: Number.NaN },
            { x: 2, y: 4 },
            { x: 3, y: 6 },
          ],
        },
        { label: 'b', points: [] },
      ],
      { width: 100, height: 100, pad: 0 },
    );
    expect(l.paths).toEqual(['M0,100 L100,0', '']);
  });

  it('widens a single value so a flat line sits in the middle, and defaults to [0, 1] with no data', () => {
    const flat = layoutChart([{ label: 'a', points: [{ x: 5, y: 0.2 }] }], {
      width: 100,
      height: 100,
      pad: 0,
    });
    expect(flat).toMatchObject({ xMin: 2.5, xMax: 7.5, yMin: -0.3, yMax: 0.7 });
    expect(flat.paths[0]).toBe('M50,50');
    expect(layoutChart([], { width: 10, height: 10 })).toMatchObject({ xMin: 0, xMax: 1, yMin: 0, yMax: 1 });
  });

  it('uses a fixed y range when given (scores in [0, 1]), even for flat data', () => {
    const l = layoutChart(
      [
        {
          label: 'f1',
          points: [
            { x: 1, y: 0 },
            { x: 2, y: 0 },
          ],
        },
      ],
      { width: 100, height: 100, pad: 0, yRange: [0, 1] },
    );
    expect(l).toMatchObject({ yMin: 0, yMax: 1 });
    expect(l.paths[0]).toBe('M0,100 L100,100');
  });

  it('uses a fixed x range when given, so a first epoch sits at the left of the planned axis', () => {
    const l = layoutChart([{ label: 'loss', points: [{ x: 1, y: 3 }] }], {
      width: 100,
      height: 100,
      pad: 0,
      xRange: [1, 5],
    });
    expect(l).toMatchObject({ xMin: 1, xMax: 5 });
    expect(l.points[0]).toEqual([[0, 50]]);
  });

  it('issue 23 #4: a loss chart with one epoch (yFloor 0) has no negative axis; fixed ranges are kept', () => {
    const one = [{ label: 'loss', points: [{ x: 1, y: 0.12 }] }];
    expect(layoutChart(one, { width: 100, height: 100 })).toMatchObject({ yMin: 0.12 - 0.5, yMax: 0.62 });
    expect(layoutChart(one, { width: 100, height: 100, yFloor: 0 })).toMatchObject({ yMin: 0, yMax: 0.62 });
    const two = [
      {
        label: 'loss',
        points: [
          { x: 1, y: 0.3 },
          { x: 2, y: 0.2 },
        ],
      },
    ];
    expect(layoutChart(two, { width: 100, height: 100, yFloor: 0 })).toMatchObject({ yMin: 0.2, yMax: 0.3 });
    expect(layoutChart([], { width: 100, height: 100, yFloor: 0 })).toMatchObject({ yMin: 0, yMax: 1 });
    expect(layoutChart(one, { width: 100, height: 100, yFloor: 0, yRange: [-1, 1] })).toMatchObject({
      yMin: -1,
      yMax: 1,
    });
  });
});

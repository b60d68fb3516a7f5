/**
 * Line charts for the Train page (loss and validation per epoch) as SVG path data. Pure: numbers in,
 * strings out; the page puts them in an <svg>.
 */

export interface Series {
  readonly label: string;
  /** y per x; x is the epoch (any finite numbers; points with a non-finite x or y are skipped). */
  readonly points: readonly { readonly x: number; readonly y: number }[];
}

export interface ChartBox {
  readonly width: number;
  readonly height: number;
  /** Space for axis labels, in px. @default 32 */
  readonly pad?: number;
  /**
   * Fixed y range (e.g. [0, 1] for scores); points outside are drawn outside the box.
   * @default - the data's range
   */
  readonly yRange?: readonly [number, number];
  /** Fixed x range (e.g. [1, planned epochs] while training runs). @default - the data's range */
  readonly xRange?: readonly [number, number];
  /**
   * Lowest value the y axis may show when the range comes from the data (e.g. 0 for a loss, which is
   * never negative: one point's widened range would otherwise reach below 0). @default - none
   */
  readonly yFloor?: number;
}

export interface ChartLayout {
  /** `d` attribute per series, same order; '' for a series with no finite points. */
  readonly paths: string[];
  /** Box coordinates [x, y] of each series' finite points (for point markers; a lone point has no line). */
  readonly points: [number, number][][];
  readonly xMin: number;
  readonly xMax: number;
  readonly yMin: number;
  readonly yMax: number;
}

/**
 * Scales every series into the same box (y up). The ranges cover all finite points of all series; a range
 * of one value v is widened to v ± max(0.5, |v|/2) so a flat line
 * draws in the middle, then cut at `yFloor`. With no points at all the ranges are [0, 1].
 */
export function layoutChart(series: readonly Series[], box: ChartBox): ChartLayout {
  const pad = box.pad ?? 32;
  const pts = series.flatMap((s) => s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)));
  let [xMin, xMax] = extent(pts.map((p) => p.x));
  let [yMin, yMax] = extent(pts.map((p) => p.y));
  if (box.xRange && box.xRange[1] > box.xRange[0]) [xMin, xMax] = box.xRange;
  else if (xMin === xMax) [xMin, xMax] = widen(xMin);
  if (box.yRange && box.yRange[1] > box.yRange[0]) [yMin, yMax] = box.yRange;
  else {
    if (yMin === yMax) [yMin, yMax] = widen(yMin);
    if (box.yFloor !== undefined && yMin < box.yFloor) {
      yMin = box.yFloor;
      if (yMax <= yMin) yMax = yMin + 1;
    }
  }
  const w = Math.max(1, box.width - 2 * pad);
  const h = Math.max(1, box.height - 2 * pad);
  const sx = (x: number) => pad + ((x - xMin) / (xMax - xMin)) * w;
  const sy = (y: number) => pad + h - ((y - yMin) / (yMax - yMin)) * h;
  const points = series.map((s) =>
    s.points
      .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y))
      .map((p): [number, number] => [round(sx(p.x)), round(sy(p.y))]),
  );
  const paths = points.map((ps) => ps.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${x},${y}`).join(' '));
  return { paths, points, xMin, xMax, yMin, yMax };
}

function extent(v: number[]): [number, number] {
  if (v.length === 0) return [0, 1];
  return [Math.min(...v), Math.max(...v)];
}

function widen(v: number): [number, number] {
  const d = Math.max(0.5, Math.abs(v) / 2);
  return [v - d, v + d];
}

const round = (v: number) => Math.round(v * 10) / 10;

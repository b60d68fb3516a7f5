/**
 * Whole-cell segmentation from nuclei, the classical way (CellProfiler's IdentifySecondaryObjects,
 * "Propagate"; Jones, Carpenter & Golland 2005, "Voronoi-based segmentation of cells on image manifolds"):
 * every nucleus grows over the foreground along the cheapest path on the image, one step from pixel p to a
 * neighbour q costing sqrt((I_p − I_q)² + λ·|p − q|²). A bright membrane between two cells is an expensive
 * ridge to cross, so each cell stops at its membrane; where the image is flat, λ makes the split a Voronoi
 * one (by distance). Pure functions on arrays; no input is changed.
 */
import { assertPlane } from './array-checks.js';
import { gaussianFilter } from './gaussian-filter.js';
import { fillHoles } from './labels.js';
import { ImageError, type FloatMap, type Labels } from './types.js';

export interface PropagateOptions {
  /**
   * λ, the weight of distance against intensity change (CellProfiler's "regularization factor"): 0 follows
   * the image only, a large λ gives Voronoi regions of the seeds. @default 0.05
   */
  readonly lambda?: number;
}

/** A binary min-heap of (cost, pixel); ties go to the entry pushed first, so results do not depend on luck. */
class CostHeap {
  private cost: number[] = [];
  private pixel: number[] = [];
  private order: number[] = [];
  private pushed = 0;
  get size(): number {
    return this.cost.length;
  }
  private less(a: number, b: number): boolean {
    return (
      this.cost[a]! < this.cost[b]! || (this.cost[a] === this.cost[b] && this.order[a]! < this.order[b]!)
    );
  }
  private swap(a: number, b: number): void {
    for (const arr of [this.cost, this.pixel, this.order]) [arr[a], arr[b]] = [arr[b]!, arr[a]!];
  }
  push(cost: number, pixel: number): void {
    this.cost.push(cost);
    this.pixel.push(pixel);
    this.order.push(this.pushed++);
    for (let i = this.cost.length - 1; i > 0;) {
      const up = (i - 1) >> 1;
      if (!this.less(i, up)) break;
      this.swap(i, up);
      i = up;
    }
  }
  /** Removes the cheapest entry; returns [cost, pixel]. */
  pop(): [number, number] {
    const top: [number, number] = [this.cost[0]!, this.pixel[0]!];
    const last = this.cost.length - 1;
    this.swap(0, last);
    this.cost.pop();
    this.pixel.pop();
    this.order.pop();
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < last && this.less(l, m)) m = l;
      if (r < last && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }
}

/**
 * Grows the objects of `seeds` over `mask` (1 = may belong to a cell; undefined = everywhere) along the
 * cheapest 8-connected paths on `image`, step cost sqrt((I_p − I_q)² + λ·|p − q|²) (|p − q|² = 1 or 2).
 * Each pixel takes the id of the seed it is cheapest to reach from (ties: the seed whose path got there
 * first); seed pixels keep their ids even outside the mask; pixels outside the mask, or cut off from every
 * seed within it, are 0. Ids are kept, so each object holds its seed.
 * Throws ImageError 'bad-argument' for planes of different sizes or a λ that is not a number ≥ 0.
 */
export function propagate(
  seeds: Labels,
  image: FloatMap,
  mask?: Uint8Array,
  opts: PropagateOptions = {},
): Labels {
  assertPlane('seeds', seeds);
  assertPlane('image', image);
  const { height: h, width: w } = seeds;
  if (image.height !== h || image.width !== w || (mask && mask.length !== h * w))
    throw new ImageError(
      'bad-argument',
      `propagate: seeds are ${h}×${w} but the image is ${image.height}×${image.width}` +
        (mask ? ` and the mask has ${mask.length} pixels` : ''),
    );
  const lambda = opts.lambda ?? 0.05;
  if (!(Number.isFinite(lambda) && lambda >= 0))
    throw new ImageError('bad-argument', `propagate: lambda must be a number ≥ 0; got ${lambda}`);
  const out = new Uint32Array(h * w);
  const best = new Float64Array(h * w).fill(Infinity);
  const claim = new Uint32Array(h * w); // the seed id whose path reached the pixel cheapest so far
  const heap = new CostHeap();
  for (let i = 0; i < h * w; i++) {
    if (seeds.data[i] === 0) continue;
    best[i] = 0;
    claim[i] = seeds.data[i]!;
    heap.push(0, i);
  }
  const I = image.data;
  while (heap.size > 0) {
    const [cost, p] = heap.pop();
    if (out[p] !== 0 || cost > best[p]!) continue; // settled already, or a stale entry
    out[p] = claim[p]!;
    const y = (p / w) | 0;
    const x = p - y * w;
    for (let dy = -1; dy <= 1; dy++) {
      const ny = y + dy;
      if (ny < 0 || ny >= h) continue;
      for (let dx = -1; dx <= 1; dx++) {
        const nx = x + dx;
        if ((dx === 0 && dy === 0) || nx < 0 || nx >= w) continue;
        const q = ny * w + nx;
        if (out[q] !== 0 || (mask && mask[q] === 0)) continue;
        const d = I[p]! - I[q]!;
        const c = cost + Math.sqrt(d * d + lambda * (dx !== 0 && dy !== 0 ? 2 : 1));
        if (c < best[q]!) {
          best[q] = c;
          claim[q] = out[p]!;
          heap.push(c, q);
        }
      }
    }
  }
  return { data: out, height: h, width: w };
}

/**
 * Otsu's threshold of `values` over a histogram of `bins` bins between their min and max: the bin edge that
 * maximizes the between-class variance; `v > t` is the upper class. NaN are skipped. All values equal: that
 * value (nothing is above it).
 */
export function otsuThreshold(values: ArrayLike<number>, bins = 256): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(hi > lo)) return lo;
  const hist = new Float64Array(bins);
  const scale = bins / (hi - lo);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v === v) hist[Math.min(bins - 1, Math.floor((v - lo) * scale))]!++;
  }
  const centre = (b: number) => lo + (b + 0.5) / scale;
  let total = 0;
  let sum = 0;
  for (let b = 0; b < bins; b++) {
    total += hist[b]!;
    sum += hist[b]! * centre(b);
  }
  let w0 = 0;
  let s0 = 0;
  let bestVar = -1;
  let bestBin = 0;
  for (let b = 0; b < bins - 1; b++) {
    w0 += hist[b]!;
    s0 += hist[b]! * centre(b);
    const w1 = total - w0;
    if (w0 === 0 || w1 === 0) continue;
    const m0 = s0 / w0;
    const m1 = (sum - s0) / w1;
    const between = w0 * w1 * (m0 - m1) * (m0 - m1);
    if (between > bestVar) {
      bestVar = between;
      bestBin = b;
    }
  }
  return lo + (bestBin + 1) / scale;
}

export interface WholeCellOptions extends PropagateOptions {
  /** Smoothing (σ, px) of the foreground estimate's image (bench whole-cell: σ 1 fits cells tighter than 2, DSB 0.679 vs 0.615 on synthetic cells). @default 1 */
  readonly foregroundSigma?: number;
  /** Smoothing (σ, px) of the membrane image the cells grow on. @default 1 */
  readonly membraneSigma?: number;
}

/**
 * Cells from nuclei (`nuclei`, ids kept) on a membrane/cytoplasm channel normalized to about [0, 1], as
 * CellProfiler thresholds its secondary image: the foreground is where the smoothed membrane channel is
 * above its Otsu threshold (holes filled, so a ring of membrane counts with its inside; nuclei always in),
 * and each nucleus grows over it on the membrane image smoothed less ({@link propagate}). Each cell holds
 * its nucleus, with the nucleus's id.
 */
export function cellsFromNuclei(nuclei: Labels, membrane: FloatMap, opts: WholeCellOptions = {}): Labels {
  const { height: h, width: w } = nuclei;
  const smooth = gaussianFilter(membrane, opts.foregroundSigma ?? 1).data;
  const t = otsuThreshold(smooth);
  const fg = new Uint32Array(h * w);
  for (let i = 0; i < fg.length; i++) fg[i] = smooth[i]! > t || nuclei.data[i] !== 0 ? 1 : 0;
  const filled = fillHoles({ data: fg, height: h, width: w }, h * w).data;
  const mask = new Uint8Array(h * w);
  for (let i = 0; i < mask.length; i++) mask[i] = filled[i] !== 0 ? 1 : 0;
  return propagate(nuclei, gaussianFilter(membrane, opts.membraneSigma ?? 1), mask, opts);
}

export interface ModelCellsOptions extends PropagateOptions {
  /** A pixel is foreground where the model's probability is above this. @default 0.5 */
  readonly threshold?: number;
  /** Smoothing (σ, px) of the image the cells grow on, as {@link cellsFromNuclei} smooths the membrane. @default 1 */
  readonly imageSigma?: number;
}

/**
 * Cells from nuclei (`nuclei`, ids kept) over a model's whole-cell foreground instead of the classical
 * estimate: the foreground is `foreground > threshold` (a probability map [H, W], nuclei always in, no hole
 * filling: the model says what is inside), and each nucleus grows over it by {@link propagate} on `image`
 * smoothed by σ `imageSigma` — the model's boundary probability when it has one, else the membrane channel.
 * Each cell holds its nucleus, with the nucleus's id; pixels the model calls background stay 0 unless they
 * are a nucleus's. Throws ImageError 'bad-argument' for planes of different sizes or a threshold that is
 * not a finite number.
 */
export function cellsFromForeground(
  nuclei: Labels,
  foreground: FloatMap,
  image: FloatMap,
  opts: ModelCellsOptions = {},
): Labels {
  assertPlane('nuclei', nuclei);
  assertPlane('foreground', foreground);
  const { height: h, width: w } = nuclei;
  if (foreground.height !== h || foreground.width !== w)
    throw new ImageError(
      'bad-argument',
      `cellsFromForeground: nuclei are ${h}×${w} but the foreground is ${foreground.height}×${foreground.width}`,
    );
  const t = opts.threshold ?? 0.5;
  if (!Number.isFinite(t))
    throw new ImageError('bad-argument', `cellsFromForeground: threshold must be a finite number; got ${t}`);
  const mask = new Uint8Array(h * w);
  for (let i = 0; i < mask.length; i++) mask[i] = foreground.data[i]! > t || nuclei.data[i] !== 0 ? 1 : 0;
  const sigma = opts.imageSigma ?? 1;
  return propagate(nuclei, sigma > 0 ? gaussianFilter(image, sigma) : image, mask, opts);
}

/**
 * Exact percentiles as numpy computes them (the default 'linear' method), found by a histogram and then
 * selection within a bin rather than a full sort: used by percentileNormalize (normalize.ts) and the
 * bioimage.io scale_range operation.
 */

/** Histogram resolution of the percentile search; 16-bit integer data lands one value per bin. */
const PERCENTILE_BINS = 65536;

/**
 * numpy.percentile(values, [low, high]) with the default linear method, for 0 <= low <= high <= 100 and a
 * non-empty array of finite values. Does not modify `values`.
 */
export function percentiles(values: Float32Array, low: number, high: number): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return stridedPercentiles(values, 0, 1, values.length, low, high, min, max);
}

/**
 * Percentiles of data[offset + i * stride], i < n, whose extremes are min and max. Exact: a 65536-bin
 * histogram over [min, max] locates the bins holding the needed ranks, then selection inside those bins
 * (two passes over the data; the selection touches few values unless one bin holds most of them).
 */
export function stridedPercentiles(
  data: Float32Array,
  offset: number,
  stride: number,
  n: number,
  low: number,
  high: number,
  min: number,
  max: number,
): [number, number] {
  if (min === max) return [min, max];
  const scale = PERCENTILE_BINS / (max - min);
  const top = PERCENTILE_BINS - 1;
  const counts = new Uint32Array(PERCENTILE_BINS);
  for (let i = 0, p = offset; i < n; i++, p += stride) {
    const b = Math.min(top, Math.floor(((data[p] as number) - min) * scale));
    counts[b] = (counts[b] as number) + 1;
  }
  const indexLow = (n - 1) * (low / 100);
  const indexHigh = (n - 1) * (high / 100);
  const kLow = Math.floor(indexLow);
  const kHigh = Math.floor(indexHigh);
  const ranks = [kLow, Math.min(kLow + 1, n - 1), kHigh, Math.min(kHigh + 1, n - 1)];
  // Bin and rank within the bin of each needed rank; one value buffer per distinct bin (slot).
  const slotOf = new Int8Array(PERCENTILE_BINS).fill(-1);
  const buffers: Float32Array[] = [];
  const located = ranks.map((rank) => {
    let before = 0;
    let b = 0;
    while (before + (counts[b] as number) <= rank) before += counts[b++] as number;
    if (slotOf[b] === -1) {
      slotOf[b] = buffers.length;
      buffers.push(new Float32Array(counts[b] as number));
    }
    return { slot: slotOf[b] as number, within: rank - before };
  });
  const filled = new Int32Array(buffers.length);
  for (let i = 0, p = offset; i < n; i++, p += stride) {
    const v = data[p] as number;
    const slot = slotOf[Math.min(top, Math.floor((v - min) * scale))] as number;
    if (slot >= 0) (buffers[slot] as Float32Array)[filled[slot]++] = v;
  }
  const [vLow, vLow1, vHigh, vHigh1] = located.map(({ slot, within }) => {
    const values = buffers[slot] as Float32Array;
    selectKth(values, within, 0, values.length - 1);
    return values[within] as number;
  }) as [number, number, number, number];
  return [lerp(vLow, vLow1, indexLow - kLow), lerp(vHigh, vHigh1, indexHigh - kHigh)];
}

/** numpy's _lerp: exact at both ends, symmetric rounding. */
function lerp(a: number, b: number, t: number): number {
  return t < 0.5 ? a + (b - a) * t : b - (b - a) * (1 - t);
}

/**
 * Rearranges a[lo..hi] so that a[k] holds the value it would have if sorted, with a[lo..k-1] <= a[k] <=
 * a[k+1..hi] (Hoare/Wirth selection, median-of-three pivot; sorts the range if partitioning stalls).
 */
function selectKth(a: Float32Array, k: number, lo: number, hi: number): void {
  let budget = 2 * Math.ceil(Math.log2(hi - lo + 2)) + 16;
  while (hi > lo) {
    if (budget-- === 0) {
      a.subarray(lo, hi + 1).sort();
      return;
    }
    const x = median3(a[lo] as number, a[(lo + hi) >>> 1] as number, a[hi] as number);
    let i = lo;
    let j = hi;
    do {
      while ((a[i] as number) < x) i++;
      while (x < (a[j] as number)) j--;
      if (i <= j) {
        const t = a[i] as number;
        a[i] = a[j] as number;
        a[j] = t;
        i++;
        j--;
      }
    } while (i <= j);
    if (j < k) lo = i;
    if (k < i) hi = j;
  }
}

function median3(a: number, b: number, c: number): number {
  return a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
}

/**
 * Label-image utilities, like scikit-image's `measure.label`, `morphology.remove_small_objects`,
 * `segmentation.relabel_sequential` and DeepCell's `fill_holes`.
 *
 * Label images are `Labels`: axes [H, W], row-major, Uint32 values, 0 = background, any other value = one
 * object (the value is its id; ids need not be sequential). Masks are Uint8Array [H, W], 0 = off, else on.
 * No function mutates its input; each returns a new `Labels`.
 */
import { assertConnectivity, assertInteger, assertPlane } from './array-checks.js';
import type { Labels } from './types.js';

/**
 * Labels the connected components of a mask, like `skimage.measure.label(mask, connectivity=...)`.
 * Components are numbered 1..N in raster order of their first pixel (top row first, then left to right).
 * connectivity 1: pixels touching by an edge are connected (4 neighbours); 2 (default): also by a corner (8).
 * An empty mask gives all zeros; an all-on mask gives one component.
 */
export function connectedComponents(
  mask: Uint8Array,
  height: number,
  width: number,
  connectivity: 1 | 2 = 2,
): Labels {
  assertPlane('mask', { data: mask, height, width });
  assertConnectivity(connectivity);
  const n = height * width;
  const provisional = new Int32Array(n);
  // parent[k] for provisional label k (1-based); union keeps the smaller label as the root.
  const parent = new Int32Array(n + 1);
  let next = 1;
  const find = (a: number): number => {
    let root = a;
    while (parent[root] !== root) root = parent[root]!;
    while (parent[a] !== root) {
      const up = parent[a]!;
      parent[a] = root;
      a = up;
    }
    return root;
  };
  const union = (a: number, b: number): number => {
    const ra = find(a);
    const rb = find(b);
    if (ra === rb) return ra;
    if (ra < rb) {
      parent[rb] = ra;
      return ra;
    }
    parent[ra] = rb;
    return rb;
  };
  const diagonal = connectivity === 2;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const i = row + x;
      if (mask[i] === 0) continue;
      // Neighbours already visited: left, up, and (8-connectivity) up-left and up-right.
      let label = 0;
      if (x > 0) {
        const l = provisional[i - 1]!;
        if (l !== 0) label = find(l);
      }
      if (y > 0) {
        const l = provisional[i - width]!;
        if (l !== 0) label = label === 0 ? find(l) : union(label, l);
        if (diagonal) {
          if (x > 0) {
            const d = provisional[i - width - 1]!;
            if (d !== 0) label = label === 0 ? find(d) : union(label, d);
          }
          if (x + 1 < width) {
            const d = provisional[i - width + 1]!;
            if (d !== 0) label = label === 0 ? find(d) : union(label, d);
          }
        }
      }
      if (label === 0) {
        label = next++;
        parent[label] = label;
      }
      provisional[i] = label;
    }
  }
  const final = new Uint32Array(next);
  const out = new Uint32Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const l = provisional[i]!;
    if (l === 0) continue;
    const root = find(l);
    if (final[root] === 0) final[root] = ++count;
    out[i] = final[root]!;
  }
  return { data: out, height, width };
}

/**
 * The distinct non-zero ids of a label image and, per pixel, the 1-based rank of its id among them.
 * `ids` is sorted ascending; `ranks[i] = k` means pixel i has id `ids[k - 1]` (0 = background).
 */
export function rankLabels(data: Uint32Array): { ranks: Uint32Array; ids: Uint32Array } {
  const n = data.length;
  let max = 0;
  for (let i = 0; i < n; i++) if (data[i]! > max) max = data[i]!;
  const ranks = new Uint32Array(n);
  if (max <= Math.max(1 << 20, 4 * n)) {
    // Dense: a table indexed by id.
    const table = new Uint32Array(max + 1);
    for (let i = 0; i < n; i++) table[data[i]!] = 1;
    table[0] = 0;
    let k = 0;
    for (let v = 1; v <= max; v++) if (table[v] !== 0) table[v] = ++k;
    const ids = new Uint32Array(k);
    for (let v = 1; v <= max; v++) if (table[v] !== 0) ids[table[v]! - 1] = v;
    for (let i = 0; i < n; i++) ranks[i] = table[data[i]!]!;
    return { ranks, ids };
  }
  // Sparse huge ids: a Map, consulted once per run of equal pixels.
  const seen = new Set<number>();
  let last = 0;
  for (let i = 0; i < n; i++) {
    const v = data[i]!;
    if (v !== last && v !== 0) seen.add(v);
    last = v;
  }
  const ids = Uint32Array.from(seen).sort();
  const rankOf = new Map<number, number>();
  ids.forEach((v, k) => rankOf.set(v, k + 1));
  last = 0;
  let lastRank = 0;
  for (let i = 0; i < n; i++) {
    const v = data[i]!;
    if (v !== last) {
      last = v;
      lastRank = v === 0 ? 0 : rankOf.get(v)!;
    }
    ranks[i] = lastRank;
  }
  return { ranks, ids };
}

/**
 * Renumbers the objects 1..N keeping their order: the smallest id becomes 1, the next 2, and so on
 * (`skimage.segmentation.relabel_sequential`). Background stays 0; an all-background image is returned as is.
 */
export function relabelSequential(labels: Labels): Labels {
  assertPlane('labels', labels);
  return { data: rankLabels(labels.data).ranks, height: labels.height, width: labels.width };
}

/** The number of distinct non-zero ids (0 for an all-background image). */
export function countObjects(labels: Labels): number {
  assertPlane('labels', labels);
  const data = labels.data;
  const n = data.length;
  const sparse = Math.max(1 << 20, 4 * n); // ids past this: a table per possible id would be too big
  // One pass, a byte per possible id (grown as larger ids show up), and a pixel equal to the one before
  // it — most pixels: objects and background lie in runs along a row — is not looked up at all. This runs
  // once per finished job, on the CPU worker.
  let seen = new Uint8Array(4096);
  seen[0] = 1; // background is not an object
  let count = 0;
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const v = data[i]!;
    if (v === prev) continue;
    prev = v;
    if (v >= seen.length) {
      if (v > sparse) return rankLabels(data).ids.length;
      const grown = new Uint8Array(Math.max(v + 1, 2 * seen.length));
      grown.set(seen);
      seen = grown;
    }
    if (seen[v] === 0) {
      seen[v] = 1;
      count++;
    }
  }
  return count;
}

/** Pixel count of each object, keyed by id, in ascending id order. Background is not included. */
export function objectAreas(labels: Labels): Map<number, number> {
  assertPlane('labels', labels);
  const { ranks, ids } = rankLabels(labels.data);
  const counts = new Float64Array(ids.length + 1);
  for (let i = 0; i < ranks.length; i++) counts[ranks[i]!]!++;
  const areas = new Map<number, number>();
  ids.forEach((id, k) => areas.set(id, counts[k + 1]!));
  return areas;
}

/**
 * Sets to 0 every object whose area (pixels carrying its id, connected or not) is < `minSize`, like
 * `skimage.morphology.remove_small_objects` on a label image. Ids are kept (not renumbered).
 * `minSize` 0 or 1 removes nothing. Throws ImageError 'bad-argument' if `minSize` is not an integer >= 0.
 */
export function removeSmallObjects(labels: Labels, minSize: number): Labels {
  assertPlane('labels', labels);
  assertInteger('minSize', minSize, 0);
  const { ranks, ids } = rankLabels(labels.data);
  const counts = new Float64Array(ids.length + 1);
  for (let i = 0; i < ranks.length; i++) counts[ranks[i]!]!++;
  const out = new Uint32Array(labels.data);
  for (let i = 0; i < out.length; i++) if (counts[ranks[i]!]! < minSize) out[i] = 0;
  return { data: out, height: labels.height, width: labels.width };
}

/**
 * Fills the holes of objects. A hole is a 4-connected region of background pixels that does not touch the
 * image border and whose edge neighbours all belong to one single object; holes with fewer than
 * `maxHoleSize` pixels get that object's id. Background enclosed by two or more objects, or open to the
 * border, is left alone. `maxHoleSize` 0 or 1 fills nothing.
 * Throws ImageError 'bad-argument' if `maxHoleSize` is not an integer >= 0.
 */
export function fillHoles(labels: Labels, maxHoleSize: number): Labels {
  assertPlane('labels', labels);
  assertInteger('maxHoleSize', maxHoleSize, 0);
  const { data, height, width } = labels;
  const out = new Uint32Array(data);
  if (maxHoleSize <= 1) return { data: out, height, width };
  const background = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) background[i] = data[i] === 0 ? 1 : 0;
  const regions = connectedComponents(background, height, width, 1).data;
  let nRegions = 0;
  for (let i = 0; i < regions.length; i++) if (regions[i]! > nRegions) nRegions = regions[i]!;
  const size = new Float64Array(nRegions + 1);
  // Id of the one object around each region; -1 = open to the border or bordered by several objects.
  const around = new Float64Array(nRegions + 1);
  // A region's neighbour ids: the first non-zero one is kept, a second different one makes it -1.
  const see = (a: number, id: number): number => (id === 0 || a === id ? a : a === 0 ? id : -1);
  for (let y = 0; y < height; y++) {
    const edgeRow = y === 0 || y === height - 1;
    for (let x = 0, i = y * width; x < width; x++, i++) {
      const r = regions[i]!;
      if (r === 0) continue;
      size[r]!++;
      if (edgeRow || x === 0 || x === width - 1) {
        around[r] = -1;
        continue;
      }
      let a = around[r]!;
      if (a === -1) continue;
      a = see(a, data[i - 1]!);
      if (a !== -1) a = see(a, data[i + 1]!);
      if (a !== -1) a = see(a, data[i - width]!);
      if (a !== -1) a = see(a, data[i + width]!);
      around[r] = a;
    }
  }
  for (let i = 0; i < out.length; i++) {
    const r = regions[i]!;
    if (r !== 0 && around[r]! > 0 && size[r]! < maxHoleSize) out[i] = around[r]!;
  }
  return { data: out, height, width };
}

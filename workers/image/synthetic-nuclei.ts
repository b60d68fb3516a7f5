/**
 * Synthetic nuclei for tests and benchmarks: disks with known labels and the distance maps a nuclear model
 * is trained to predict. Deterministic (seeded PRNG), pure.
 */
import type { FloatMap, Labels } from './types.js';

/** A disk of radius `r` px centred on pixel (cy, cx): the pixels with (y-cy)^2 + (x-cx)^2 <= r^2. */
export interface Disk {
  readonly cy: number;
  readonly cx: number;
  readonly r: number;
}

/**
 * Label image [H, W] of the disks: disk k has id k + 1. A pixel inside several disks goes to the one whose
 * centre is nearest relative to its radius (smallest d / r; ties to the lower id), so touching or slightly
 * overlapping disks split along a line between them.
 */
export function diskLabels(disks: readonly Disk[], height: number, width: number): Labels {
  const data = new Uint32Array(height * width);
  const best = new Float32Array(height * width).fill(Infinity);
  disks.forEach(({ cy, cx, r }, k) => {
    for (let y = Math.max(0, Math.floor(cy - r)); y <= Math.min(height - 1, Math.ceil(cy + r)); y++) {
      for (let x = Math.max(0, Math.floor(cx - r)); x <= Math.min(width - 1, Math.ceil(cx + r)); x++) {
        const d2 = (y - cy) ** 2 + (x - cx) ** 2;
        if (d2 > r * r) continue;
        const rel = Math.sqrt(d2) / r;
        const i = y * width + x;
        if (rel < best[i]!) {
          best[i] = rel;
          data[i] = k + 1;
        }
      }
    }
  });
  return { data, height, width };
}

/**
 * The maps a deep-watershed model learns, computed exactly for disks (axes [H, W], float32, 0 on background):
 * - inner: 1 / (1 + alpha * d), d = distance to the owning disk's centre (DeepCell's inner distance, alpha 0.1);
 * - outer: (r - d) / r, the distance to the disk's edge normalised to 1 at the centre;
 * - fg: 1 inside a disk, else 0.
 * Pixel ownership as `diskLabels`.
 */
export function diskDistanceMaps(
  disks: readonly Disk[],
  height: number,
  width: number,
  alpha = 0.1,
): { inner: FloatMap; outer: FloatMap; fg: FloatMap; labels: Labels } {
  const labels = diskLabels(disks, height, width);
  const inner = new Float32Array(height * width);
  const outer = new Float32Array(height * width);
  const fg = new Float32Array(height * width);
  for (let i = 0; i < labels.data.length; i++) {
    const id = labels.data[i]!;
    if (id === 0) continue;
    const { cy, cx, r } = disks[id - 1]!;
    const y = Math.floor(i / width);
    const d = Math.hypot(y - cy, i - y * width - cx);
    inner[i] = 1 / (1 + alpha * d);
    outer[i] = (r - d) / r;
    fg[i] = 1;
  }
  const map = (data: Float32Array): FloatMap => ({ data, height, width });
  return { inner: map(inner), outer: map(outer), fg: map(fg), labels };
}

/** Deterministic uniform [0, 1) generator (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Up to `count` disks with integer centres and radii in [minR, maxR], placed at random (seeded) inside the
 * image so that centres are at least `spacing * (r1 + r2)` apart (spacing 1: disjoint or touching; below 1:
 * slight overlaps). Gives up on a disk after 200 tries, so a crowded image may hold fewer than `count`.
 */
export function randomDisks(
  count: number,
  height: number,
  width: number,
  opts: { minR: number; maxR: number; spacing?: number; seed?: number },
): Disk[] {
  const rand = seededRandom(opts.seed ?? 1);
  const spacing = opts.spacing ?? 1;
  const disks: Disk[] = [];
  for (let k = 0; k < count; k++) {
    for (let attempt = 0; attempt < 200; attempt++) {
      const r = opts.minR + Math.floor(rand() * (opts.maxR - opts.minR + 1));
      const cy = r + Math.floor(rand() * Math.max(1, height - 2 * r));
      const cx = r + Math.floor(rand() * Math.max(1, width - 2 * r));
      if (disks.every((o) => Math.hypot(o.cy - cy, o.cx - cx) >= spacing * (o.r + r))) {
        disks.push({ cy, cx, r });
        break;
      }
    }
  }
  return disks;
}

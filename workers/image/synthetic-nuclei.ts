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

/** An axis-aligned ellipsoid: centre (cz, cy, cx) and semi-axes rz, ry, rx in voxels. */
export interface Ellipsoid {
  readonly cz: number;
  readonly cy: number;
  readonly cx: number;
  readonly rz: number;
  readonly ry: number;
  readonly rx: number;
}

/**
 * Up to `count` ellipsoids in a [depth, height, width] volume, placed at random (seeded) so that their
 * bounding spheres (radius = largest semi-axis) do not overlap; semi-axes in y/x from [minR, maxR], in z
 * scaled by `zScale` (anisotropic stacks: z steps larger than pixels give fewer slices per nucleus).
 */
export function randomEllipsoids(
  count: number,
  depth: number,
  height: number,
  width: number,
  opts: { minR: number; maxR: number; zScale?: number; seed?: number },
): Ellipsoid[] {
  const rand = seededRandom(opts.seed ?? 1);
  const zScale = opts.zScale ?? 1;
  const out: Ellipsoid[] = [];
  for (let k = 0; k < count; k++) {
    for (let attempt = 0; attempt < 200; attempt++) {
      const ry = opts.minR + rand() * (opts.maxR - opts.minR);
      const rx = ry * (0.8 + 0.4 * rand());
      const rz = Math.max(1, ry * zScale * (0.8 + 0.4 * rand()));
      const cz = rz + rand() * Math.max(0, depth - 1 - 2 * rz);
      const cy = ry + rand() * Math.max(0, height - 1 - 2 * ry);
      const cx = rx + rand() * Math.max(0, width - 1 - 2 * rx);
      const big = (e: { rz: number; ry: number; rx: number }) => Math.max(e.ry, e.rx);
      const e = { cz, cy, cx, rz, ry, rx };
      const clear = out.every(
        (o) => Math.hypot((o.cz - cz) / zScale, o.cy - cy, o.cx - cx) >= big(o) + big(e) + 1,
      );
      if (clear) {
        out.push(e);
        break;
      }
    }
  }
  return out;
}

/** Label volume [Z, H, W] of the ellipsoids (ellipsoid k has id k + 1; they do not overlap). */
export function ellipsoidLabels(
  ellipsoids: readonly Ellipsoid[],
  depth: number,
  height: number,
  width: number,
): { data: Uint32Array; depth: number; height: number; width: number } {
  const data = new Uint32Array(depth * height * width);
  ellipsoids.forEach(({ cz, cy, cx, rz, ry, rx }, k) => {
    for (let z = Math.max(0, Math.floor(cz - rz)); z <= Math.min(depth - 1, Math.ceil(cz + rz)); z++) {
      for (let y = Math.max(0, Math.floor(cy - ry)); y <= Math.min(height - 1, Math.ceil(cy + ry)); y++) {
        for (let x = Math.max(0, Math.floor(cx - rx)); x <= Math.min(width - 1, Math.ceil(cx + rx)); x++) {
          if (((z - cz) / rz) ** 2 + ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1)
            data[(z * height + y) * width + x] = k + 1;
        }
      }
    }
  });
  return { data, depth, height, width };
}

/**
 * A fluorescence-like ZYX stack (uint16, axes 'ZYX') of the ellipsoids: each nucleus bright in its middle and
 * dimmer to its rim, a dim background, and seeded noise. Returned with its true label volume.
 */
export function renderEllipsoidStack(
  ellipsoids: readonly Ellipsoid[],
  depth: number,
  height: number,
  width: number,
  seed = 1,
): {
  raw: { data: Uint16Array; dtype: 'uint16'; shape: number[]; axes: 'ZYX' };
  truth: ReturnType<typeof ellipsoidLabels>;
} {
  const truth = ellipsoidLabels(ellipsoids, depth, height, width);
  const rand = seededRandom(seed);
  const data = new Uint16Array(depth * height * width);
  const plane = height * width;
  for (let i = 0; i < data.length; i++) {
    let v = 200;
    const id = truth.data[i]!;
    if (id) {
      const e = ellipsoids[id - 1]!;
      const z = Math.floor(i / plane);
      const y = Math.floor((i % plane) / width);
      const x = i % width;
      const rho2 = ((z - e.cz) / e.rz) ** 2 + ((y - e.cy) / e.ry) ** 2 + ((x - e.cx) / e.rx) ** 2;
      v += 2500 * (0.45 + 0.55 * Math.sqrt(Math.max(0, 1 - rho2)));
    }
    data[i] = Math.max(0, Math.round(v + 60 * (rand() + rand() + rand() - 1.5)));
  }
  return { raw: { data, dtype: 'uint16', shape: [depth, height, width], axes: 'ZYX' }, truth };
}

/**
 * 3-D labels from 2-D ones: a ZYX stack segmented slice by slice gets one id per object across z by linking
 * each slice's objects to the previous slice's by overlap (the stitching Cellpose uses for 3-D data without
 * a 3-D model). For slices z and z+1: the IoU of every pair of objects that overlap; a pair counts when its
 * IoU reaches `threshold`, or when it covers `containment` of the smaller of the two (the tip of a nucleus
 * is a small patch inside the next slice's large section: its IoU is tiny, yet it is the same nucleus), and
 * it is the best partner (by IoU) of the object in z (so one object of z continues
 * into at most one object of z+1 unless tied); each object of z+1 takes the id of its best counting partner
 * in z, and objects with none start a new id. Ids of the result are 1..N in order of first appearance.
 * Pure functions; inputs are not modified.
 */
import { ImageError, type Labels } from './types.js';

/** A label volume, axes [Z, H, W]. 0 = background, 1..N = objects. */
export interface LabelVolume {
  readonly data: Uint32Array;
  readonly depth: number;
  readonly height: number;
  readonly width: number;
}

export interface StitchOptions {
  /** Least IoU between an object and its continuation in the next slice, in (0, 1]. @default 0.25 */
  readonly threshold?: number;
  /**
   * Also link a pair whose overlap is at least this share of the smaller object's area, in (0, 1]; 1 links
   * only a patch lying wholly inside the other; false links by IoU alone (Cellpose's rule). @default 0.75
   */
  readonly containment?: number | false;
}

/**
 * Sparse IoU of the objects of two label slices of equal size: for each pair (a in `lower`, b in `upper`)
 * that overlaps, |a ∩ b| / |a ∪ b|.
 */
function pairIous(
  lower: Uint32Array,
  upper: Uint32Array,
): { a: number; b: number; iou: number; ofSmaller: number }[] {
  const areaA = new Map<number, number>();
  const areaB = new Map<number, number>();
  const inter = new Map<string, number>();
  for (let i = 0; i < lower.length; i++) {
    const a = lower[i]!;
    const b = upper[i]!;
    if (a) areaA.set(a, (areaA.get(a) ?? 0) + 1);
    if (b) areaB.set(b, (areaB.get(b) ?? 0) + 1);
    if (a && b) {
      const key = `${a},${b}`;
      inter.set(key, (inter.get(key) ?? 0) + 1);
    }
  }
  const out: { a: number; b: number; iou: number; ofSmaller: number }[] = [];
  for (const [key, n] of inter) {
    const [a, b] = key.split(',').map(Number) as [number, number];
    const [sa, sb] = [areaA.get(a)!, areaB.get(b)!];
    out.push({ a, b, iou: n / (sa + sb - n), ofSmaller: n / Math.min(sa, sb) });
  }
  return out;
}

/**
 * Stitches per-slice labels (each slice's ids independent) into one volume; see the module doc.
 * @throws ImageError 'bad-argument' for no slices, slices of different sizes or a threshold outside (0, 1].
 */
export function stitchSlices(slices: readonly Labels[], opts: StitchOptions = {}): LabelVolume {
  const threshold = opts.threshold ?? 0.25;
  if (!(threshold > 0 && threshold <= 1))
    throw new ImageError('bad-argument', `'threshold' must be in (0, 1]; got ${threshold}`);
  const containment = opts.containment === false ? Infinity : (opts.containment ?? 0.75);
  if (opts.containment !== false && !(containment > 0 && containment <= 1))
    throw new ImageError('bad-argument', `'containment' must be in (0, 1]; got ${containment}`);
  const first = slices[0];
  if (!first) throw new ImageError('bad-argument', 'stitchSlices needs at least one slice');
  const { height, width } = first;
  const plane = height * width;
  slices.forEach((s, z) => {
    if (s.height !== height || s.width !== width)
      throw new ImageError(
        'shape-mismatch',
        `slice ${z} is ${s.height}x${s.width} but slice 0 is ${height}x${width}`,
      );
  });
  const data = new Uint32Array(slices.length * plane);
  let next = 1;
  let previous: Uint32Array | undefined; // slice z-1 in output ids
  for (let z = 0; z < slices.length; z++) {
    const src = slices[z]!.data;
    const map = new Map<number, number>(); // slice id → output id
    if (previous) {
      const pairs = pairIous(previous, src).filter((p) => p.iou >= threshold || p.ofSmaller >= containment);
      const bestOfA = new Map<number, number>();
      for (const p of pairs) bestOfA.set(p.a, Math.max(bestOfA.get(p.a) ?? 0, p.iou));
      const bestOfB = new Map<number, { a: number; iou: number }>();
      for (const p of pairs) {
        if (p.iou < bestOfA.get(p.a)!) continue; // a continues into its best partner only
        const cur = bestOfB.get(p.b);
        if (!cur || p.iou > cur.iou || (p.iou === cur.iou && p.a < cur.a)) bestOfB.set(p.b, p);
      }
      for (const [b, { a }] of bestOfB) map.set(b, a);
    }
    const out = data.subarray(z * plane, (z + 1) * plane);
    for (let i = 0; i < plane; i++) {
      const id = src[i]!;
      if (!id) continue;
      let o = map.get(id);
      if (o === undefined) {
        o = next++;
        map.set(id, o);
      }
      out[i] = o;
    }
    previous = out;
  }
  return { data, depth: slices.length, height, width };
}

/** The volume as one tall label image [Z·H, W]: voxel-set metrics (3-D IoU) work on it unchanged. */
export function volumeAsLabels(v: LabelVolume): Labels {
  return { data: v.data, height: v.depth * v.height, width: v.width };
}

/** Slice `z` of a volume (a view, not a copy). */
export function volumeSlice(v: LabelVolume, z: number): Labels {
  if (!Number.isInteger(z) || z < 0 || z >= v.depth)
    throw new ImageError('bad-argument', `slice ${z} is outside 0..${v.depth - 1}`);
  const plane = v.height * v.width;
  return { data: v.data.subarray(z * plane, (z + 1) * plane), height: v.height, width: v.width };
}

/**
 * The 8 symmetries of a square (dihedral group D4: flips and 90° rotations) on square images stored
 * row-major with interleaved channels (T x T x C, one tile of an NHWC batch). Pure functions, used by
 * test-time augmentation (predict every transform of a tile, map each output back, average).
 *
 * Transform `k` (0..7) is read as bits: 1 = flip left-right, 2 = flip up-down, 4 = transpose (swap the
 * axes, applied before the flips). So 0..3 are the identity and the 3 flips (the "4 flips" of TTA 4), and
 * 4..7 add the transposed ones: 5 and 6 are the 90° rotations, 4 and 7 the diagonal mirrors.
 */
import { ImageError } from './types.js';

/** Number of transforms in the group. */
export const DIHEDRAL_COUNT = 8;

const permutations = new Map<string, Int32Array>();

function checkArgs(k: number, size: number, channels: number, length: number): void {
  if (!Number.isInteger(k) || k < 0 || k >= DIHEDRAL_COUNT)
    throw new ImageError('bad-argument', `dihedral transform must be an integer 0..7; got ${k}`);
  if (!Number.isInteger(size) || size < 1 || !Number.isInteger(channels) || channels < 1)
    throw new ImageError('bad-argument', `size and channels must be integers >= 1; got ${size}, ${channels}`);
  if (length !== size * size * channels)
    throw new ImageError(
      'bad-argument',
      `a ${size}x${size}x${channels} image holds ${size * size * channels} values; got ${length}`,
    );
}

/**
 * For transform `k` of a `size` x `size` image: entry p (destination pixel y * size + x) is the source pixel
 * the transformed image takes there. Cached per (k, size); do not modify.
 */
export function dihedralPermutation(k: number, size: number): Int32Array {
  checkArgs(k, size, 1, size * size);
  const key = `${k}:${size}`;
  let perm = permutations.get(key);
  if (perm) return perm;
  perm = new Int32Array(size * size);
  const last = size - 1;
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      let sy = k & 4 ? x : y;
      let sx = k & 4 ? y : x;
      if (k & 2) sy = last - sy;
      if (k & 1) sx = last - sx;
      perm[y * size + x] = sy * size + sx;
    }
  if (permutations.size >= 64) permutations.clear();
  permutations.set(key, perm);
  return perm;
}

/**
 * Transform `k` of `src` (size x size x channels, row-major, channels interleaved) into `out` (a new array
 * unless given; must not alias `src`). Each pixel's channel vector moves as one.
 */
export function dihedralTransform(
  src: Float32Array,
  size: number,
  channels: number,
  k: number,
  out: Float32Array = new Float32Array(src.length),
): Float32Array {
  return permute(src, size, channels, k, out, false);
}

/**
 * The inverse of transform `k`: `dihedralInverse(dihedralTransform(a, ..., k), ..., k)` equals `a`.
 * `out` as for dihedralTransform.
 */
export function dihedralInverse(
  src: Float32Array,
  size: number,
  channels: number,
  k: number,
  out: Float32Array = new Float32Array(src.length),
): Float32Array {
  return permute(src, size, channels, k, out, true);
}

/** Pixel p of `out` takes pixel perm[p] of `src` (forward), or pixel p of `src` goes to perm[p] (inverse). */
function permute(
  src: Float32Array,
  size: number,
  channels: number,
  k: number,
  out: Float32Array,
  inverse: boolean,
): Float32Array {
  checkArgs(k, size, channels, src.length);
  checkArgs(k, size, channels, out.length);
  const perm = dihedralPermutation(k, size);
  for (let p = 0; p < perm.length; p++) {
    const here = p * channels;
    const there = perm[p]! * channels;
    const d = inverse ? there : here;
    const s = inverse ? here : there;
    for (let c = 0; c < channels; c++) out[d + c] = src[s + c]!;
  }
  return out;
}

/** Adds the inverse of transform `k` of the 1-channel `src` into `acc` (size x size each). */
export function addDihedralInverse(src: Float32Array, size: number, k: number, acc: Float64Array): void {
  checkArgs(k, size, 1, src.length);
  checkArgs(k, size, 1, acc.length);
  const perm = dihedralPermutation(k, size);
  for (let p = 0; p < perm.length; p++) acc[perm[p]!]! += src[p]!;
}

/**
 * Between a bioimage.io tensor (axes like 'bcyx', 'byxc', 'cyx', 'yx') and our images [H, W, C] (channel
 * fastest) / batches [N, H, W, C]. Pure.
 */
import type { Image } from '../image/types.js';
import { BioimageioError } from './rdf.js';

/** Row-major strides of `shape`. */
function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

/** Sizes of b, c, y, x of a tensor with `axes` and `shape` (1 for an absent axis). */
export function axisSizes(axes: string, shape: readonly number[], what: string) {
  if (shape.length !== axes.length)
    throw new BioimageioError(
      'bad-test-tensor',
      `${what} has shape (${shape.join(', ')}) but its axes '${axes}' need ${axes.length} dimensions`,
    );
  const size = (a: string): number => (axes.includes(a) ? shape[axes.indexOf(a)]! : 1);
  return { b: size('b'), c: size('c'), y: size('y'), x: size('x') };
}

/** Splits a tensor into one image [H, W, C] per batch item. */
export function tensorToImages(
  data: Float32Array,
  axes: string,
  shape: readonly number[],
  what: string,
): Image[] {
  const { b, c, y, x } = axisSizes(axes, shape, what);
  const st = strides(shape);
  const stride = (a: string): number => (axes.includes(a) ? st[axes.indexOf(a)]! : 0);
  const [sb, sc, sy, sx] = [stride('b'), stride('c'), stride('y'), stride('x')];
  const images: Image[] = [];
  for (let n = 0; n < b; n++) {
    const out = new Float32Array(y * x * c);
    let o = 0;
    for (let i = 0; i < y; i++)
      for (let j = 0; j < x; j++)
        for (let k = 0; k < c; k++) out[o++] = data[n * sb + i * sy + j * sx + k * sc]!;
    images.push({ data: out, height: y, width: x, channels: c });
  }
  return images;
}

/** The shape of a batch of `n` images [h, w, c] in `axes` order (an absent b or c must be 1). */
export function shapeFor(axes: string, n: number, h: number, w: number, c: number): number[] {
  return [...axes].map((a) => ({ b: n, c, y: h, x: w })[a as 'b' | 'c' | 'y' | 'x']);
}

/** A batch [N, H, W, C] (channel fastest) laid out in `axes` order. */
export function nhwcToTensor(
  batch: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  axes: string,
): Float32Array {
  if (
    axes === 'byxc' ||
    (axes === 'yxc' && n === 1) ||
    (axes === 'yx' && n === 1 && c === 1) ||
    (axes === 'byx' && c === 1)
  )
    return batch;
  const shape = shapeFor(axes, n, h, w, c);
  const st = strides(shape);
  const stride = (a: string): number => (axes.includes(a) ? st[axes.indexOf(a)]! : 0);
  const [sb, sc, sy, sx] = [stride('b'), stride('c'), stride('y'), stride('x')];
  const out = new Float32Array(batch.length);
  let p = 0;
  for (let b = 0; b < n; b++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++)
        for (let k = 0; k < c; k++) out[b * sb + i * sy + j * sx + k * sc] = batch[p++]!;
  return out;
}

/** A tensor in `axes` order → [N, H, W, C] (channel fastest). */
export function tensorToNhwc(
  data: Float32Array,
  axes: string,
  shape: readonly number[],
  what: string,
): { data: Float32Array; n: number; h: number; w: number; c: number } {
  const { b, c, y, x } = axisSizes(axes, shape, what);
  const images = tensorToImages(data, axes, shape, what);
  const out = new Float32Array(b * y * x * c);
  images.forEach((im, k) => out.set(im.data, k * y * x * c));
  return { data: out, n: b, h: y, w: x, c };
}

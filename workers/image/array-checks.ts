/**
 * Input checks shared by the label, peak, watershed and metric functions. Each throws an ImageError whose
 * message names the argument and shows the shapes or values received.
 */
import { ImageError, type FloatMap, type Labels } from './types.js';

/** A 2-D array with its shape: both `Labels` and `FloatMap` fit. */
interface Plane {
  readonly data: ArrayLike<number>;
  readonly height: number;
  readonly width: number;
}

/** `[H, W]` written the way every message shows a shape. */
export function shapeOf(p: { height: number; width: number }): string {
  return `[${p.height}, ${p.width}]`;
}

/** Height and width are non-negative integers and `data.length === height * width`. */
export function assertPlane(name: string, p: Plane): void {
  const { height, width } = p;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 0 || width < 0) {
    throw new ImageError(
      'bad-argument',
      `${name}: height and width must be integers >= 0, got [${height}, ${width}]`,
    );
  }
  if (p.data.length !== height * width) {
    throw new ImageError(
      'shape-mismatch',
      `${name}: data has ${p.data.length} values but its shape ${shapeOf(p)} needs ${height * width}`,
    );
  }
}

/** Both planes are valid and have the same `[H, W]`. */
export function assertSameShape(aName: string, a: Plane, bName: string, b: Plane): void {
  assertPlane(aName, a);
  assertPlane(bName, b);
  if (a.height !== b.height || a.width !== b.width) {
    throw new ImageError(
      'shape-mismatch',
      `${aName} has shape ${shapeOf(a)} but ${bName} has shape ${shapeOf(b)}; they must match`,
    );
  }
}

/** The map holds float32 data and every value is finite (no NaN, no ±Infinity); the message gives the first bad pixel. */
export function assertFinite(name: string, map: FloatMap): void {
  const d = map.data;
  if (!(d instanceof Float32Array)) {
    const kind = (d as object | null)?.constructor?.name ?? String(d);
    throw new ImageError('bad-argument', `${name}: data must be a Float32Array, got ${kind}`);
  }
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    // v - v is 0 for finite v and NaN for NaN and ±Infinity: one compare per pixel.
    if (v - v !== 0) {
      const y = Math.floor(i / map.width);
      throw new ImageError(
        'bad-argument',
        `${name}: value at [${y}, ${i - y * map.width}] is ${v}; need finite values`,
      );
    }
  }
}

/** A mask is one byte per pixel of a `[H, W]` plane (0 = off, anything else = on). */
export function assertMask(name: string, mask: Uint8Array, like: Labels | FloatMap, likeName: string): void {
  if (mask.length !== like.height * like.width) {
    throw new ImageError(
      'shape-mismatch',
      `${name} has ${mask.length} values but ${likeName} has shape ${shapeOf(like)} (${like.height * like.width} pixels)`,
    );
  }
}

/** `value` is an integer in [min, max]; the message names the option and the range. */
export function assertInteger(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new ImageError('bad-argument', `'${name}' must be an integer ${range}, got ${String(value)}`);
  }
}

/** `value` is a finite number, optionally >= min. */
export function assertNumber(name: string, value: number, min = -Infinity): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    const range = min === -Infinity ? 'a finite number' : `a finite number >= ${min}`;
    throw new ImageError('bad-argument', `'${name}' must be ${range}, got ${String(value)}`);
  }
}

/** Connectivity as scikit-image counts it in 2-D: 1 = 4 edge neighbours, 2 = 8 (edges and corners). */
export function assertConnectivity(value: unknown): asserts value is 1 | 2 {
  if (value !== 1 && value !== 2) {
    throw new ImageError(
      'bad-argument',
      `'connectivity' must be 1 (4 neighbours) or 2 (8 neighbours), got ${String(value)}`,
    );
  }
}

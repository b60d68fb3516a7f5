/** Helpers shared by the image core's tests (not part of the library: nothing imports it outside *.test.ts). */
import { expect } from 'vitest';
import { ImageError } from './types.js';
import type { Image } from './types.js';

/** An [H, W, C] float image from plain values. */
export function image(height: number, width: number, channels: number, values: ArrayLike<number>): Image {
  return { data: Float32Array.from(values), height, width, channels };
}

/** Deterministic pseudo-random values in [0, 1). */
export function noise(n: number, seed = 1): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  });
}

/** Asserts that `fn` throws an ImageError with this code and a message matching `message`. */
export function expectError(fn: () => unknown, code: string, message: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ImageError);
    expect((e as ImageError).code).toBe(code);
    expect((e as ImageError).message).toMatch(message);
    return;
  }
  throw new Error(`expected an ImageError '${code}', nothing was thrown`);
}

/**
 * One IFD entry of a hand-made TIFF: tag, field type (3 SHORT, 4 LONG, 2 ASCII, 5 RATIONAL, 12 DOUBLE...) and
 * its values (rationals as numerator, denominator pairs).
 */
export type CraftEntry = readonly [tag: number, type: number, values: readonly number[] | string];

/** Little-endian bytes of `values` as TIFF field `type`. */
function fieldBytes(type: number, values: readonly number[]): number[] {
  const size = { 1: 1, 2: 1, 6: 1, 7: 1, 3: 2, 8: 2, 4: 4, 9: 4, 5: 4, 10: 4, 11: 4, 12: 8 }[type] ?? 4;
  const buf = new DataView(new ArrayBuffer(values.length * size));
  values.forEach((v, i) => {
    const at = i * size;
    if (type === 11) buf.setFloat32(at, v, true);
    else if (type === 12) buf.setFloat64(at, v, true);
    else if (size === 1) buf.setUint8(at, v & 0xff);
    else if (size === 2) buf.setUint16(at, v & 0xffff, true);
    else buf.setUint32(at, v >>> 0, true);
  });
  return Array.from(new Uint8Array(buf.buffer));
}

/**
 * A classic little-endian TIFF written by hand, for files no encoder would make: one IFD per element of
 * `ifds` (chained in order), each entry's values placed inline or after the IFD, then `tail` (pixel data;
 * its offset in the file is returned so entries can point into it: pass a function of that offset).
 */
export function craftTiff(
  ifds: readonly (readonly CraftEntry[] | ((tailOffset: number) => readonly CraftEntry[]))[],
  tail: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const layout = (tailOffset: number) => {
    const parts: number[] = [0x49, 0x49, 42, 0, 0, 0, 0, 0];
    const put32 = (at: number, v: number) => {
      for (let i = 0; i < 4; i++) parts[at + i] = (v >>> (8 * i)) & 0xff;
    };
    let prevNext = 4;
    for (const ifd of ifds) {
      const entries = [...(typeof ifd === 'function' ? ifd(tailOffset) : ifd)].sort((a, b) => a[0] - b[0]);
      const start = parts.length;
      put32(prevNext, start);
      parts.push(entries.length & 0xff, entries.length >> 8);
      const extra: number[] = [];
      const extraStart = start + 2 + entries.length * 12 + 4;
      for (const [tag, type, values] of entries) {
        const list = typeof values === 'string' ? [...new TextEncoder().encode(values + '\0')] : values;
        const bytes = fieldBytes(type, list);
        parts.push(tag & 0xff, tag >> 8, type & 0xff, type >> 8);
        const countAt = parts.length;
        parts.push(0, 0, 0, 0, 0, 0, 0, 0);
        put32(countAt, type === 5 || type === 10 ? list.length / 2 : list.length);
        if (bytes.length <= 4) bytes.forEach((b, i) => (parts[countAt + 4 + i] = b));
        else {
          put32(countAt + 4, extraStart + extra.length);
          for (const b of bytes) extra.push(b);
          if (bytes.length % 2) extra.push(0);
        }
      }
      prevNext = parts.length;
      parts.push(0, 0, 0, 0);
      for (const b of extra) parts.push(b);
    }
    return parts;
  };
  const head = layout(layout(0).length);
  const out = new Uint8Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}

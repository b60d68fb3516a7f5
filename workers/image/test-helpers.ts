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
  throw new Error('expected an ImageError');
}

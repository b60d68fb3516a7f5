/**
 * Input checks shared by the normalizations (normalize.ts, clahe.ts): the image's size and data length, and
 * an ImageError naming the first non-finite pixel of a channel.
 */
import { ImageError } from './types.js';
import type { Image } from './types.js';

/** Height, width and channels are positive integers and the data holds height × width × channels values. */
export function checkImage(image: Image): void {
  const { height: h, width: w, channels: c } = image;
  if (![h, w, c].every((v) => Number.isInteger(v) && v >= 1)) {
    throw new ImageError('bad-argument', `image size ${h}x${w}x${c} must be positive integers`);
  }
  if (image.data.length !== h * w * c) {
    throw new ImageError(
      'shape-mismatch',
      `image ${h}x${w}x${c} needs ${h * w * c} values, has ${image.data.length}`,
    );
  }
}

/** Throws an ImageError naming the first non-finite pixel of channel `ch` (the caller found one there). */
export function throwNonFinite(image: Image, ch: number): never {
  const { width: w, channels: c, data } = image;
  for (let p = ch; p < data.length; p += c) {
    const v = data[p] as number;
    if (!Number.isFinite(v)) {
      const pixel = (p - ch) / c;
      throw new ImageError(
        'bad-argument',
        `image has a non-finite value (${v}) at row ${Math.floor(pixel / w)}, column ${pixel % w}, channel ${ch}`,
      );
    }
  }
  throw new ImageError('bad-argument', `image channel ${ch} has a non-finite value`);
}

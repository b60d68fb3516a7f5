/**
 * Label overlays for the Viewer: a label image [H, W] (0 = background, 1..N = objects) becomes an RGBA
 * buffer [H, W, 4] (uint8, row-major, RGBA interleaved) to draw over the image on a canvas.
 * Pure: no DOM; the caller puts the buffer into an ImageData.
 */

export type OverlayMode = 'outline' | 'fill';

/** Lowest alpha of the highlighted object (204 = 80 %). */
export const HIGHLIGHT_MIN_ALPHA = 204;

export interface OverlayOptions {
  readonly mode: OverlayMode;
  /** 0..1, alpha of every drawn pixel (clamped). @default 1 */
  readonly opacity?: number;
  /**
   * An object drawn filled in white whatever the mode (the one under the mouse), at least 80 % opaque so it
   * stands out at low opacities; not drawn at all when opacity is 0 (the image alone). @default - none
   */
  readonly highlight?: number;
  /** Write into this buffer (length H·W·4) instead of a new one; it is fully overwritten. */
  readonly out?: Uint8ClampedArray;
}

/**
 * A distinct, stable colour per label id: hues spread by the golden angle so neighbouring ids differ,
 * saturation and value high enough to show over dark and bright images. Label 0 is black.
 * Returns [r, g, b], each 0..255.
 */
export function labelColour(id: number): [number, number, number] {
  if (id <= 0) return [0, 0, 0];
  const h = (id * 137.50776405) % 360;
  const s = 0.75 + (0.25 * ((id * 7) % 3)) / 2; // 0.75, 0.875 or 1
  return hsvToRgb(h, s, 1);
}

/** h in degrees [0, 360), s and v in [0, 1] → [r, g, b] 0..255 rounded. */
export function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const c = v * s;
  const hp = (((h % 360) + 360) % 360) / 60;
  const x = c * (1 - Math.abs((hp % 2) - 1));
  const [r, g, b] =
    hp < 1
      ? [c, x, 0]
      : hp < 2
        ? [x, c, 0]
        : hp < 3
          ? [0, c, x]
          : hp < 4
            ? [0, x, c]
            : hp < 5
              ? [x, 0, c]
              : [c, 0, x];
  const m = v - c;
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
}

/**
 * True when pixel i of an object touches a different label (background or another object) among its 4
 * neighbours. Pixels on the image border are not outline just for being on the border (the object may go on
 * beyond the frame), so an object filling the whole image has no outline.
 */
function isBoundary(labels: Uint32Array, width: number, height: number, i: number): boolean {
  const v = labels[i]!;
  const x = i % width;
  const y = (i - x) / width;
  return (
    (x > 0 && labels[i - 1] !== v) ||
    (x < width - 1 && labels[i + 1] !== v) ||
    (y > 0 && labels[i - width] !== v) ||
    (y < height - 1 && labels[i + width] !== v)
  );
}

/**
 * Renders labels to RGBA. `fill`: every object pixel in its label colour. `outline`: only the object pixels
 * on its boundary (inner boundary, 4-connected, one pixel wide). Background and non-drawn pixels are
 * transparent (0, 0, 0, 0). Throws a RangeError when the sizes do not agree.
 */
export function renderOverlay(
  labels: Uint32Array,
  width: number,
  height: number,
  opts: OverlayOptions,
): Uint8ClampedArray {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0)
    throw new RangeError(`overlay size must be non-negative integers, got ${width}x${height}`);
  if (labels.length !== width * height)
    throw new RangeError(
      `labels have ${labels.length} values, expected ${height}x${width} = ${width * height}`,
    );
  const n = width * height * 4;
  const out = opts.out ?? new Uint8ClampedArray(n);
  if (out.length !== n)
    throw new RangeError(`out has ${out.length} values, expected ${n} (${height}x${width}x4)`);
  const alpha = Math.round(255 * Math.min(1, Math.max(0, opts.opacity ?? 1)));
  const cache = new Map<number, [number, number, number]>();
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i]!;
    const o = i * 4;
    const drawn =
      v !== 0 && (opts.mode === 'fill' || v === opts.highlight || isBoundary(labels, width, height, i));
    if (!drawn) {
      out[o] = out[o + 1] = out[o + 2] = out[o + 3] = 0;
      continue;
    }
    let rgb: [number, number, number] | undefined;
    let a = alpha;
    if (v === opts.highlight) {
      rgb = [255, 255, 255];
      a = alpha === 0 ? 0 : Math.max(alpha, HIGHLIGHT_MIN_ALPHA);
    } else {
      rgb = cache.get(v);
      if (!rgb) cache.set(v, (rgb = labelColour(v)));
    }
    out[o] = rgb[0];
    out[o + 1] = rgb[1];
    out[o + 2] = rgb[2];
    out[o + 3] = a;
  }
  return out;
}

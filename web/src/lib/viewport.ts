/**
 * Zoom and pan of the Viewer's canvas as pure math. A view maps image pixel (x, y) to screen
 * (x·scale + tx, y·scale + ty), in canvas pixels.
 */

export interface View {
  readonly scale: number;
  readonly tx: number;
  readonly ty: number;
}

export const MIN_SCALE = 1 / 64;
export const MAX_SCALE = 64;

const clampScale = (s: number) => Math.min(MAX_SCALE, Math.max(MIN_SCALE, s));

/**
 * The view that shows the whole image centred in the canvas, as large as fits. An empty image or canvas
 * gives scale 1 at the origin.
 */
export function fitView(imageW: number, imageH: number, canvasW: number, canvasH: number): View {
  if (imageW <= 0 || imageH <= 0 || canvasW <= 0 || canvasH <= 0) return { scale: 1, tx: 0, ty: 0 };
  const scale = clampScale(Math.min(canvasW / imageW, canvasH / imageH));
  return { scale, tx: (canvasW - imageW * scale) / 2, ty: (canvasH - imageH * scale) / 2 };
}

/** Zooms by `factor` keeping the image point under screen point (sx, sy) fixed; scale stays in [1/64, 64]. */
export function zoomAt(v: View, factor: number, sx: number, sy: number): View {
  const scale = clampScale(v.scale * factor);
  const k = scale / v.scale;
  return { scale, tx: sx - (sx - v.tx) * k, ty: sy - (sy - v.ty) * k };
}

export function panBy(v: View, dx: number, dy: number): View {
  return { scale: v.scale, tx: v.tx + dx, ty: v.ty + dy };
}

/** Screen (canvas) point → image point (fractional). */
export function toImage(v: View, sx: number, sy: number): [number, number] {
  return [(sx - v.tx) / v.scale, (sy - v.ty) / v.scale];
}

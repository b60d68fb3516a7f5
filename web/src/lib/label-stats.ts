/**
 * What the Viewer says about a label image [H, W] (Uint32, 0 = background): how many objects, each one's
 * area in pixels, which object is under a pixel. Pure.
 */

export interface LabelStats {
  /** Distinct non-zero labels present (ids need not be consecutive). */
  readonly count: number;
  /** Area in pixels by label id. */
  readonly areas: ReadonlyMap<number, number>;
  /** Largest id present; 0 for an image with no objects. */
  readonly maxId: number;
}

export function labelStats(labels: Uint32Array): LabelStats {
  const areas = new Map<number, number>();
  let maxId = 0;
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i]!;
    if (v === 0) continue;
    areas.set(v, (areas.get(v) ?? 0) + 1);
    if (v > maxId) maxId = v;
  }
  return { count: areas.size, areas, maxId };
}

/**
 * The label at image pixel (x, y), x along W and y along H, both floored. 0 for background or a point
 * outside the image.
 */
export function labelAt(labels: Uint32Array, width: number, height: number, x: number, y: number): number {
  const xi = Math.floor(x);
  const yi = Math.floor(y);
  if (!(xi >= 0 && yi >= 0 && xi < width && yi < height)) return 0;
  return labels[yi * width + xi] ?? 0;
}

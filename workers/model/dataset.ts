/**
 * Training/validation data for the nuclear model: a folder of `NAME.image.png|tif` + `NAME.labels.png|tif`
 * pairs (the layout of shared/data/nuclei), loaded into memory at a canonical nucleus scale, and a sampler
 * that cuts augmented training batches out of it.
 *
 * Canonical scale: each image is percentile-normalized (1-99.8, as at inference) and resized (bilinear;
 * labels nearest, workers/image/resize.ts, the same code inference uses) by `targetDiameterPx / d`, where d is
 * the median equivalent diameter 2·sqrt(area/π) of its nuclei. The network therefore always sees nuclei of
 * about `targetDiameterPx` (± the scale jitter), whatever the microscope; inference rescales inputs the same
 * way (by µm/px, or by a nucleus size estimated from a first pass).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readImageFile, readLabelsFile } from '../image/files.js';
import { toImages } from '../image/channels.js';
import { percentileNormalize } from '../image/normalize.js';
import { resizeBilinear, resizeNearest } from '../image/resize.js';
import type { Image, Labels } from '../image/types.js';
import { ImageError } from '../image/types.js';
import {
  augmentIntensity,
  cropAndScale,
  dihedral,
  logUniform,
  type IntensityOptions,
  type Rng,
} from './augment.js';
import { computeTargets, type TargetOptions } from './targets.js';

export interface NucleiSample {
  readonly name: string;
  /** `${H}x${W}` of the original image: the DSB size class. */
  readonly sizeClass: string;
  /** Median equivalent nucleus diameter in original pixels (0 if the image has no nucleus). */
  readonly medianDiameter: number;
  /** Factor from original to canonical pixels (canonical = original · scale). */
  readonly scale: number;
  /** Normalized image and labels at canonical scale. */
  readonly image: Image;
  readonly labels: Labels;
  /** Original-resolution normalized image and labels (kept with `keepOriginal`, for validation). */
  readonly original?: { readonly image: Image; readonly labels: Labels };
}

export interface LoadOptions {
  /** Median nucleus diameter (px) after rescaling. @default 16 */
  readonly targetDiameterPx?: number;
  /** Keep the original-resolution image and labels too. @default false */
  readonly keepOriginal?: boolean;
  /** Load at most this many pairs (sorted by name). @default - all */
  readonly limit?: number;
}

const IMAGE_SUFFIXES = ['.image.png', '.image.tif', '.image.tiff'];

/** Median of 2·sqrt(area/π) over the objects of `labels`; 0 when there are none. */
export function medianDiameter(labels: Labels): number {
  const areas = new Map<number, number>();
  for (const id of labels.data) if (id !== 0) areas.set(id, (areas.get(id) ?? 0) + 1);
  const d = [...areas.values()].map((a) => 2 * Math.sqrt(a / Math.PI)).sort((a, b) => a - b);
  if (d.length === 0) return 0;
  const mid = d.length >> 1;
  return d.length % 2 ? d[mid]! : (d[mid - 1]! + d[mid]!) / 2;
}

/**
 * Loads every `NAME.image.*` + `NAME.labels.*` pair of `dir` (see the module doc). Multi-channel images keep
 * channel 0. Rejects with ImageError 'bad-argument' when the folder has no pairs or an image has no labels
 * file, 'shape-mismatch' when an image and its labels differ in size.
 */
export async function loadNucleiFolder(dir: string, opts: LoadOptions = {}): Promise<NucleiSample[]> {
  const target = opts.targetDiameterPx ?? 16;
  const files = (await readdir(dir)).sort();
  const names = files.flatMap((f) => {
    const suffix = IMAGE_SUFFIXES.find((s) => f.endsWith(s));
    return suffix ? [{ name: f.slice(0, -suffix.length), file: f, ext: suffix.slice('.image'.length) }] : [];
  });
  if (names.length === 0) {
    throw new ImageError('bad-argument', `${dir} holds no NAME.image.png|tif files`);
  }
  const chosen = opts.limit === undefined ? names : names.slice(0, opts.limit);
  const samples: NucleiSample[] = [];
  for (const { name, file, ext } of chosen) {
    const labelFile =
      files.find((f) => f === `${name}.labels${ext}`) ?? files.find((f) => f.startsWith(`${name}.labels.`));
    if (!labelFile)
      throw new ImageError('bad-argument', `${join(dir, file)} has no ${name}.labels${ext} beside it`);
    const raw = await readImageFile(join(dir, file));
    const [first] = toImages(raw, { channels: [0] });
    if (!first) throw new ImageError('bad-argument', `${join(dir, file)} holds no image`);
    const labels = await readLabelsFile(join(dir, labelFile));
    if (labels.height !== first.height || labels.width !== first.width) {
      throw new ImageError(
        'shape-mismatch',
        `${name}: image is ${first.height}x${first.width} but labels are ${labels.height}x${labels.width}`,
      );
    }
    const image = percentileNormalize(first);
    const d = medianDiameter(labels);
    const scale = d > 0 ? target / d : 1;
    const h = Math.max(1, Math.round(image.height * scale));
    const w = Math.max(1, Math.round(image.width * scale));
    const scaled =
      scale === 1
        ? { image, labels }
        : { image: resizeBilinear(image, h, w), labels: resizeNearest(labels, h, w) };
    samples.push({
      name,
      sizeClass: `${first.height}x${first.width}`,
      medianDiameter: d,
      scale,
      image: scaled.image,
      labels: scaled.labels,
      ...(opts.keepOriginal ? { original: { image, labels } } : {}),
    });
  }
  return samples;
}

export interface SamplerOptions {
  /** Side of the square training crops (px, a multiple of the network's size multiple). @default 128 */
  readonly cropSize?: number;
  /** Scale jitter range around canonical (log-uniform). @default [0.67, 1.5] */
  readonly scaleJitter?: readonly [number, number];
  /**
   * With this probability the jitter is drawn from the wide range instead, so the network also sees nuclei
   * far from its canonical size (what a first inference pass on an unscaled image shows it, and what
   * nuclei 2-3x larger or smaller than expected look like). @default { probability: 0.3, range: [0.4, 3] }
   */
  readonly wideJitter?: { readonly probability: number; readonly range: readonly [number, number] };
  /** Target options (inner distance alpha/beta). */
  readonly targets?: TargetOptions;
  /** Intensity augmentation options. */
  readonly intensity?: IntensityOptions;
  /** Extra context (px) around a crop used for the targets, so cut nuclei keep their true distances. @default 16 */
  readonly margin?: number;
}

/** One training batch, NHWC float32: x [B,S,S,1], inner/outer [B,S,S,1], fg [B,S,S,1] (0/1). */
export interface Batch {
  readonly size: number;
  readonly cropSize: number;
  readonly x: Float32Array;
  readonly inner: Float32Array;
  readonly outer: Float32Array;
  readonly fg: Float32Array;
}

/**
 * Picks images so each DSB size class gets weight ∝ sqrt(its image count) (rare classes are seen more than
 * their share; common ones still dominate), times sqrt(canonical area / 256²) within reason (bigger images
 * hold more crops). Returns cumulative weights.
 */
function samplingWeights(samples: readonly NucleiSample[]): Float64Array {
  const perClass = new Map<string, number>();
  for (const s of samples) perClass.set(s.sizeClass, (perClass.get(s.sizeClass) ?? 0) + 1);
  const cum = new Float64Array(samples.length);
  let total = 0;
  samples.forEach((s, i) => {
    const areaFactor = Math.min(3, Math.max(0.5, Math.sqrt((s.image.height * s.image.width) / 65536)));
    total += areaFactor / Math.sqrt(perClass.get(s.sizeClass)!);
    cum[i] = total;
  });
  return cum.map((v) => v / total);
}

export class CropSampler {
  private readonly cum: Float64Array;
  private readonly cropSize: number;
  private readonly jitter: readonly [number, number];
  private readonly margin: number;

  constructor(
    private readonly samples: readonly NucleiSample[],
    private readonly opts: SamplerOptions = {},
  ) {
    if (samples.length === 0) throw new ImageError('bad-argument', 'CropSampler needs at least one sample');
    this.cropSize = opts.cropSize ?? 128;
    if (!Number.isInteger(this.cropSize) || this.cropSize < 8) {
      throw new ImageError('bad-argument', `'cropSize' must be an integer >= 8; got ${this.cropSize}`);
    }
    this.jitter = opts.scaleJitter ?? [0.67, 1.5];
    this.margin = opts.margin ?? 16;
    this.cum = samplingWeights(samples);
  }

  private pick(rng: Rng): NucleiSample {
    const u = rng();
    let lo = 0;
    let hi = this.cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cum[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return this.samples[lo]!;
  }

  /** One augmented crop: image [S,S,1] and its targets. */
  sampleOne(rng: Rng): { x: Float32Array; inner: Float32Array; outer: Float32Array; fg: Uint8Array } {
    const s = this.pick(rng);
    const wide = this.opts.wideJitter ?? { probability: 0.3, range: [0.4, 3] };
    const range = rng() < wide.probability ? wide.range : this.jitter;
    const scale = logUniform(rng, range[0], range[1]);
    const S = this.cropSize;
    const R = S + 2 * this.margin;
    let crop = { image: s.image, labels: s.labels };
    // Prefer crops with nuclei: up to 4 tries to hit foreground.
    for (let attempt = 0; attempt < 4; attempt++) {
      const half = S / 2 / scale;
      const spanY = Math.max(0, s.image.height - 2 * half);
      const spanX = Math.max(0, s.image.width - 2 * half);
      const cy = spanY > 0 ? half + rng() * spanY : s.image.height / 2;
      const cx = spanX > 0 ? half + rng() * spanX : s.image.width / 2;
      crop = cropAndScale(s.image, s.labels, { centerY: cy, centerX: cx, scale, height: R, width: R });
      if (crop.labels.data.some((v) => v !== 0)) break;
    }
    crop = dihedral(crop.image, crop.labels, Math.floor(rng() * 8));
    const targets = computeTargets(crop.labels, this.opts.targets);
    const image = augmentIntensity(crop.image, rng, this.opts.intensity);
    const m = this.margin;
    const cut = <T extends Float32Array | Uint8Array>(src: T, make: (n: number) => T): T => {
      const out = make(S * S);
      for (let y = 0; y < S; y++) out.set(src.subarray((y + m) * R + m, (y + m) * R + m + S), y * S);
      return out;
    };
    return {
      x: cut(image.data, (n) => new Float32Array(n)),
      inner: cut(targets.inner.data, (n) => new Float32Array(n)),
      outer: cut(targets.outer.data, (n) => new Float32Array(n)),
      fg: cut(targets.fg, (n) => new Uint8Array(n)),
    };
  }

  /** A batch of `size` independent crops. */
  nextBatch(size: number, rng: Rng): Batch {
    const S = this.cropSize;
    const n = S * S;
    const batch = {
      size,
      cropSize: S,
      x: new Float32Array(size * n),
      inner: new Float32Array(size * n),
      outer: new Float32Array(size * n),
      fg: new Float32Array(size * n),
    };
    for (let b = 0; b < size; b++) {
      const one = this.sampleOne(rng);
      batch.x.set(one.x, b * n);
      batch.inner.set(one.inner, b * n);
      batch.outer.set(one.outer, b * n);
      batch.fg.set(one.fg, b * n);
    }
    return batch;
  }
}

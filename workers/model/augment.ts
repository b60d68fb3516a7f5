/**
 * Training augmentation for nuclear images. Every function is pure (new arrays out) and takes its
 * randomness from a `Rng` (a function returning uniform numbers in [0, 1)), so a seeded run is repeatable.
 *
 * Images are float [H, W, C] (channel fastest), already percentile-normalized (background ≈ 0, nuclei ≈ 1);
 * label images are [H, W] uint32.
 */
import type { Image, Labels } from '../image/types.js';
import { ImageError } from '../image/types.js';

export type Rng = () => number;

/** Mulberry32: a small seeded generator of uniform numbers in [0, 1). */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal sample (Box–Muller). */
export function gaussian(rng: Rng): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** Uniform in [lo, hi) on a log scale (for multiplicative factors). */
export function logUniform(rng: Rng, lo: number, hi: number): number {
  return Math.exp(Math.log(lo) + rng() * (Math.log(hi) - Math.log(lo)));
}

export interface CropSpec {
  /** Centre of the crop in source pixel coordinates (continuous; pixel i spans [i, i + 1)). */
  readonly centerY: number;
  readonly centerX: number;
  /** Output pixels per source pixel (> 1 enlarges), in (0.05, 20). */
  readonly scale: number;
  /** Output height and width in px. */
  readonly height: number;
  readonly width: number;
}

/**
 * Cuts a window out of `image` and `labels` (same H, W) and rescales it in one step: output pixel (oy, ox)
 * samples the source at y = centerY + (oy + 0.5 - height / 2) / scale (and likewise x), bilinear for the image
 * and nearest for the labels. Outside the source: image 0, labels 0 (zero padding). Scale changes here are
 * meant to be small jitters (0.5-2x); large rescales should go through workers/image/resize.ts first.
 * @throws ImageError 'shape-mismatch' if image and labels differ in H or W, 'bad-argument' for a bad spec.
 */
export function cropAndScale(image: Image, labels: Labels, spec: CropSpec): { image: Image; labels: Labels } {
  if (image.height !== labels.height || image.width !== labels.width) {
    throw new ImageError(
      'shape-mismatch',
      `image is ${image.height}x${image.width} but labels are ${labels.height}x${labels.width}`,
    );
  }
  const { height: oh, width: ow, scale } = spec;
  if (!(Number.isInteger(oh) && Number.isInteger(ow) && oh > 0 && ow > 0)) {
    throw new ImageError('bad-argument', `crop size must be positive integers; got ${oh}x${ow}`);
  }
  if (!(scale > 0.05 && scale < 20) || !Number.isFinite(spec.centerY) || !Number.isFinite(spec.centerX)) {
    throw new ImageError('bad-argument', `crop scale must be in (0.05, 20) and centre finite; got ${scale}`);
  }
  const { height: h, width: w, channels: c } = image;
  const out = new Float32Array(oh * ow * c);
  const outLabels = new Uint32Array(oh * ow);
  for (let oy = 0; oy < oh; oy++) {
    const sy = spec.centerY + (oy + 0.5 - oh / 2) / scale; // continuous coordinate
    const fy = sy - 0.5;
    const y0 = Math.floor(fy);
    const ty = fy - y0;
    const ny = Math.floor(sy);
    for (let ox = 0; ox < ow; ox++) {
      const sx = spec.centerX + (ox + 0.5 - ow / 2) / scale;
      const fx = sx - 0.5;
      const x0 = Math.floor(fx);
      const tx = fx - x0;
      const nx = Math.floor(sx);
      const o = oy * ow + ox;
      if (ny >= 0 && ny < h && nx >= 0 && nx < w) outLabels[o] = labels.data[ny * w + nx]!;
      for (let ch = 0; ch < c; ch++) {
        let v = 0;
        for (let dy = 0; dy < 2; dy++) {
          const yy = y0 + dy;
          if (yy < 0 || yy >= h) continue;
          const wy = dy === 0 ? 1 - ty : ty;
          for (let dx = 0; dx < 2; dx++) {
            const xx = x0 + dx;
            if (xx < 0 || xx >= w) continue;
            v += wy * (dx === 0 ? 1 - tx : tx) * image.data[(yy * w + xx) * c + ch]!;
          }
        }
        out[o * c + ch] = v;
      }
    }
  }
  return {
    image: { data: out, height: oh, width: ow, channels: c },
    labels: { data: outLabels, height: oh, width: ow },
  };
}

/**
 * Applies one of the 8 symmetries of the square (k quarter turns counter-clockwise, then an optional
 * left-right flip) to an image and its labels; `op` in 0..7 = k + 4 * flip. Square or not, H and W swap
 * for odd k.
 */
export function dihedral(image: Image, labels: Labels, op: number): { image: Image; labels: Labels } {
  if (!Number.isInteger(op) || op < 0 || op > 7) {
    throw new ImageError('bad-argument', `dihedral op must be an integer in 0..7; got ${op}`);
  }
  const k = op % 4;
  const flip = op >= 4;
  const { height: h, width: w, channels: c } = image;
  const oh = k % 2 === 0 ? h : w;
  const ow = k % 2 === 0 ? w : h;
  const out = new Float32Array(h * w * c);
  const outLabels = new Uint32Array(h * w);
  for (let oy = 0; oy < oh; oy++) {
    for (let oxRaw = 0; oxRaw < ow; oxRaw++) {
      const ox = flip ? ow - 1 - oxRaw : oxRaw;
      // Source pixel of output (oy, ox) under k counter-clockwise quarter turns.
      let sy: number;
      let sx: number;
      if (k === 0) [sy, sx] = [oy, ox];
      else if (k === 1) [sy, sx] = [ox, w - 1 - oy];
      else if (k === 2) [sy, sx] = [h - 1 - oy, w - 1 - ox];
      else [sy, sx] = [h - 1 - ox, oy];
      const s = sy * w + sx;
      const o = oy * ow + oxRaw;
      outLabels[o] = labels.data[s]!;
      for (let ch = 0; ch < c; ch++) out[o * c + ch] = image.data[s * c + ch]!;
    }
  }
  return {
    image: { data: out, height: oh, width: ow, channels: c },
    labels: { data: outLabels, height: oh, width: ow },
  };
}

export interface IntensityOptions {
  /** Probability of simulating a low-dynamic-range 16-bit camera (see `simulateCamera`). @default 0.35 */
  readonly cameraProbability?: number;
  /** Gamma range (log-uniform). @default [0.6, 1.6] */
  readonly gamma?: readonly [number, number];
  /** Multiplicative contrast range (log-uniform). @default [0.75, 1.33] */
  readonly contrast?: readonly [number, number];
  /** Additive offset range. @default [-0.08, 0.08] */
  readonly offset?: readonly [number, number];
  /** Max standard deviation of added Gaussian noise (uniform in [0, max]). @default 0.05 */
  readonly noise?: number;
}

/**
 * Simulates imaging the same scene with a low-dynamic-range 16-bit camera, then undoing the scaling the way
 * percentile normalization would: counts = round(offset + x · signal + Poisson-like shot noise + read noise),
 * clamped to 0..65535, returned as (counts - offset) / signal. `signal` (counts from background to a bright
 * nucleus) is drawn log-uniformly from 15-3000 counts, the camera offset from 90-1100, the read noise σ from
 * 1-6 counts; shot noise is Gaussian with variance = the expected signal counts. With a small `signal` this
 * adds strong quantization and noise, which is what a dim 16-bit acquisition looks like after normalization.
 */
export function simulateCamera(image: Image, rng: Rng): Image {
  const signal = logUniform(rng, 15, 3000);
  const offset = 90 + rng() * 1010;
  const readNoise = 1 + rng() * 5;
  const out = new Float32Array(image.data.length);
  for (let i = 0; i < out.length; i++) {
    const expected = Math.max(0, image.data[i]!) * signal;
    const noisy = offset + expected + Math.sqrt(expected) * gaussian(rng) + readNoise * gaussian(rng);
    const counts = Math.min(65535, Math.max(0, Math.round(noisy)));
    out[i] = (counts - offset) / signal;
  }
  return { ...image, data: out };
}

/**
 * Random intensity changes on a normalized image: with `cameraProbability` a simulated 16-bit camera,
 * otherwise gamma (on values clamped at 0), contrast, offset and Gaussian noise.
 */
export function augmentIntensity(image: Image, rng: Rng, opts: IntensityOptions = {}): Image {
  const {
    cameraProbability = 0.35,
    gamma = [0.6, 1.6],
    contrast = [0.75, 1.33],
    offset = [-0.08, 0.08],
  } = opts;
  const noiseMax = opts.noise ?? 0.05;
  if (rng() < cameraProbability) return simulateCamera(image, rng);
  const g = logUniform(rng, gamma[0], gamma[1]);
  const a = logUniform(rng, contrast[0], contrast[1]);
  const b = offset[0] + rng() * (offset[1] - offset[0]);
  const sigma = rng() * noiseMax;
  const out = new Float32Array(image.data.length);
  for (let i = 0; i < out.length; i++) {
    const x = Math.max(0, image.data[i]!);
    out[i] = a * Math.pow(x, g) + b + (sigma > 0 ? sigma * gaussian(rng) : 0);
  }
  return { ...image, data: out };
}

/**
 * The fault suite's inputs: small crops and variants of the annotated val images (8-bit PNG, 16-bit PNG,
 * TIFF), each with the label image the trivial model makes of it in this process — what the kiosk must
 * return for it, fault or no fault — and a few truncated files that must fail with a reason.
 */
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeImage } from '../../workers/image/decode.js';
import { encodePng } from '../../workers/image/png.js';
import { seededRandom } from '../../workers/image/synthetic-nuclei.js';
import { encodeTiff } from '../../workers/image/tiff-write.js';
import type { Labels } from '../../workers/image/types.js';
import {
  TRIVIAL_CARD,
  TrivialThresholdRunner,
  trivialStages,
} from '../../workers/processors/trivial-stages.js';
import { NUCLEI_VAL } from '../data.js';

export interface FaultImage {
  readonly name: string;
  readonly bytes: Uint8Array;
  /** The trivial model's labels of it, in process; undefined for a file that must fail. */
  readonly expected?: Labels;
}

export function valStems(): string[] {
  return readdirSync(NUCLEI_VAL)
    .filter((f) => f.endsWith('.image.png'))
    .map((f) => f.slice(0, -'.image.png'.length))
    .sort();
}

export async function trivialLabels(bytes: Uint8Array, name: string): Promise<Labels> {
  const o = { channels: [0], maxPixels: 2 ** 28 };
  const p = await trivialStages.preprocess(bytes, name, TRIVIAL_CARD, o);
  const maps = await trivialStages.predict(p, new TrivialThresholdRunner(), TRIVIAL_CARD);
  return trivialStages.postprocess(maps, p.meta, TRIVIAL_CARD, o);
}

/**
 * `n` distinct inputs from the val images (seeded): crops of 40–120 px at random places, as 8-bit PNG
 * (most), 16-bit PNG or uncompressed TIFF, plus `bad` truncated PNGs (valid signature, cut short).
 */
export async function makeFaultImages(n: number, bad: number, seed = 9): Promise<FaultImage[]> {
  const stems = valStems();
  const rand = seededRandom(seed);
  const sources = await Promise.all(
    stems.slice(0, 24).map(async (s) => ({
      stem: s,
      raw: decodeImage(await readFile(join(NUCLEI_VAL, `${s}.image.png`)), { name: s }),
    })),
  );
  const out: FaultImage[] = [];
  for (let i = 0; i < n; i++) {
    const { stem, raw } = sources[i % sources.length]!;
    const [H, W] = raw.shape as [number, number];
    const C = raw.shape.length > 2 ? raw.shape[2]! : 1;
    const h = 40 + Math.floor(rand() * 80);
    const w = 40 + Math.floor(rand() * 80);
    const y0 = Math.floor(rand() * (H - h));
    const x0 = Math.floor(rand() * (W - w));
    const kind = rand();
    const wide = kind < 0.15;
    const crop = wide ? new Uint16Array(h * w) : new Uint8Array(h * w);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const v = raw.data[((y0 + y) * W + x0 + x) * C]!;
        crop[y * w + x] = wide ? v * 257 : v;
      }
    const arr = {
      data: crop,
      dtype: wide ? ('uint16' as const) : ('uint8' as const),
      shape: [h, w],
      axes: 'YX',
    };
    const tiff = !wide && kind < 0.3;
    const name = `f${String(i).padStart(3, '0')}_${stem.slice(4, 12)}.${tiff ? 'tif' : 'png'}`;
    const bytes = tiff ? encodeTiff(arr) : encodePng(arr);
    out.push({ name, bytes, expected: await trivialLabels(bytes, name) });
  }
  for (let i = 0; i < bad; i++) {
    const good = out[i]!;
    const png = encodePng({
      data: new Uint8Array(64 * 64).fill(7),
      dtype: 'uint8',
      shape: [64, 64],
      axes: 'YX',
    });
    out.push({ name: `bad${i}_truncated_${good.name.replace(/\.\w+$/, '')}.png`, bytes: png.slice(0, 40) });
  }
  return out;
}

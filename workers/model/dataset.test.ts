import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng } from '../image/png.js';
import { seededRng } from './augment.js';
import { CropSampler, loadNucleiFolder, medianDiameter } from './dataset.js';
import { writeDiskPair } from './testing/nuclei-folder.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nuclei-'));
  await writeDiskPair(dir, 'small', 64, 4, 1);
  await writeDiskPair(dir, 'big', 96, 10, 2);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('medianDiameter', () => {
  it('is the median equivalent diameter, 0 without objects', () => {
    const labels = { data: Uint32Array.from([1, 1, 1, 1, 2, 0, 3, 3, 0]), height: 3, width: 3 };
    expect(medianDiameter(labels)).toBeCloseTo(2 * Math.sqrt(2 / Math.PI), 10);
    expect(medianDiameter({ data: new Uint32Array(4), height: 2, width: 2 })).toBe(0);
  });
});

describe('loadNucleiFolder', () => {
  it('normalizes and rescales every pair so nuclei have the target diameter', async () => {
    const samples = await loadNucleiFolder(dir, { targetDiameterPx: 12, keepOriginal: true });
    expect(samples.map((s) => s.name)).toEqual(['big', 'small']);
    for (const s of samples) {
      expect(medianDiameter(s.labels)).toBeGreaterThan(10.5);
      expect(medianDiameter(s.labels)).toBeLessThan(13.5);
      expect(s.original?.image.height).toBe(Number(s.sizeClass.split('x')[0]));
      expect(Math.max(...s.image.data)).toBeCloseTo(1, 1);
    }
    expect(samples[0]!.scale).toBeLessThan(1);
    expect(samples[1]!.scale).toBeGreaterThan(1);
    expect(samples[0]!.original).toBeDefined();
  });

  it('says what is wrong with a folder', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'nuclei-empty-'));
    await expect(loadNucleiFolder(empty)).rejects.toThrow(/holds no NAME.image.png\|tif files/);
    await writeFile(
      join(empty, 'lonely.image.png'),
      encodePng({ data: new Uint8Array(4), dtype: 'uint8', shape: [2, 2], axes: 'YX' }),
    );
    await expect(loadNucleiFolder(empty)).rejects.toThrow(
      /lonely.image.png has no lonely.labels.png beside it/,
    );
    await writeFile(
      join(empty, 'lonely.labels.png'),
      encodePng({ data: new Uint16Array(6), dtype: 'uint16', shape: [2, 3], axes: 'YX' }),
    );
    await expect(loadNucleiFolder(empty)).rejects.toThrow(/image is 2x2 but labels are 2x3/);
    await rm(empty, { recursive: true, force: true });
  });
});

describe('CropSampler', () => {
  it('cuts batches of the requested shape with nuclei in them, repeatably for a seed', async () => {
    const samples = await loadNucleiFolder(dir, { targetDiameterPx: 12 });
    const sampler = new CropSampler(samples, { cropSize: 32 });
    const a = sampler.nextBatch(3, seededRng(7));
    const b = sampler.nextBatch(3, seededRng(7));
    expect(a.x).toHaveLength(3 * 32 * 32);
    expect(Array.from(a.x)).toEqual(Array.from(b.x));
    expect(a.fg.some((v) => v === 1)).toBe(true);
    for (let i = 0; i < a.fg.length; i++) {
      if (a.fg[i] === 0) expect(a.outer[i]).toBe(0);
      else expect(a.outer[i]).toBeGreaterThan(0);
    }
    expect(() => new CropSampler([])).toThrow(/needs at least one sample/);
    expect(() => new CropSampler(samples, { cropSize: 4 })).toThrow(
      /'cropSize' must be an integer >= 8; got 4/,
    );
  });
});

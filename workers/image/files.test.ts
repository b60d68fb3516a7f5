import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { labelsFromRaw, readImageFile, readLabelsFile, writeLabelsTiff } from './files.js';
import { decodePng } from './png.js';
import { encodeTiff } from './tiff-write.js';
import { ImageError } from './types.js';
import { NUCLEI_VAL } from '../../test/data.js';

const VAL = NUCLEI_VAL;
const dir = mkdtempSync(join(tmpdir(), 'files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function rejection(p: Promise<unknown>): Promise<ImageError> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImageError);
  return err as ImageError;
}

describe('readLabelsFile / readImageFile', () => {
  it('reads the real validation label PNGs, equal to decodePng', async () => {
    const files = readdirSync(VAL)
      .filter((f) => f.endsWith('.labels.png'))
      .slice(0, 3);
    for (const f of files) {
      const labels = await readLabelsFile(join(VAL, f));
      const raw = decodePng(new Uint8Array(readFileSync(join(VAL, f))));
      expect([labels.height, labels.width]).toEqual(raw.shape);
      expect(labels.data).toBeInstanceOf(Uint32Array);
      expect(Array.from(labels.data)).toEqual(Array.from(raw.data));
    }
    const image = await readImageFile(join(VAL, files[0]!.replace('.labels.', '.image.')));
    expect(image.dtype).toBe('uint8');
  });

  it('writeLabelsTiff round-trips through readLabelsFile, including labels above 65535', async () => {
    const data = Uint32Array.from({ length: 20 * 30 }, (_, i) => (i % 7 === 0 ? 0 : i * 200));
    const path = join(dir, 'labels.tif');
    await writeLabelsTiff(path, { data, height: 20, width: 30 });
    const back = await readLabelsFile(path);
    expect(back).toEqual({ data, height: 20, width: 30 });
  });

  it("float labels with integer values are accepted; fractions or negatives → 'bad-argument' naming the file", async () => {
    const ok = new Float32Array([0, 1, 2, 3]);
    expect(Array.from(labelsFromRaw({ data: ok, dtype: 'float32', shape: [2, 2], axes: 'YX' }).data)).toEqual(
      [0, 1, 2, 3],
    );
    const frac = join(dir, 'frac.tif');
    writeFileSync(
      frac,
      encodeTiff({ data: new Float32Array([0, 1, 2.5, 3]), dtype: 'float32', shape: [2, 2], axes: 'YX' }),
    );
    const e1 = await rejection(readLabelsFile(frac));
    expect(e1.code).toBe('bad-argument');
    expect(e1.message).toBe(
      'frac.tif: labels must be integers >= 0, pixel (y=1, x=0) is 2.5 (dtype float32)',
    );
    const neg = join(dir, 'neg.tif');
    writeFileSync(
      neg,
      encodeTiff({ data: new Int16Array([0, -1, 2, 3]), dtype: 'int16', shape: [2, 2], axes: 'YX' }),
    );
    expect((await rejection(readLabelsFile(neg))).message).toMatch(/neg\.tif: .* pixel \(y=0, x=1\) is -1/);
    const nan = { data: new Float64Array([0, NaN]), dtype: 'float64' as const, shape: [1, 2], axes: 'YX' };
    expect(() => labelsFromRaw(nan, 'n.tif')).toThrowError(/n\.tif: .* is NaN/);
  });

  it("more than one channel → 'bad-argument' with the axes and shape", async () => {
    const rgb = join(dir, 'rgb.tif');
    writeFileSync(
      rgb,
      encodeTiff({ data: new Uint8Array(12), dtype: 'uint8', shape: [2, 2, 3], axes: 'YXS' }),
    );
    const err = await rejection(readLabelsFile(rgb));
    expect(err.code).toBe('bad-argument');
    expect(err.message).toBe(
      "rgb.tif: a label image needs one channel (axes YX), got axes 'YXS' shape [2, 2, 3]",
    );
    const single = labelsFromRaw({
      data: new Uint8Array([5, 6]),
      dtype: 'uint8',
      shape: [1, 1, 2],
      axes: 'CYX',
    });
    expect([single.height, single.width, ...single.data]).toEqual([1, 2, 5, 6]);
  });

  it('errors of the decoder name the file', async () => {
    const junk = join(dir, 'junk.bin');
    writeFileSync(junk, 'not an image at all');
    const err = await rejection(readImageFile(junk));
    expect(err.code).toBe('not-an-image');
    expect(err.message).toMatch(/^junk\.bin: /);
  });
});

import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng } from '../image/png.js';
import { encodeTiff } from '../image/tiff-write.js';
import { packZip } from '../image/zip.js';
import { LocalFolderStorage } from '../storage/local.js';
import { validateTrainingFiles, type TrainingFile } from './data-format.js';
import { fetchTrainingData, filesFromUploads, readTrainingFolder, storeTrainingPairs } from './data-store.js';

/** An 8-bit HxW image and 16-bit labels with `n` square objects of 3x3 px. */
function pair(h: number, w: number, n = 2): { image: Uint8Array; labels: Uint8Array } {
  const lab = new Uint16Array(h * w);
  for (let k = 0; k < n; k++)
    for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) lab[(1 + y) * w + 1 + 4 * k + x] = k + 1;
  return {
    image: encodePng({
      data: Uint8Array.from(lab, (v) => (v ? 200 : 10)),
      dtype: 'uint8',
      shape: [h, w],
      axes: 'YX',
    }),
    labels: encodePng({ data: lab, dtype: 'uint16', shape: [h, w], axes: 'YX' }),
  };
}

function files(entries: Record<string, Uint8Array>): TrainingFile[] {
  return Object.entries(entries).map(([path, bytes]) => ({ path, bytes }));
}

const good = pair(12, 16);

describe('validateTrainingFiles', () => {
  it('accepts pairs, splits train/ and val/, names pairs by folder, ignores stray files and dotfiles', () => {
    const r = validateTrainingFiles(
      files({
        'set/train/a.image.png': good.image,
        'set/train/a.labels.png': good.labels,
        'set/train/plate2/b.image.png': good.image,
        'set/train/plate2/b.labels.png': good.labels,
        'set/val/c.image.png': good.image,
        'set/val/c.labels.png': good.labels,
        'set/README.txt': new Uint8Array([65]),
        'set/.DS_Store': new Uint8Array([0]),
      }),
    );
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.pairs.map((p) => `${p.split}/${p.name}`)).toEqual(['train/a', 'train/plate2_b', 'val/c']);
    expect(r.summary).toMatchObject({
      trainPairs: 2,
      valPairs: 1,
      trainObjects: 4,
      valObjects: 2,
      sizes: ['12x16'],
      ignored: ['set/README.txt'],
    });
    expect(r.pairs[0]).toMatchObject({ height: 12, width: 16, channels: 1, objects: 2 });
  });

  it('without folders, every pair is a training pair; TIFF and PNG may be mixed', () => {
    const tifLabels = encodeTiff({
      data: new Uint16Array(12 * 16).fill(3),
      dtype: 'uint16',
      shape: [12, 16],
      axes: 'YX',
    });
    const r = validateTrainingFiles(files({ 'x.image.png': good.image, 'x.labels.tif': tifLabels }));
    expect(r.ok).toBe(true);
    expect(r.pairs).toHaveLength(1);
    expect(r.pairs[0]).toMatchObject({ split: 'train', name: 'x', objects: 1 });
    // Float labels are fine when every value is a whole number (an ImageJ export, say).
    const wholeFloats = encodeTiff({
      data: new Float32Array(12 * 16).fill(2),
      dtype: 'float32',
      shape: [12, 16],
      axes: 'YX',
    });
    expect(validateTrainingFiles(files({ 'y.image.png': good.image, 'y.labels.tif': wholeFloats })).ok).toBe(
      true,
    );
  });

  it('lists every problem by file name: missing pair, shapes, float labels, non-image, duplicates', () => {
    const small = pair(8, 8);
    const floatLabels = encodeTiff({
      data: Float32Array.from({ length: 12 * 16 }, (_, i) => (i % 7) / 7),
      dtype: 'float32',
      shape: [12, 16],
      axes: 'YX',
    });
    const r = validateTrainingFiles(
      files({
        'ok.image.png': good.image,
        'ok.labels.png': good.labels,
        'lonely.image.png': good.image,
        'orphan.labels.png': good.labels,
        'shape.image.png': good.image,
        'shape.labels.png': small.labels,
        'prob.image.png': good.image,
        'prob.labels.tif': floatLabels,
        'text.image.png': new TextEncoder().encode('hello, not an image'),
        'text.labels.png': good.labels,
        'dup.image.png': good.image,
        'dup.image.tif': good.image,
        'dup.labels.png': good.labels,
      }),
    );
    expect(r.ok).toBe(false);
    const byFile = Object.fromEntries(r.problems.map((p) => [p.file, p]));
    expect(byFile['lonely.image.png']).toMatchObject({ code: 'missing-labels' });
    expect(byFile['lonely.image.png']!.message).toMatch(
      /lonely\.image\.png has no lonely\.labels\.\(png\|tif\)/,
    );
    expect(byFile['orphan.labels.png']).toMatchObject({ code: 'missing-image' });
    expect(byFile['shape.labels.png']).toMatchObject({ code: 'shape-mismatch' });
    expect(byFile['shape.labels.png']!.message).toMatch(
      /shape\.image\.png is 12x16 \(HxW\) but shape\.labels\.png is 8x8/,
    );
    expect(byFile['prob.labels.tif']).toMatchObject({ code: 'float-labels' });
    expect(byFile['prob.labels.tif']!.message).toMatch(
      /prob\.labels\.tif: labels must be integers >= 0, pixel \(y=0, x=1\) is 0\.14/,
    );
    expect(byFile['text.image.png']).toMatchObject({ code: 'not-an-image' });
    expect(byFile['text.image.png']!.message).toMatch(/text\.image\.png: not a TIFF or PNG file/);
    expect(byFile['dup.image.tif']).toMatchObject({ code: 'duplicate-name' });
    expect(r.problems).toHaveLength(6);
    expect(r.pairs.map((p) => p.name)).toEqual(['dup', 'ok']);
  });

  it('labels with several channels or negative values are bad labels', () => {
    const rgb = encodePng({
      data: new Uint8Array(12 * 16 * 3),
      dtype: 'uint8',
      shape: [12, 16, 3],
      axes: 'YXS',
    });
    const neg = encodeTiff({
      data: new Int16Array(12 * 16).fill(-2),
      dtype: 'int16',
      shape: [12, 16],
      axes: 'YX',
    });
    const r = validateTrainingFiles(
      files({
        'a.image.png': good.image,
        'a.labels.png': rgb,
        'b.image.png': good.image,
        'b.labels.tif': neg,
      }),
    );
    expect(r.problems.map((p) => [p.file, p.code])).toEqual([
      ['a.labels.png', 'bad-labels'],
      ['b.labels.tif', 'bad-labels'],
    ]);
    expect(r.problems[0]!.message).toMatch(/a label image needs one channel/);
    expect(r.problems[1]!.message).toMatch(/pixel \(y=0, x=0\) is -2/);
  });

  it('an empty set, a set without pairs, only validation pairs, or no objects at all are problems of the set', () => {
    expect(validateTrainingFiles([], { setName: 'd.zip' }).problems).toEqual([
      { file: 'd.zip', code: 'empty', message: 'd.zip holds no files' },
    ]);
    const none = validateTrainingFiles(files({ 'notes.txt': new Uint8Array(1) }), { setName: 'd.zip' });
    expect(none.problems).toMatchObject([{ file: 'd.zip', code: 'no-pairs' }]);
    expect(none.problems[0]!.message).toMatch(/found: notes\.txt/);
    const valOnly = validateTrainingFiles(
      files({ 'val/a.image.png': good.image, 'val/a.labels.png': good.labels }),
    );
    expect(valOnly.problems).toMatchObject([{ code: 'no-pairs' }]);
    const blank = pair(12, 16, 0);
    const empty = validateTrainingFiles(files({ 'a.image.png': blank.image, 'a.labels.png': blank.labels }));
    expect(empty.problems).toMatchObject([{ code: 'no-objects' }]);
  });
});

describe('training data store', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'train-data-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('expands zips (prefixed by zip name when there are several), reports empty and unsafe zips by name', () => {
    const zip = packZip([
      { name: 'a.image.png', data: good.image },
      { name: 'a.labels.png', data: good.labels },
    ]);
    expect(filesFromUploads([{ name: 'one.zip', bytes: zip }]).files.map((f) => f.path)).toEqual([
      'a.image.png',
      'a.labels.png',
    ]);
    const two = filesFromUploads([
      { name: 'one.zip', bytes: zip },
      { name: 'two.zip', bytes: zip },
      { name: 'x.image.png', bytes: good.image },
    ]);
    expect(two.files.map((f) => f.path)).toEqual([
      'one/a.image.png',
      'one/a.labels.png',
      'two/a.image.png',
      'two/a.labels.png',
      'x.image.png',
    ]);
    const empty = filesFromUploads([{ name: 'empty.zip', bytes: packZip([]) }]);
    expect(empty.problems).toEqual([
      { file: 'empty.zip', code: 'empty', message: 'empty.zip holds no files' },
    ]);
    const broken = filesFromUploads([{ name: 'bad.zip', bytes: zip.slice(0, 40) }]);
    expect(broken.problems).toMatchObject([{ file: 'bad.zip', code: 'bad-archive' }]);
  });

  it('stores checked pairs in the bucket and fetches them back as train/ and val/ folders', async () => {
    const src = join(dir, 'src');
    await mkdir(join(src, 'val'), { recursive: true });
    await writeFile(join(src, 'a.image.png'), good.image);
    await writeFile(join(src, 'a.labels.png'), good.labels);
    await writeFile(join(src, 'val', 'b.image.png'), good.image);
    await writeFile(join(src, 'val', 'b.labels.png'), good.labels);
    const read = await readTrainingFolder(src);
    expect(read.map((f) => f.path)).toEqual([
      'a.image.png',
      'a.labels.png',
      'val/b.image.png',
      'val/b.labels.png',
    ]);
    const report = validateTrainingFiles(read);
    const storage = new LocalFolderStorage(join(dir, 'bucket'));
    const keys = await storeTrainingPairs(storage, 'training/t1/data/', report.pairs);
    expect(keys).toEqual([
      'training/t1/data/train/a.image.png',
      'training/t1/data/train/a.labels.png',
      'training/t1/data/val/b.image.png',
      'training/t1/data/val/b.labels.png',
    ]);
    const got = await fetchTrainingData(storage, 'training/t1/data/', join(dir, 'local'));
    expect(got).toEqual({ trainDir: join(dir, 'local', 'train'), valDir: join(dir, 'local', 'val') });
    expect(await readdir(got.trainDir)).toEqual(['a.image.png', 'a.labels.png']);
  });
});

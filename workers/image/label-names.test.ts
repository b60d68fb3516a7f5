import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NUCLEI_TRAIN } from '../../test/data.js';
import { fileStem } from '../queues/names.js';
import {
  deepCellEntryName,
  labelFileName,
  labelFileNameOfDeepCellEntry,
  labelKeyName,
  pairingName,
  uniqueLabelFileName,
} from './label-names.js';

describe('label-file names (issue 23 #2: one rule everywhere)', () => {
  it('NAME.image.EXT and NAME.EXT give NAME.labels.tif; .ome goes with the extension; folders are kept', () => {
    expect(labelFileName('a.image.png')).toBe('a.labels.tif');
    expect(labelFileName('a.png')).toBe('a.labels.tif');
    expect(labelFileName('cells 1.TIFF')).toBe('cells 1.labels.tif');
    expect(labelFileName('b.ome.tiff')).toBe('b.labels.tif');
    expect(labelFileName('b.image.ome.tif')).toBe('b.labels.tif');
    expect(labelFileName('plate1/well.v2.image.tif')).toBe('plate1/well.v2.labels.tif');
    expect(labelFileName('C:\\data\\x.tif')).toBe('C:\\data\\x.labels.tif');
    expect(labelFileName('stack.tif', 3)).toBe('stack_3.labels.tif');
    expect(labelFileName('noext')).toBe('noext.labels.tif');
    expect(labelFileName('.image.png')).toBe('image.labels.tif');
  });

  it("the training data's own pairs follow it: every NAME.image.png's labels file is NAME.labels.tif's NAME", () => {
    const names = readdirSync(NUCLEI_TRAIN);
    const images = names.filter((n) => n.endsWith('.image.png'));
    expect(images.length).toBeGreaterThan(100);
    for (const image of images) {
      const labels = labelFileName(image);
      expect(names).toContain(labels.replace(/\.tif$/, '.png'));
      expect(pairingName(labels)).toBe(pairingName(labels.replace(/\.tif$/, '.png')));
      expect(pairingName(image)).toBeUndefined(); // the raw image is not a label file
    }
  });

  it('as a bucket key segment: folders flattened, other characters _ (as the DeepCell names)', () => {
    expect(labelKeyName('plate/cell 1.image.png')).toBe('plate_cell_1.labels.tif');
    expect(labelKeyName('µ.png')).toBe('image.labels.tif');
    expect(labelKeyName('ü-x.tif')).toBe('-x.labels.tif');
    // the DeepCell zip entry of the same image keeps its name
    expect(deepCellEntryName(fileStem('plate/cell 1.image.png'))).toBe('plate_cell_1.image_feature_0.tif');
  });

  it('a DeepCell zip entry maps back to the same NAME.labels.tif', () => {
    for (const image of ['a.png', 'a.image.png', 'plate/b.image.tif', 'c.ome.tif']) {
      const entry = deepCellEntryName(fileStem(image));
      expect(labelFileNameOfDeepCellEntry(entry)).toBe(labelKeyName(image));
    }
    expect(labelFileNameOfDeepCellEntry('a.labels.tif')).toBeUndefined();
  });

  it('several images in one zip: NAME.labels.tif, then NAME-2.labels.tif, ...', () => {
    const taken = new Set<string>();
    expect(['a.png', 'a.tif', 'a.image.png', 'b.png'].map((n) => uniqueLabelFileName(taken, n))).toEqual([
      'a.labels.tif',
      'a-2.labels.tif',
      'a-3.labels.tif',
      'b.labels.tif',
    ]);
  });

  it('pairingName reads every name the project writes or reads back to NAME', () => {
    const names: [string, string | undefined][] = [
      ['x.labels.tif', 'x'], // kiosk segment / predict, API, web UI
      ['x.labels.png', 'x'], // training data
      ['x.labels.tiff', 'x'],
      ['x_feature_0.tif', 'x'], // DeepCell zip entry
      ['x.image_feature_0.tif', 'x'], // DeepCell zip entry of x.image.png
      ['x.image.labels.tif', 'x'], // the web UI's and kiosk predict's older name
      ['x.png', 'x'],
      ['x.ome.tif', 'x'],
      ['x_3.labels.tif', 'x_3'], // plane 3 of a stack: its own NAME
      ['x.image.png', undefined], // raw image
      ['x.image.ome.tif', undefined],
      ['notes.txt', undefined],
      ['x.zip', undefined],
    ];
    for (const [name, want] of names) expect([name, pairingName(name)]).toEqual([name, want]);
  });
});

import { describe, expect, it } from 'vitest';
import { encodeLabelsTiff, encodeTiff } from '../../../workers/image/tiff-write.js';
import { ImageError } from '../../../workers/image/types.js';
import { classifyFile } from './files.js';
import { decodeLabelTiff } from './label-file.js';

describe('classifyFile', () => {
  it('sends images and zips, whatever the case of the extension', () => {
    expect(classifyFile('a.png', 10).kind).toBe('image');
    expect(classifyFile('dir/b.TIF', 10).kind).toBe('image');
    expect(classifyFile('c.ome.tiff', 10).kind).toBe('image');
    expect(classifyFile('batch.Zip', 10).kind).toBe('zip');
  });

  it('skips hidden and system files of a folder quietly', () => {
    expect(classifyFile('run1/.DS_Store', 6148).kind).toBe('skip');
    expect(classifyFile('run1/Thumbs.db', 10).kind).toBe('skip');
    expect(classifyFile('.hidden.png', 10).kind).toBe('skip');
  });

  it('refuses other files and empty files with a reason naming them', () => {
    expect(classifyFile('notes.txt', 10)).toEqual({
      kind: 'unsupported',
      reason:
        'notes.txt: .txt files are not supported — drop TIFF (.tif, .tiff) or PNG images, or a .zip of them',
    });
    expect(classifyFile('dir/README', 3).reason).toMatch(/^README: \(no extension\) files are not supported/);
    expect(classifyFile('x.png', 0)).toEqual({ kind: 'unsupported', reason: 'x.png is empty (0 bytes)' });
  });
});

describe('decodeLabelTiff', () => {
  it('reads back a label TIFF written by the service encoder, ids above 65535 included', () => {
    const data = new Uint32Array([0, 1, 2, 70000, 0, 3]);
    const tif = encodeLabelsTiff({ data, width: 3, height: 2 }, { compression: 'deflate' });
    expect(decodeLabelTiff(tif)).toEqual({ data, width: 3, height: 2 });
  });

  it('reads uint16 labels', () => {
    const tif = encodeTiff({
      data: new Uint16Array([0, 5, 5, 9]),
      dtype: 'uint16',
      shape: [2, 2],
      axes: 'YX',
    });
    expect(decodeLabelTiff(tif)).toEqual({ data: new Uint32Array([0, 5, 5, 9]), width: 2, height: 2 });
  });

  it('refuses stacks, floats and negative labels, and non-TIFF bytes', () => {
    const stack = encodeTiff({ data: new Uint16Array(8), dtype: 'uint16', shape: [2, 2, 2], axes: 'QYX' });
    expect(() => decodeLabelTiff(stack)).toThrow(/one plane; this TIFF has shape \[2, 2, 2\]/);
    const f = encodeTiff({ data: new Float32Array(4), dtype: 'float32', shape: [2, 2], axes: 'YX' });
    expect(() => decodeLabelTiff(f)).toThrow(/integers; this TIFF holds float32/);
    const neg = encodeTiff({
      data: new Int16Array([0, -2, 0, 0]),
      dtype: 'int16',
      shape: [2, 2],
      axes: 'YX',
    });
    expect(() => decodeLabelTiff(neg)).toThrow(/≥ 0; found -2 at pixel 1/);
    expect(() => decodeLabelTiff(new TextEncoder().encode('hello world'))).toThrow(ImageError);
  });
});

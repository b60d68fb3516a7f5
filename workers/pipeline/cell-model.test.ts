import { describe, expect, it } from 'vitest';
import { ImageError } from '../image/types.js';
import { cellModelInfo, parseModelRef } from './cell-model.js';

const imported = (labels: object, channels: unknown = 1) => ({
  name: 'm',
  version: 1,
  input: { channels },
  bioimageio: { labels },
});

describe('parseModelRef', () => {
  it('reads name and name@version', () => {
    expect(parseModelRef('cells-fg')).toEqual({ name: 'cells-fg' });
    expect(parseModelRef('cells_fg@12')).toEqual({ name: 'cells_fg', version: '12' });
  });
  it('refuses anything else, naming the option and the text', () => {
    for (const bad of ['', 'a b', '-x', 'x@', 'x@v2', 'x@1@2'])
      expect(() => parseModelRef(bad)).toThrow(/'cellModel' must be a model name or name@version/);
    expect(() => parseModelRef('a b', '--cell-model')).toThrow(/'--cell-model' must .* got "a b"/);
  });
});

describe('cellModelInfo', () => {
  it('a foreground import: 1 channel, its threshold, no boundaries', () => {
    const info = cellModelInfo(
      imported({ method: 'foreground-watershed', threshold: 0.4, minDistance: 4, minSize: 10 }),
      'm@1',
    );
    expect([info.channels, info.boundaries, info.threshold]).toEqual([1, false, 0.4]);
  });
  it('a foreground + boundary import taking [nuclear, membrane]', () => {
    const info = cellModelInfo(
      imported({ method: 'boundary-watershed', threshold: 0.5, boundaryThreshold: 0.5, minSize: 10 }, 2),
      'm@1',
    );
    expect([info.channels, info.boundaries, info.threshold]).toEqual([2, true, 0.5]);
  });
  it('refuses a model of our own, deep-watershed heads and other channel counts, naming the model', () => {
    const fg = { method: 'foreground-watershed', threshold: 0.5, minDistance: 4, minSize: 10 };
    expect(() => cellModelInfo({ name: 'nuclear', version: 1, input: { channels: 1 } }, 'nuclear@1')).toThrow(
      ImageError,
    );
    expect(() => cellModelInfo({ name: 'nuclear', version: 1 }, 'nuclear@1')).toThrow(
      /'cellModel' nuclear@1 is not a bioimage\.io import/,
    );
    expect(() => cellModelInfo(imported({ method: 'deep-watershed' }), 'exp@2')).toThrow(
      /'cellModel' exp@2 predicts nuclei by deep watershed/,
    );
    expect(() => cellModelInfo(imported(fg, 3), 'rgb@1')).toThrow(
      /'cellModel' rgb@1 takes 3 channel\(s\); a whole-cell model takes 1 \(membrane\) or 2/,
    );
  });
});

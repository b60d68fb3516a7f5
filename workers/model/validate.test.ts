import { beforeAll, describe, expect, it } from 'vitest';
import { diskLabels, randomDisks } from '../image/synthetic-nuclei.js';
import { buildNetwork } from './network.js';
import { initTfjs } from './runtime.js';
import { predictMaps, segmentAtScale, validate } from './validate.js';

beforeAll(async () => {
  await initTfjs({ prefer: 'wasm' });
});

const labels = diskLabels(randomDisks(6, 30, 37, { minR: 3, maxR: 4, seed: 3 }), 30, 37);
const image = {
  data: Float32Array.from(labels.data, (v) => (v ? 1 : 0)),
  height: 30,
  width: 37,
  channels: 1,
};

describe('validation helpers', () => {
  it('predictMaps pads to the size multiple and crops back, fg is a probability', () => {
    const maps = predictMaps(buildNetwork({ baseFilters: 2, depth: 2 }), image, 4);
    for (const m of [maps.inner, maps.outer, maps.fg]) expect([m.height, m.width]).toEqual([30, 37]);
    expect(maps.fg.data.every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it('segmentAtScale returns labels at the input size for any scale', () => {
    const model = buildNetwork({ baseFilters: 2, depth: 2 });
    for (const scale of [0.5, 1, 1.7]) {
      const out = segmentAtScale(model, image, scale, { multiple: 4 });
      expect([out.height, out.width]).toEqual([30, 37]);
    }
  });

  it('validate scores against the truth and needs the original images', () => {
    const model = buildNetwork({ baseFilters: 2, depth: 2 });
    const sample = { name: 's', sizeClass: '30x37', medianDiameter: 7, scale: 1, image, labels };
    const r = validate(model, [{ ...sample, original: { image, labels } }], { multiple: 4 });
    expect(r.images).toBe(1);
    expect(r.f1).toBeGreaterThanOrEqual(0);
    expect(r.dsb).toBeLessThanOrEqual(1);
    expect(() => validate(model, [sample], { multiple: 4 })).toThrow(
      /validation sample s was loaded without keepOriginal/,
    );
  });
});

import { describe, expect, it } from 'vitest';

describe('cellkiosk/image entry point', () => {
  it('exposes the image core through the package export, as another project would import it', async () => {
    const image = await import('cellkiosk/image');
    for (const name of [
      'decodeImage',
      'encodeLabelsTiff',
      'toImages',
      'resizeBilinear',
      'percentileNormalize',
      'tileImage',
      'untile',
      'deepWatershed',
      'scoreImage',
      'ImageError',
    ]) {
      expect(typeof (image as Record<string, unknown>)[name], name).toBe('function');
    }
  });
});

import type { LabelVolume } from './stitch.js';
import { encodeTiff } from './tiff-write.js';
import { ImageError } from './types.js';

/**
 * Encodes a 3-D label volume [Z, H, W] as a ZYX TIFF stack (one page per z plane, an ImageJ description with
 * `slices=Z`, so Fiji opens it as a z-stack): uint16 when the largest label is ≤ 65535, else uint32;
 * deflate-compressed; the µm/px in X/Y stated when given. Data length ≠ Z × H × W → 'shape-mismatch'.
 */
export function encodeLabelVolumeTiff(volume: LabelVolume, micronsPerPixel?: number): Uint8Array {
  const { data, depth, height, width } = volume;
  if (data.length !== depth * height * width)
    throw new ImageError(
      'shape-mismatch',
      `the volume is ${depth}x${height}x${width} but holds ${data.length} values`,
    );
  let max = 0;
  for (let i = 0; i < data.length; i++) if (data[i]! > max) max = data[i]!;
  const small = max <= 0xffff;
  return encodeTiff(
    {
      data: small ? Uint16Array.from(data) : data,
      dtype: small ? 'uint16' : 'uint32',
      shape: [depth, height, width],
      axes: 'ZYX',
      ...(micronsPerPixel ? { physicalSizeX: micronsPerPixel, physicalSizeY: micronsPerPixel } : {}),
    },
    { compression: 'deflate' },
  );
}

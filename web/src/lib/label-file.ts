/**
 * Reads a label TIFF (the service's `<stem>_feature_0.tif` / labels download) in the browser with the
 * project's own decoder (workers/image/tiff-read.ts, pure TS + fflate). Pure.
 */
import { decodeTiff } from '../../../workers/image/tiff-read.js';
import { ImageError } from '../../../workers/image/types.js';

export interface LabelImage {
  /** [H, W] row-major; 0 = background. */
  readonly data: Uint32Array;
  readonly width: number;
  readonly height: number;
}

/**
 * Decodes a single-plane integer TIFF into labels. Throws ImageError ('unsupported-format') for a TIFF
 * with several planes or a float/signed-negative sample type, and the decoder's own ImageError for
 * anything that is not a valid TIFF.
 */
export function decodeLabelTiff(bytes: Uint8Array): LabelImage {
  const raw = decodeTiff(bytes);
  const plane = raw.shape.filter((n, i) => raw.axes[i] !== 'Y' && raw.axes[i] !== 'X' && n !== 1);
  if (plane.length > 0)
    throw new ImageError(
      'unsupported-format',
      `a label image has one plane; this TIFF has shape [${raw.shape.join(', ')}] (axes ${raw.axes})`,
    );
  if (raw.dtype.startsWith('float'))
    throw new ImageError('unsupported-format', `labels must be integers; this TIFF holds ${raw.dtype}`);
  const height = raw.shape[raw.axes.indexOf('Y')]!;
  const width = raw.shape[raw.axes.indexOf('X')]!;
  const data = new Uint32Array(width * height);
  for (let i = 0; i < data.length; i++) {
    const v = raw.data[i]!;
    if (v < 0) throw new ImageError('unsupported-format', `labels must be ≥ 0; found ${v} at pixel ${i}`);
    data[i] = v;
  }
  return { data, width, height };
}

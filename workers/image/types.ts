/**
 * Shared image types of the pure image core. Conventions (like scikit-image):
 * - arrays are row-major; axis order is written next to each type;
 * - no function mutates its inputs; outputs go to new arrays or to an explicit `out` argument.
 */

export type DType = 'uint8' | 'uint16' | 'uint32' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

export type TypedPixels =
  Uint8Array | Uint16Array | Uint32Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/**
 * An n-dimensional array as decoded from a file, before any interpretation.
 * `shape` lists the axis lengths, outermost first; `axes` names them with one letter each, same length
 * as `shape`: T (time), Z, C (channel), Y, X, S (samples per pixel, interleaved), Q (unknown stack axis).
 * A 2-D grey image is `axes: 'YX'`; an interleaved RGB TIFF is `'YXS'`; a 3-page stack is `'QYX'`
 * unless the file says what the pages are (OME-TIFF `DimensionOrder`).
 */
export interface RawArray {
  readonly data: TypedPixels;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly axes: string;
  /** Physical pixel size in µm along X and Y, when the file states it. */
  readonly physicalSizeX?: number;
  readonly physicalSizeY?: number;
}

/** A float image, axes [H, W, C] interleaved (channel fastest). Values in the source's units. */
export interface Image {
  readonly data: Float32Array;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
}

/** A label image, axes [H, W]. 0 = background, 1..N = objects. */
export interface Labels {
  readonly data: Uint32Array;
  readonly height: number;
  readonly width: number;
}

/** A single-channel float map, axes [H, W] (e.g. a model output head). */
export interface FloatMap {
  readonly data: Float32Array;
  readonly height: number;
  readonly width: number;
}

export type ImageErrorCode =
  | 'not-an-image'
  | 'truncated'
  | 'unsupported-compression'
  | 'unsupported-dtype'
  | 'unsupported-format'
  | 'empty-image'
  | 'too-many-pixels'
  /** More pages (TIFF IFDs) than the frame limit. */
  | 'too-many-frames'
  | 'bad-dimension-order'
  | 'bad-channel'
  | 'shape-mismatch'
  | 'bad-argument'
  /** Compressed pixel data that cannot be decoded although the file is complete. */
  | 'corrupt-data'
  /** A zip archive that is malformed, unsafe (path traversal, zip bomb) or over its limits. */
  | 'bad-archive';

/**
 * Every error the image core throws for bad input. `code` is stable and machine-readable (workers map it to
 * an unrecoverable job failure, the API to a 4xx); `message` says what was wrong in words, with shapes.
 */
export class ImageError extends Error {
  override readonly name = 'ImageError';
  constructor(
    readonly code: ImageErrorCode,
    message: string,
  ) {
    super(message);
  }
}

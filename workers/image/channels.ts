/**
 * Channel selection: turn a decoded n-dimensional array into float images [H, W, C], one per batch item.
 *
 * Two ways to say what the axes mean:
 * - `dimensionOrder` (the DeepCell Kiosk `jobForm.dimensionOrder` vocabulary), a string over X, Y, C and the
 *   batch-like letters B, Z, T, naming the axes of the data outermost first. As in DeepCell (numpy arrays,
 *   channels-last), X and Y are simply the two spatial axes in the order they are stored: the first spatial
 *   letter becomes the image height (rows), the second the width. So 'XY' data of shape [a, b] is an image of
 *   height a and width b, exactly as stored: a plain 2-D image comes out unchanged, never transposed, whether
 *   the client wrote 'XY' or 'YX'.
 * - otherwise the decoder's `raw.axes` (letters T Z C Y X S Q): Y is height, X is width, C and S are channels
 *   (flattened in storage order when both occur), T, Z and Q are batch axes.
 */
import { ImageError } from './types.js';
import type { Image, RawArray } from './types.js';

export interface ToImagesOptions {
  /**
   * Axis names of the data, outermost first, over the letters X, Y, C, B, Z, T (case-insensitive; X and Y
   * exactly once each, every other letter at most once). It must name either every axis of the data
   * (`raw.shape.length` letters) or every axis longer than 1 (size-1 axes dropped first); the first rule is
   * tried first.
   * @default - interpret `raw.axes`
   */
  readonly dimensionOrder?: string;
  /**
   * Channel indices to keep, in output order (repeats allowed). Indices count the flattened channel axes.
   * @default - every channel, in stored order
   */
  readonly channels?: readonly number[];
}

type AxisRole = 'y' | 'x' | 'channel' | 'batch';

interface Axis {
  readonly size: number;
  readonly stride: number;
  readonly role: AxisRole;
}

/**
 * Splits `raw` into float images [H, W, C] (channel fastest), one per batch item: batch positions of every
 * batch axis (B/Z/T, or T/Z/Q in `raw.axes`) flattened row-major in storage order. Values are converted to
 * float32 without scaling (uint32/float64 values beyond 2^24 lose precision as float32 does; NaN passes
 * through). A data set without channel axes gives C = 1.
 *
 * @throws ImageError 'shape-mismatch' if `raw.shape`, `raw.axes` and `raw.data.length` disagree;
 *   'empty-image' if an axis has length 0; 'bad-dimension-order' if the order has unknown or repeated
 *   letters, lacks X or Y, or has the wrong length for the data; 'bad-channel' if a channel index is not an
 *   integer in [0, channels) or the selection is empty.
 */
export function toImages(raw: RawArray, opts: ToImagesOptions = {}): Image[] {
  checkRaw(raw);
  const axes =
    opts.dimensionOrder === undefined ? axesFromRaw(raw) : axesFromOrder(raw.shape, opts.dimensionOrder);
  const byRole = (role: AxisRole): Axis[] => axes.filter((a) => a.role === role);
  const [yAxis] = byRole('y');
  const [xAxis] = byRole('x');
  if (yAxis === undefined || xAxis === undefined) {
    throw new ImageError('bad-dimension-order', `data axes '${raw.axes}' have no Y and X axis`);
  }
  const channelOffsets = flatOffsets(byRole('channel'));
  const batchOffsets = flatOffsets(byRole('batch'));
  const selected = selectChannels(opts.channels, channelOffsets.length);

  const { size: height, stride: sy } = yAxis;
  const { size: width, stride: sx } = xAxis;
  const c = selected.length;
  const offsets = Int32Array.from(selected, (i) => channelOffsets[i] as number);
  const src = raw.data;
  return Array.from(batchOffsets, (base) => {
    const data = new Float32Array(height * width * c);
    let o = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const p = base + y * sy + x * sx;
        for (let k = 0; k < c; k++) data[o++] = src[p + (offsets[k] as number)] as number;
      }
    }
    return { data, height, width, channels: c };
  });
}

function checkRaw(raw: RawArray): void {
  const shape = raw.shape;
  if (raw.axes.length !== shape.length) {
    throw new ImageError(
      'shape-mismatch',
      `axes '${raw.axes}' (${raw.axes.length} letters) do not match shape [${shape.join(', ')}]`,
    );
  }
  if (!shape.every((n) => Number.isInteger(n) && n >= 0)) {
    throw new ImageError('shape-mismatch', `shape [${shape.join(', ')}] must hold non-negative integers`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (count === 0) throw new ImageError('empty-image', `data of shape [${shape.join(', ')}] has no pixels`);
  if (count !== raw.data.length) {
    throw new ImageError(
      'shape-mismatch',
      `shape [${shape.join(', ')}] needs ${count} values but the data holds ${raw.data.length}`,
    );
  }
}

/** Row-major strides of `shape` (last axis fastest). */
function strides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = s;
    s *= shape[i] as number;
  }
  return out;
}

function axesFromRaw(raw: RawArray): Axis[] {
  const st = strides(raw.shape);
  const roles: Record<string, AxisRole> = {
    Y: 'y',
    X: 'x',
    C: 'channel',
    S: 'channel',
    T: 'batch',
    Z: 'batch',
    Q: 'batch',
  };
  const seen = new Set<string>();
  return [...raw.axes].map((letter, i) => {
    const role = roles[letter];
    if (role === undefined || seen.has(letter)) {
      throw new ImageError(
        'bad-dimension-order',
        `data axes '${raw.axes}' must use each of T Z C Y X S Q at most once (got '${letter}')`,
      );
    }
    seen.add(letter);
    return { size: raw.shape[i] as number, stride: st[i] as number, role };
  });
}

function axesFromOrder(shape: readonly number[], dimensionOrder: string): Axis[] {
  const order = dimensionOrder.toUpperCase();
  const shown = `[${shape.join(', ')}]`;
  const fail = (why: string): never => {
    throw new ImageError(
      'bad-dimension-order',
      `dimension order '${dimensionOrder}' ${why} (data shape ${shown})`,
    );
  };
  const roles: Record<string, AxisRole> = {
    Y: 'y',
    X: 'x',
    C: 'channel',
    B: 'batch',
    Z: 'batch',
    T: 'batch',
  };
  const letters = [...order];
  for (const [i, letter] of letters.entries()) {
    if (roles[letter] === undefined) fail(`has '${letter}'; allowed letters are X, Y, C, B, Z, T`);
    if (letters.indexOf(letter) !== i) fail(`repeats '${letter}'`);
  }
  if (!letters.includes('X') || !letters.includes('Y')) fail('must contain both X and Y');

  const st = strides(shape);
  let kept = shape.map((_, i) => i);
  if (letters.length !== shape.length) {
    kept = kept.filter((i) => shape[i] !== 1);
    if (letters.length !== kept.length) {
      fail(
        `has ${letters.length} letters, but the data has ${shape.length} axes (${kept.length} longer than 1)`,
      );
    }
  }
  // Dropped size-1 axes contribute nothing to addressing. The first spatial letter is the height axis.
  let spatialSeen = 0;
  return letters.map((letter, j) => {
    const i = kept[j] as number;
    let role = roles[letter] as AxisRole;
    if (role === 'x' || role === 'y') role = spatialSeen++ === 0 ? 'y' : 'x';
    return { size: shape[i] as number, stride: st[i] as number, role };
  });
}

/** Element offsets of every position of `axes` flattened row-major (outer axis first); [0] if none. */
function flatOffsets(axes: readonly Axis[]): number[] {
  let offsets = [0];
  for (const { size, stride } of axes) {
    const next: number[] = [];
    for (const base of offsets) for (let i = 0; i < size; i++) next.push(base + i * stride);
    offsets = next;
  }
  return offsets;
}

function selectChannels(channels: readonly number[] | undefined, available: number): number[] {
  if (channels === undefined) return Array.from({ length: available }, (_, i) => i);
  if (channels.length === 0) {
    throw new ImageError('bad-channel', `channel selection is empty; the data has ${available} channel(s)`);
  }
  for (const c of channels) {
    if (!Number.isInteger(c) || c < 0 || c >= available) {
      throw new ImageError(
        'bad-channel',
        `channel ${c} does not exist: the data has ${available} channel(s), valid indices 0..${available - 1}`,
      );
    }
  }
  return [...channels];
}

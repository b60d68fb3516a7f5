/**
 * NumPy `.npy` files (format 1.0, 2.0 and 3.0), the test tensors of bioimage.io packages. Pure.
 * Reads little- and big-endian float32/float64, (u)int8/16/32 and int64/uint64 (as float64 numbers, exact
 * up to 2^53), C order only; writes float32 little-endian C order (format 1.0).
 */

export class NpyError extends Error {
  override readonly name = 'NpyError';
}

export interface NpyArray {
  /** The values in C (row-major) order, as float32. */
  readonly data: Float32Array;
  readonly shape: readonly number[];
  /** The numpy dtype string of the file, e.g. '<f4'. */
  readonly dtype: string;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Most values a .npy file may hold here (2^28: 1 GiB of float32). */
export const MAX_NPY_VALUES = 2 ** 28;

function headerField(header: string, key: string): string | undefined {
  const m = new RegExp(`['"]${key}['"]\\s*:\\s*`).exec(header);
  if (!m) return undefined;
  return header.slice(m.index + m[0].length);
}

/** Parses a `.npy` file; NpyError names what is wrong (magic, header, dtype, order, size). */
export function readNpy(bytes: Uint8Array, what = 'npy file'): NpyArray {
  if (bytes.length < 10 || !MAGIC.every((b, i) => bytes[i] === b))
    throw new NpyError(`${what} is not a .npy file (no \\x93NUMPY magic)`);
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new NpyError(`${what}: truncated header`);
    headerLen = view.getUint32(8, true);
    start = 12;
  } else throw new NpyError(`${what}: unsupported .npy format version ${major}`);
  if (start + headerLen > bytes.length) throw new NpyError(`${what}: header runs past the end of the file`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    bytes.subarray(start, start + headerLen),
  );
  const descrText = headerField(header, 'descr');
  const dm = descrText ? /^['"]([<>|=]?[a-zA-Z]\d*)['"]/.exec(descrText) : null;
  if (!dm) throw new NpyError(`${what}: header has no simple 'descr' (structured dtypes are not supported)`);
  const dtype = dm[1]!;
  const fortran = headerField(header, 'fortran_order');
  if (!fortran) throw new NpyError(`${what}: header has no 'fortran_order'`);
  if (fortran.startsWith('True'))
    throw new NpyError(`${what}: Fortran-order arrays are not supported; save it in C order`);
  const shapeText = headerField(header, 'shape');
  const sm = shapeText ? /^\(([^)]*)\)/.exec(shapeText) : null;
  if (!sm) throw new NpyError(`${what}: header has no 'shape' tuple`);
  const shape = sm[1]!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      if (!/^\d+$/.test(s)) throw new NpyError(`${what}: bad shape entry '${s}'`);
      return Number(s);
    });
  const count = shape.reduce((a, b) => a * b, 1);
  if (count > MAX_NPY_VALUES)
    throw new NpyError(`${what} holds ${count} values; at most ${MAX_NPY_VALUES} are read`);
  const little = !dtype.startsWith('>');
  const kind = dtype.replace(/^[<>|=]/, '');
  const readers: Record<string, [number, (o: number) => number]> = {
    f4: [4, (o) => view.getFloat32(o, little)],
    f8: [8, (o) => view.getFloat64(o, little)],
    u1: [1, (o) => view.getUint8(o)],
    i1: [1, (o) => view.getInt8(o)],
    b1: [1, (o) => view.getUint8(o)],
    u2: [2, (o) => view.getUint16(o, little)],
    i2: [2, (o) => view.getInt16(o, little)],
    u4: [4, (o) => view.getUint32(o, little)],
    i4: [4, (o) => view.getInt32(o, little)],
    u8: [8, (o) => Number(view.getBigUint64(o, little))],
    i8: [8, (o) => Number(view.getBigInt64(o, little))],
  };
  const reader = readers[kind];
  if (!reader) throw new NpyError(`${what}: dtype '${dtype}' is not supported (floats, ints, bool)`);
  const [size, get] = reader;
  const dataStart = start + headerLen;
  if (dataStart + count * size > bytes.length)
    throw new NpyError(
      `${what}: shape (${shape.join(', ')}) of ${dtype} needs ${count * size} bytes; the file has ${bytes.length - dataStart}`,
    );
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = get(dataStart + i * size);
  return { data, shape, dtype };
}

/** A float32 little-endian C-order `.npy` (format 1.0) of `data` with `shape`. */
export function writeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length)
    throw new NpyError(`writeNpy: shape (${shape.join(', ')}) needs ${count} values; got ${data.length}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.length * 4);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const view = new DataView(out.buffer, 10 + header.length);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  return out;
}

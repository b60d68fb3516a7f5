/**
 * A small binary container for the arrays one stage hands to the next through the bucket (tiles, model
 * outputs, untiling metadata). Any JSON-like value may hold typed arrays anywhere; they are stored raw
 * (little-endian, 8-byte aligned), the rest as JSON. Layout:
 *   'KTP1' | u32 header length | header JSON (utf-8) | pad to 8 | blob 0 | pad | blob 1 | ...
 * The header is the value with each typed array replaced by `{ "$ta": type, "i": blobIndex, "n": length }`.
 */

type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | Uint8ClampedArray;

const CTORS = {
  Float32Array,
  Float64Array,
  Int8Array,
  Int16Array,
  Int32Array,
  Uint8Array,
  Uint16Array,
  Uint32Array,
  Uint8ClampedArray,
} as const;
type CtorName = keyof typeof CTORS;

const MAGIC = [0x4b, 0x54, 0x50, 0x31]; // KTP1

export class TensorPackError extends Error {
  override readonly name = 'TensorPackError';
}

const align8 = (n: number) => (n + 7) & ~7;

/** Encodes `value` (plain objects, arrays, numbers, strings, booleans, null and typed arrays). */
export function packTensors(value: unknown): Uint8Array {
  const parts = packTensorParts(value);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

const ZEROS = new Uint8Array(8);

/**
 * The bytes packTensors makes, as parts to be stored one after another: the header, then each array's
 * bytes (views of the arrays themselves, not copies) with the padding that aligns the next. Storage.put
 * takes them as they are, so a large pack is never copied into one buffer on its way to a file.
 */
export function packTensorParts(value: unknown): Uint8Array[] {
  const blobs: TypedArray[] = [];
  const header = JSON.stringify(value, function (this: unknown, _k, v: unknown) {
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      const name = v.constructor.name as CtorName;
      if (!(name in CTORS)) throw new TensorPackError(`cannot pack a ${name}`);
      blobs.push(v as TypedArray);
      return { $ta: name, i: blobs.length - 1, n: (v as TypedArray).length };
    }
    return v;
  });
  const json = Buffer.from(header ?? 'null', 'utf8');
  const head = new Uint8Array(align8(8 + json.byteLength));
  head.set(MAGIC, 0);
  new DataView(head.buffer).setUint32(4, json.byteLength, true);
  head.set(json, 8);
  const parts: Uint8Array[] = [head];
  for (const b of blobs) {
    parts.push(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    const pad = align8(b.byteLength) - b.byteLength;
    if (pad > 0) parts.push(ZEROS.subarray(0, pad));
  }
  return parts;
}

export interface UnpackOptions {
  /**
   * Copy each array out of `bytes` (true), or return views into `bytes` where the array's offset is a
   * multiple of its element size (false: no copies; the caller must not reuse `bytes`; a pack read whole
   * from a file starts at offset 0, so every array is aligned). @default true
   */
  readonly copy?: boolean;
}

/** Decodes what packTensors wrote. Throws TensorPackError on bad bytes. */
export function unpackTensors<T = unknown>(bytes: Uint8Array, opts: UnpackOptions = {}): T {
  if (bytes.byteLength < 8 || MAGIC.some((m, i) => bytes[i] !== m))
    throw new TensorPackError('not a tensor pack (bad magic)');
  const headLen = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  if (8 + headLen > bytes.byteLength)
    throw new TensorPackError(`truncated tensor pack: header of ${headLen} bytes in ${bytes.byteLength}`);
  const header = Buffer.from(bytes.buffer, bytes.byteOffset + 8, headLen).toString('utf8');
  const refs: { $ta: CtorName; i: number; n: number }[] = [];
  JSON.parse(header, (_k, v: unknown) => {
    if (isRef(v)) refs[v.i] = v;
    return v;
  });
  let at = align8(8 + headLen);
  const arrays: TypedArray[] = refs.map((r) => {
    const Ctor = CTORS[r.$ta];
    const len = r.n * Ctor.BYTES_PER_ELEMENT;
    if (at + len > bytes.byteLength)
      throw new TensorPackError(`truncated tensor pack: blob ${r.i} ends past the data`);
    const offset = bytes.byteOffset + at;
    at = align8(at + len);
    if (opts.copy === false && offset % Ctor.BYTES_PER_ELEMENT === 0)
      return new Ctor(bytes.buffer as ArrayBuffer, offset, r.n);
    const copy = new Uint8Array(len);
    copy.set(new Uint8Array(bytes.buffer, offset, len));
    return new Ctor(copy.buffer);
  });
  return JSON.parse(header, (_k, v: unknown) => (isRef(v) ? arrays[v.i] : v)) as T;
}

function isRef(v: unknown): v is { $ta: CtorName; i: number; n: number } {
  return (
    typeof v === 'object' &&
    v !== null &&
    '$ta' in v &&
    typeof (v as { $ta: unknown }).$ta === 'string' &&
    (v as { $ta: string }).$ta in CTORS
  );
}

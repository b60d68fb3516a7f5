/**
 * Fuzzing support for the decoders (used by workers/image/fuzz-*.test.ts and bench/fuzz.bench.ts; not part of
 * the image core's exports). A case is either a real file with a few mutations — bit flips, byte writes,
 * truncation, splices from another file, and writes of edge values (0, 2^31, 2^32 - 1, the file length...)
 * into the format's header fields (TIFF IFD entries, PNG IHDR and chunk lengths, zip directory records) — or
 * random bytes, optionally after the format's magic so they get past sniffing. Each case runs through a
 * decoder and lands in one of three outcomes: it decoded, it threw the typed error, or it did anything else
 * (the bug class: any other exception). Time and the largest single buffer the case allocated are measured.
 */
import fc from 'fast-check';
import { ImageError } from './types.js';

export type Format = 'tiff' | 'png' | 'zip';

/** A header field of a real file: where it lies, its width and byte order. */
export interface Field {
  readonly at: number;
  readonly size: 1 | 2 | 4 | 8;
  readonly littleEndian: boolean;
}

/** Edge values written into header fields; -1 and -2 stand for the file length and the length - 1. */
const EDGE_VALUES = [
  0, 1, 2, 3, 7, 8, 15, 16, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000,
  0xffffffff, -1, -2,
]; // prettier-ignore

export type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'byte'; readonly at: number; readonly value: number }
  | { readonly kind: 'truncate'; readonly at: number }
  /** Copies `length` bytes from file `source` at `from` over (or into, when `insert`) position `at`. */
  | {
      readonly kind: 'splice';
      readonly at: number;
      readonly source: number;
      readonly from: number;
      readonly length: number;
      readonly insert: boolean;
    }
  /** Writes `value` (an edge value, or any 32-bit number) into header field number `field`. */
  | { readonly kind: 'field'; readonly field: number; readonly value: number };

export type FuzzCase =
  | { readonly kind: 'mutated'; readonly file: number; readonly mutations: readonly Mutation[] }
  | { readonly kind: 'random'; readonly magic: boolean; readonly bytes: Uint8Array };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.nat(255) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('splice' as const),
      at: fc.nat(),
      source: fc.nat(),
      from: fc.nat(),
      length: fc.integer({ min: 1, max: 512 }),
      insert: fc.boolean(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('field' as const),
      field: fc.nat(),
      value: fc.oneof(fc.constantFrom(...EDGE_VALUES), fc.nat({ max: 0xffffffff })),
    }),
  },
);

/** Cases over `files` real files: 85 % mutated (1-6 mutations), 15 % random bytes of up to 4 KiB. */
export function fuzzCaseArb(files: number): fc.Arbitrary<FuzzCase> {
  return fc.oneof(
    {
      weight: 17,
      arbitrary: fc.record({
        kind: fc.constant('mutated' as const),
        file: fc.nat({ max: files - 1 }),
        mutations: fc.array(mutationArb, { minLength: 1, maxLength: 6 }),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('random' as const),
        magic: fc.boolean(),
        bytes: fc.uint8Array({ maxLength: 4096 }),
      }),
    },
  );
}

const MAGIC: Record<Format, number[]> = {
  tiff: [0x49, 0x49, 0x2a, 0x00],
  png: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
  zip: [0x50, 0x4b, 0x03, 0x04],
};

/** The bytes of a case. `files` are the real files, `fields[i]` the header fields of `files[i]`. */
export function caseBytes(
  c: FuzzCase,
  format: Format,
  files: readonly Uint8Array[],
  fields: readonly (readonly Field[])[],
): Uint8Array {
  if (c.kind === 'random') {
    if (!c.magic) return c.bytes;
    const out = new Uint8Array(MAGIC[format].length + c.bytes.length);
    out.set(MAGIC[format]);
    out.set(c.bytes, MAGIC[format].length);
    if (format === 'zip' && out.length >= 22) out.set([0x50, 0x4b, 0x05, 0x06], out.length - 22); // an EOCD
    return out;
  }
  let b: Uint8Array = files[c.file % files.length]!.slice();
  const f = fields[c.file % files.length]!;
  for (const m of c.mutations) b = mutate(b, m, files, f);
  return b;
}

function mutate(
  b: Uint8Array,
  m: Mutation,
  files: readonly Uint8Array[],
  fields: readonly Field[],
): Uint8Array {
  if (b.length === 0) return b;
  switch (m.kind) {
    case 'flip':
      b[m.at % b.length]! ^= 1 << m.bit;
      return b;
    case 'byte':
      b[m.at % b.length] = m.value;
      return b;
    case 'truncate':
      return b.subarray(0, m.at % b.length);
    case 'splice': {
      const src = files[m.source % files.length]!;
      const from = m.from % src.length;
      const piece = src.subarray(from, from + m.length);
      const at = m.at % b.length;
      if (!m.insert) {
        const out = b.slice();
        out.set(piece.subarray(0, out.length - at), at);
        return out;
      }
      const out = new Uint8Array(b.length + piece.length);
      out.set(b.subarray(0, at));
      out.set(piece, at);
      out.set(b.subarray(at), at + piece.length);
      return out;
    }
    case 'field': {
      if (fields.length === 0) return b;
      const field = fields[m.field % fields.length]!;
      if (field.at + field.size > b.length) return b;
      const value = m.value === -1 ? b.length : m.value === -2 ? b.length - 1 : m.value;
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      if (field.size === 1) v.setUint8(field.at, value & 0xff);
      else if (field.size === 2) v.setUint16(field.at, value & 0xffff, field.littleEndian);
      else if (field.size === 4) v.setUint32(field.at, value >>> 0, field.littleEndian);
      else v.setBigUint64(field.at, BigInt(value >>> 0), field.littleEndian);
      return b;
    }
  }
}

/** The header fields of a real file of `format` (a best-effort walk that never throws). */
export function headerFields(format: Format, bytes: Uint8Array): Field[] {
  try {
    if (format === 'tiff') return tiffFields(bytes);
    if (format === 'png') return pngFields(bytes);
    return zipFields(bytes);
  } catch {
    return [];
  }
}

function tiffFields(b: Uint8Array): Field[] {
  const le = b[0] === 0x49;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const big = v.getUint16(2, le) === 43;
  const off = (size: 4 | 8) => (at: number) => ({ at, size, littleEndian: le });
  const word = big ? off(8) : off(4);
  const out: Field[] = [{ at: 2, size: 2, littleEndian: le }, word(big ? 8 : 4)];
  let next = big ? Number(v.getBigUint64(8, le)) : v.getUint32(4, le);
  for (let ifd = 0; ifd < 16 && next > 0 && next + 8 < b.length; ifd++) {
    const n = big ? Number(v.getBigUint64(next, le)) : v.getUint16(next, le);
    out.push({ at: next, size: big ? 8 : 2, littleEndian: le });
    const start = next + (big ? 8 : 2);
    const size = big ? 20 : 12;
    for (let i = 0; i < n && start + (i + 1) * size <= b.length; i++) {
      const p = start + i * size;
      out.push({ at: p, size: 2, littleEndian: le }, { at: p + 2, size: 2, littleEndian: le });
      out.push(word(p + 4), word(p + (big ? 12 : 8)));
    }
    const nextAt = start + n * size;
    if (nextAt + (big ? 8 : 4) > b.length) break;
    out.push(word(nextAt));
    next = big ? Number(v.getBigUint64(nextAt, le)) : v.getUint32(nextAt, le);
  }
  return out;
}

function pngFields(b: Uint8Array): Field[] {
  const out: Field[] = [16, 20].map((at) => ({ at, size: 4, littleEndian: false }) as const);
  for (let at = 24; at < 29; at++) out.push({ at, size: 1, littleEndian: false });
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let p = 8; p + 8 <= b.length;) {
    out.push({ at: p, size: 4, littleEndian: false }, { at: p + 4, size: 4, littleEndian: false });
    p += 12 + v.getUint32(p);
  }
  return out;
}

function zipFields(b: Uint8Array): Field[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const f = (at: number, size: 2 | 4): Field => ({ at, size, littleEndian: true });
  const eocd = b.length - 22;
  const out: Field[] = [f(eocd + 8, 2), f(eocd + 10, 2), f(eocd + 12, 4), f(eocd + 16, 4)];
  const count = v.getUint16(eocd + 10, true);
  let p = v.getUint32(eocd + 16, true);
  for (let i = 0; i < count && p + 46 <= eocd; i++) {
    for (const [at, size] of [[4, 2], [8, 2], [10, 2], [16, 4], [20, 4], [24, 4], [28, 2], [30, 2], [38, 4], [42, 4]] as const)
      out.push(f(p + at, size));
    const local = v.getUint32(p + 42, true);
    if (local + 30 <= b.length)
      for (const [at, size] of [[6, 2], [8, 2], [18, 4], [22, 4], [26, 2], [28, 2]] as const) out.push(f(local + at, size));
    p += 46 + v.getUint16(p + 28, true) + v.getUint16(p + 30, true) + v.getUint16(p + 32, true);
  }
  return out;
} // prettier-ignore

export type Outcome = 'decoded' | 'typed' | 'other';

export interface CaseResult {
  readonly outcome: Outcome;
  /** Wall-clock milliseconds. */
  readonly ms: number;
  /**
   * CPU milliseconds of this process over the case: what a hang shows even on a machine so busy that a
   * niced run waits seconds for a core (wall time alone then reports false hangs).
   */
  readonly cpuMs: number;
  /** Bytes of the largest buffer the case allocated (see trackAllocations). */
  readonly largestAllocation: number;
  /** What the decoder threw, if anything. */
  readonly error?: unknown;
}

/** Counts of outcomes over many cases, and the slowest and most allocating one. */
export class FuzzTally {
  tried = 0;
  decoded = 0;
  typed = 0;
  other = 0;
  slowestMs = 0;
  slowestCpuMs = 0;
  largestAllocation = 0;
  /** The first few 'other' failures: the case and the error, for a report. */
  readonly failures: { case: FuzzCase; error: unknown }[] = [];

  add(c: FuzzCase, r: CaseResult): void {
    this.tried++;
    this[r.outcome]++;
    this.slowestMs = Math.max(this.slowestMs, r.ms);
    this.slowestCpuMs = Math.max(this.slowestCpuMs, r.cpuMs);
    this.largestAllocation = Math.max(this.largestAllocation, r.largestAllocation);
    if (r.outcome === 'other' && this.failures.length < 5) this.failures.push({ case: c, error: r.error });
  }
}

/**
 * Runs `decode` on `bytes` and classifies it: no exception → 'decoded'; ImageError with one of `codes`
 * (any code when omitted) → 'typed'; anything else → 'other'.
 */
export function runCase(
  decode: (bytes: Uint8Array) => unknown,
  bytes: Uint8Array,
  codes?: readonly string[],
): CaseResult {
  allocations.largest = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let outcome: Outcome = 'decoded';
  let error: unknown;
  try {
    decode(bytes);
  } catch (err) {
    error = err;
    outcome = err instanceof ImageError && (!codes || codes.includes(err.code)) ? 'typed' : 'other';
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return {
    outcome,
    ms,
    cpuMs,
    largestAllocation: allocations.largest,
    ...(error !== undefined ? { error } : {}),
  };
}

const allocations = { largest: 0, installed: false };

/**
 * Wraps the global ArrayBuffer and typed-array constructors so that `new X(length)` records its byte size
 * (the largest since the last runCase is in CaseResult.largestAllocation). Only code that looks the
 * constructor up after this call is seen (a module that kept `const u8 = Uint8Array` before it is not), so
 * call it before importing the decoders. Idempotent.
 */
export function trackAllocations(): void {
  if (allocations.installed) return;
  allocations.installed = true;
  const g = globalThis as unknown as Record<string, unknown>;
  const names = [
    'ArrayBuffer', 'Uint8Array', 'Uint8ClampedArray', 'Int8Array', 'Uint16Array', 'Int16Array', 'Uint32Array',
    'Int32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
  ]; // prettier-ignore
  for (const name of names) {
    const ctor = g[name] as (new (...args: unknown[]) => object) & { BYTES_PER_ELEMENT?: number };
    const per = ctor.BYTES_PER_ELEMENT ?? 1;
    g[name] = new Proxy(ctor, {
      construct(target, args, newTarget) {
        const n = args[0];
        const length =
          typeof n === 'number'
            ? n
            : n !== null && typeof n === 'object' && !(n instanceof ArrayBuffer) && 'length' in n
              ? Number((n as { length: unknown }).length)
              : 0;
        if (length * per > allocations.largest) allocations.largest = length * per;
        return Reflect.construct(target, args, newTarget === g[name] ? target : newTarget) as object;
      },
    });
  }
}

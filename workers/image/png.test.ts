import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode } from 'fast-png';
import { zlibSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { pngFiles } from './fuzz-files.js';
import { decodePng, decodePngWithFastPng, encodePng } from './png.js';
import type { RawArray } from './types.js';
import { ImageError } from './types.js';
import { NUCLEI_TRAIN, NUCLEI_VAL } from '../../test/data.js';

const VAL = NUCLEI_VAL;

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ImageError);
    return (err as ImageError).code;
  }
  return 'no error';
}

describe('decodePng', () => {
  it('reads the real nuclei label PNGs as YX uint16 and images as YX uint8', () => {
    const labels = readdirSync(VAL)
      .filter((f) => f.endsWith('.labels.png'))
      .slice(0, 5);
    expect(labels.length).toBeGreaterThan(0);
    for (const f of labels) {
      const raw = decodePng(new Uint8Array(readFileSync(join(VAL, f))));
      expect(raw.axes).toBe('YX');
      expect(raw.dtype).toBe('uint16');
      expect(raw.data).toBeInstanceOf(Uint16Array);
      expect(raw.data.length).toBe(raw.shape[0]! * raw.shape[1]!);
      expect(Math.max(...raw.data)).toBeGreaterThan(0);
      const image = decodePng(new Uint8Array(readFileSync(join(VAL, f.replace('.labels.', '.image.')))));
      expect(image.dtype).toBe('uint8');
      expect(image.shape).toEqual(raw.shape);
    }
  });

  it('round-trips 8- and 16-bit grey through encodePng exactly', () => {
    const u16 = Uint16Array.from({ length: 7 * 9 }, (_, i) => i * 1000);
    const back16 = decodePng(encodePng({ data: u16, dtype: 'uint16', shape: [7, 9], axes: 'YX' }));
    expect(back16).toEqual({ data: u16, dtype: 'uint16', shape: [7, 9], axes: 'YX' });
    const u8 = Uint8Array.from({ length: 7 * 9 }, (_, i) => i * 4);
    const back8 = decodePng(encodePng({ data: u8, dtype: 'uint8', shape: [7, 9], axes: 'YX' }));
    expect(Array.from(back8.data)).toEqual(Array.from(u8));
    expect(back8.dtype).toBe('uint8');
  });

  it('gives RGB, RGBA and grey+alpha as YXS, and expands a palette to RGB', () => {
    const rgb = Uint8Array.from({ length: 2 * 3 * 3 }, (_, i) => i);
    expect(decodePng(encode({ width: 3, height: 2, data: rgb, channels: 3, depth: 8 })).shape).toEqual([
      2, 3, 3,
    ]);
    const ga = decodePng(encode({ width: 3, height: 2, data: new Uint8Array(12), channels: 2, depth: 8 }));
    expect([ga.axes, ...ga.shape]).toEqual(['YXS', 2, 3, 2]);
    const palette = [
      [10, 20, 30],
      [40, 50, 60],
    ];
    const indexed = encode({
      width: 2,
      height: 1,
      data: new Uint8Array([1, 0]),
      channels: 1,
      depth: 8,
      palette,
    });
    const expanded = decodePng(indexed);
    expect(expanded.axes).toBe('YXS');
    expect(Array.from(expanded.data)).toEqual([40, 50, 60, 10, 20, 30]);
  });

  it('unpacks 1-bit grey to one byte per pixel with values 0..1', () => {
    const packed = new Uint8Array([0b10100000, 0b01000000]); // two rows of 3 pixels
    const raw = decodePng(encode({ width: 3, height: 2, data: packed, channels: 1, depth: 1 }));
    expect(Array.from(raw.data)).toEqual([1, 0, 1, 0, 1, 0]);
  });

  it('refuses bad input with typed errors', () => {
    const good = encodePng({
      data: new Uint8Array(64 * 64).fill(7),
      dtype: 'uint8',
      shape: [64, 64],
      axes: 'YX',
    });
    expect(codeOf(() => decodePng(new Uint8Array([1, 2, 3])))).toBe('not-an-image');
    for (const cut of [10, 30, 40, good.length - 20, good.length - 5]) {
      expect(
        codeOf(() => decodePng(good.subarray(0, cut))),
        `cut at ${cut}`,
      ).toBe('truncated');
    }
    expect(codeOf(() => decodePng(good, { maxPixels: 4095 }))).toBe('too-many-pixels');
    const zero = good.slice();
    zero.fill(0, 16, 20);
    expect(codeOf(() => decodePng(zero))).toBe('empty-image');
    const badType = good.slice();
    badType[25] = 5;
    expect(codeOf(() => decodePng(badType))).toBe('unsupported-format');
  });

  it('encodePng refuses other dtypes, axes and shapes', () => {
    expect(
      codeOf(() => encodePng({ data: new Float32Array(4), dtype: 'float32', shape: [2, 2], axes: 'YX' })),
    ).toBe('unsupported-dtype');
    expect(
      codeOf(() => encodePng({ data: new Uint8Array(4), dtype: 'uint8', shape: [1, 2, 2], axes: 'CYX' })),
    ).toBe('bad-argument');
    expect(
      codeOf(() => encodePng({ data: new Uint8Array(3), dtype: 'uint8', shape: [2, 2], axes: 'YX' })),
    ).toBe('shape-mismatch');
    expect(
      codeOf(() => encodePng({ data: new Uint8Array(0), dtype: 'uint8', shape: [0, 2], axes: 'YX' })),
    ).toBe('empty-image');
  });
});

/** Deterministic pseudo-random integers in [0, n) (mulberry32). */
function rng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n);
  };
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** A PNG chunk with its CRC. */
function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  let c = 0xffffffff;
  for (let i = 4; i < 8 + data.length; i++) c = CRC_TABLE[(c ^ out[i]!) & 0xff]! ^ (c >>> 8);
  view.setUint32(8 + data.length, (c ^ 0xffffffff) >>> 0);
  return out;
}

const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
};

interface Layout {
  readonly width: number;
  readonly height: number;
  readonly depth: number;
  readonly colorType: number;
}
const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const rowBytesOf = (l: Layout) => Math.ceil((l.width * l.depth * SAMPLES[l.colorType]!) / 8);
const bppOf = (l: Layout) => Math.ceil(l.depth / 8) * SAMPLES[l.colorType]!;

/** Filters one row by the spec (§9.2) with filter `type`: `prev` undefined for the first row. */
function filterRow(type: number, cur: Uint8Array, prev: Uint8Array | undefined, bpp: number): Uint8Array {
  const out = new Uint8Array(cur.length);
  for (let i = 0; i < cur.length; i++) {
    const a = i >= bpp ? cur[i - bpp]! : 0;
    const b = prev ? prev[i]! : 0;
    const c = prev && i >= bpp ? prev[i - bpp]! : 0;
    const p = a + b - c;
    const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
    const paeth = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    out[i] = cur[i]! - [0, a, b, (a + b) >> 1, paeth][type]!;
  }
  return out;
}

/** Raw scanlines (rows of rowBytes) → the filtered stream, row y filtered with filterOf(y) (any byte). */
function filterImage(l: Layout, raw: Uint8Array, filterOf: (y: number) => number): Uint8Array {
  const rb = rowBytesOf(l);
  const rows: Uint8Array[] = [];
  for (let y = 0; y < l.height; y++) {
    const f = filterOf(y);
    const cur = raw.subarray(y * rb, (y + 1) * rb);
    const prev = y > 0 ? raw.subarray((y - 1) * rb, y * rb) : undefined;
    rows.push(new Uint8Array([f]), f <= 4 ? filterRow(f, cur, prev, bppOf(l)) : cur.slice());
  }
  return concat(rows);
}

/** A PNG (correct CRCs) of IHDR, then `extra` chunks (PLTE, tRNS, ...), then `zlib` in IDATs cut at `cuts`. */
function buildPng(l: Layout, zlib: Uint8Array, extra: Uint8Array[] = [], cuts: number[] = []): Uint8Array {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, l.width);
  v.setUint32(4, l.height);
  ihdr.set([l.depth, l.colorType, 0, 0, 0], 8);
  const bounds = [0, ...cuts.filter((c) => c <= zlib.length).sort((a, b) => a - b), zlib.length];
  const idats = bounds.slice(1).map((b, k) => pngChunk('IDAT', zlib.subarray(bounds[k], b)));
  return concat([
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    ...extra,
    ...idats,
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

/** What decodePng should give for raw scanlines, computed directly from the spec's layout. */
function expectedValues(l: Layout, raw: Uint8Array, plte?: Uint8Array, trns?: Uint8Array): number[] {
  const rb = rowBytesOf(l);
  const s = SAMPLES[l.colorType]!;
  const values: number[] = [];
  for (let y = 0; y < l.height; y++) {
    for (let x = 0; x < l.width * s; x++) {
      let v: number;
      if (l.depth === 16) v = raw[y * rb + 2 * x]! * 256 + raw[y * rb + 2 * x + 1]!;
      else if (l.depth === 8) v = raw[y * rb + x]!;
      else
        v =
          (raw[y * rb + Math.floor((x * l.depth) / 8)]! >> (8 - l.depth - ((x * l.depth) % 8))) %
          2 ** l.depth;
      if (l.colorType !== 3) values.push(v);
      else values.push(...plte!.subarray(3 * v, 3 * v + 3), ...(trns ? [trns[v] ?? 255] : []));
    }
  }
  return values;
}

/** A decoder's outcome in a comparable form: the error's code and message, or the array's type and bytes. */
interface Outcome {
  readonly error?: string;
  readonly type?: string;
  readonly dtype?: string;
  readonly shape?: readonly number[];
  readonly axes?: string;
  readonly bytes?: Buffer;
}
function outcome(decode: () => RawArray): Outcome {
  try {
    const r = decode();
    const bytes = Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength);
    return { type: r.data.constructor.name, dtype: r.dtype, shape: r.shape, axes: r.axes, bytes };
  } catch (err) {
    if (!(err instanceof ImageError)) throw err;
    return { error: `${err.code}: ${err.message}` };
  }
}

/** decodePng (own unfiltering) and decodePngWithFastPng (fast-png's decode) agree on `bytes`. */
function expectSameAsFastPng(bytes: Uint8Array, what: string): Outcome {
  const { bytes: ours, ...meta } = outcome(() => decodePng(bytes));
  const { bytes: theirs, ...theirMeta } = outcome(() => decodePngWithFastPng(bytes));
  expect(meta, what).toEqual(theirMeta);
  expect(ours && theirs && ours.equals(theirs), `${what}: the same pixels`).toBe(ours ? true : undefined);
  return meta;
}

/** Every colour type and bit depth PNG allows, at a width that leaves padding bits for depths below 8. */
const LAYOUTS: Layout[] = [
  [0, 1], [0, 2], [0, 4], [0, 8], [0, 16], [2, 8], [2, 16], [3, 1], [3, 2], [3, 4], [3, 8],
  [4, 8], [4, 16], [6, 8], [6, 16],
].map(([colorType, depth]) => ({ colorType: colorType!, depth: depth!, width: 13, height: 7 })); // prettier-ignore

/** A full random palette for an indexed layout (every index valid), with or without tRNS. */
function paletteChunks(l: Layout, next: (n: number) => number, withTrns: boolean) {
  if (l.colorType !== 3) return {};
  const plte = Uint8Array.from({ length: 3 * 2 ** l.depth }, () => next(256));
  const trns = withTrns ? Uint8Array.from({ length: next(2 ** l.depth + 1) }, () => next(256)) : undefined;
  const extra = [pngChunk('PLTE', plte), ...(trns ? [pngChunk('tRNS', trns)] : [])];
  return { plte, trns, extra };
}

describe('decodePng unfilters every filter type itself', () => {
  const filterCases: [string, (y: number) => number][] = [
    ['None', () => 0], ['Sub', () => 1], ['Up', () => 2], ['Average', () => 3], ['Paeth', () => 4],
    ['a different filter on each row', (y) => (y * 3 + 1) % 5],
  ]; // prettier-ignore
  it.each(filterCases)('%s, for every colour type and bit depth', (_, filterOf) => {
    const next = rng(7);
    for (const l of LAYOUTS) {
      const raw = Uint8Array.from({ length: l.height * rowBytesOf(l) }, () => next(256));
      const { plte, trns, extra } = paletteChunks(l, next, l.depth === 8);
      const png = buildPng(l, zlibSync(filterImage(l, raw, filterOf)), extra);
      const want = expectedValues(l, raw, plte, trns);
      const what = `colour type ${l.colorType}, depth ${l.depth}`;
      expect(Array.from(decodePng(png).data), what).toEqual(want);
      expect(Array.from(decodePngWithFastPng(png).data), `${what}, fast-png`).toEqual(want);
    }
  });

  it('refuses a filter type past 4 with the error fast-png gave', () => {
    const l = LAYOUTS[3]!;
    const raw = new Uint8Array(l.height * rowBytesOf(l)).fill(9);
    const png = buildPng(l, zlibSync(filterImage(l, raw, (y) => (y === 4 ? 5 : 0))));
    expect(() => decodePng(png)).toThrow('PNG data is damaged: Unsupported filter: 5');
    expect(expectSameAsFastPng(png, 'filter 5')).toEqual({
      error: 'corrupt-data: PNG data is damaged: Unsupported filter: 5',
    });
  });
});

describe('decodePng gives what fast-png gives', () => {
  it('for the fuzzing PNGs and encodePng/fast-png encodings of every colour type, depth and interlacing', () => {
    const next = rng(11);
    const files = pngFiles();
    for (let k = 0; k < 120; k++) {
      const width = 1 + next(k < 60 ? 9 : 70);
      const height = 1 + next(k < 60 ? 9 : 40);
      const interlace = k % 4 === 3 ? ('Adam7' as const) : ('null' as const);
      for (const [channels, depth] of [[1, 1], [1, 2], [1, 4], [1, 8], [1, 16], [2, 8], [2, 16], [3, 8], [3, 16], [4, 8], [4, 16]] as const) {
        const n = depth < 8 ? Math.ceil((width * depth) / 8) * height : width * height * channels;
        const data = depth === 16 ? Uint16Array.from({ length: n }, () => next(65536)) : Uint8Array.from({ length: n }, () => next(256));
        files.push(encode({ width, height, data, channels, depth }, { interlace }));
      }
      for (const depth of [1, 2, 4, 8] as const) {
        const colours = 1 + next(2 ** depth);
        const alpha = k % 2 === 0;
        const palette = Array.from({ length: colours }, () => [next(256), next(256), next(256), ...(alpha ? [next(256)] : [])]);
        // Indices past the palette now and then: both must refuse them alike.
        const indices = Uint8Array.from({ length: width * height }, () => next(k % 5 === 0 ? 2 ** depth : colours));
        const packed = new Uint8Array(Math.ceil((width * depth) / 8) * height);
        const rb = Math.ceil((width * depth) / 8);
        indices.forEach((v, i) => (packed[Math.floor(i / width) * rb + (((i % width) * depth) >> 3)]! |= v << (8 - depth - (((i % width) * depth) & 7))));
        files.push(encode({ width, height, data: depth === 8 ? indices : packed, channels: 1, depth, palette }, { interlace }));
      }
      const u16 = Uint16Array.from({ length: width * height }, () => next(65536));
      files.push(encodePng({ data: u16, dtype: 'uint16', shape: [height, width], axes: 'YX' }));
    } // prettier-ignore
    const seen = new Set<string>();
    files.forEach((png, i) => {
      const r = expectSameAsFastPng(png, `file ${i}`);
      seen.add(r.error ? 'error' : `${r.dtype} ${r.axes}`);
    });
    expect([...seen].sort()).toEqual(['error', 'uint16 YX', 'uint16 YXS', 'uint8 YX', 'uint8 YXS']);
  });

  it('for hand-filtered PNGs of every layout and size, IDAT split anywhere', () => {
    const next = rng(23);
    for (let k = 0; k < 300; k++) {
      const base = LAYOUTS[k % LAYOUTS.length]!;
      const l = { ...base, width: 1 + next(k < 150 ? 5 : 60), height: 1 + next(k < 150 ? 5 : 30) };
      const raw = Uint8Array.from({ length: l.height * rowBytesOf(l) }, () => next(256));
      const { extra } = paletteChunks(l, next, next(2) === 0);
      const zlib = zlibSync(
        filterImage(l, raw, () => next(5)),
        { level: next(10) as 0 },
      );
      const cuts = Array.from({ length: next(4) }, () => next(zlib.length + 1));
      expect(expectSameAsFastPng(buildPng(l, zlib, extra, cuts), `case ${k}`)).not.toHaveProperty('error');
    }
  });

  it('for every nuclei PNG (val and train)', () => {
    let n = 0;
    for (const dir of [NUCLEI_VAL, NUCLEI_TRAIN]) {
      for (const f of readdirSync(dir).filter((name) => name.endsWith('.png'))) {
        const r = expectSameAsFastPng(new Uint8Array(readFileSync(join(dir, f))), f);
        expect(r, f).not.toHaveProperty('error');
        n++;
      }
    }
    expect(n).toBeGreaterThan(800);
  });

  it('for damaged PNGs: the same error (code and message) or the same image', () => {
    const next = rng(31);
    const errors = new Map<string, number>();
    let decoded = 0;
    for (let k = 0; k < 1500; k++) {
      const base = LAYOUTS[next(LAYOUTS.length)]!;
      const l = { ...base, width: 1 + next(20), height: 1 + next(12) };
      const raw = Uint8Array.from({ length: l.height * rowBytesOf(l) }, () => next(256));
      let { extra = [] } = paletteChunks(l, next, next(2) === 0);
      let filtered = filterImage(l, raw, () => (next(8) === 0 ? next(256) : next(5)));
      const mutation = next(8);
      if (mutation === 0) filtered = filtered.subarray(0, next(filtered.length)); // short
      if (mutation === 1)
        filtered = concat([filtered, new Uint8Array(next(2) ? next(16) : 65_000 + next(1000))]);
      let zlib = zlibSync(filtered, { level: 6 });
      if (mutation === 2) zlib = zlib.subarray(0, zlib.length - 1 - next(Math.min(12, zlib.length - 1))); // cut
      if (mutation === 3) {
        zlib = zlib.slice(); // a flipped bit
        zlib[next(zlib.length)] ^= 1 << next(8);
      }
      if (mutation === 4) zlib = concat([zlib, Uint8Array.from({ length: 1 + next(8) }, () => next(256))]);
      if (mutation === 5)
        extra = [
          pngChunk(
            'PLTE',
            Uint8Array.from({ length: next(30) }, () => next(256)),
          ),
        ];
      if (mutation === 6) extra = [...extra, pngChunk('tRNS', new Uint8Array(next(12)))];
      if (mutation === 7) zlib = new Uint8Array(0);
      const cuts = Array.from({ length: next(3) }, () => next(zlib.length + 1));
      const r = expectSameAsFastPng(buildPng(l, zlib, extra, cuts), `case ${k}, mutation ${mutation}`);
      const error = r.error;
      if (error) {
        const kind = error.replace(/\d+/g, 'N');
        errors.set(kind, (errors.get(kind) ?? 0) + 1);
      } else decoded++;
    }
    // Not vacuous: many images decode, and the errors cover the ways a PNG breaks.
    expect(decoded).toBeGreaterThan(300);
    const kinds = [...errors.keys()].join('\n');
    for (const kind of [
      /^truncated: PNG image data holds/m,
      /^corrupt-data: PNG image data is damaged after/m,
      /^corrupt-data: PNG image data inflates past/m,
      /Unsupported filter/,
      /Incorrect index of palette color/,
      /PLTE field length must be a multiple of N/,
      /^corrupt-data: PNG data is damaged: Error while decompressing the data:$/m,
      /tRNS chunk is not supported/,
      /tRNS chunk contains more alpha values/,
      /^corrupt-data: PNG data is damaged: (unexpected EOF|invalid zlib data)/m,
    ])
      expect(kinds).toMatch(kind);
  });

  it('ignores a PLTE chunk in an RGB file (a suggested palette; fast-png mapped the pixels through it)', () => {
    const l: Layout = { colorType: 2, depth: 8, width: 2, height: 1 };
    const raw = new Uint8Array([0, 1, 0, 1, 0, 1]);
    const plte = pngChunk('PLTE', new Uint8Array([50, 60, 70, 80, 90, 100]));
    const png = buildPng(l, zlibSync(filterImage(l, raw, () => 0)), [plte]);
    expect(expectSameAsFastPng(png, 'RGB with PLTE')).toMatchObject({ dtype: 'uint8', shape: [1, 2, 3] });
    expect(Array.from(decodePng(png).data)).toEqual([0, 1, 0, 1, 0, 1]);
  });
});

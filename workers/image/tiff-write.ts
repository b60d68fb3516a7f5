/**
 * A small TIFF encoder: little-endian classic TIFF, one page per plane, strips of about 256 KiB,
 * uncompressed or Deflate, with BitsPerSample + SampleFormat set so tifffile, libtiff and Fiji read the
 * exact values back. Page 0 carries an ImageJ description (`ImageJ=1.11a`, plus images/channels/slices/
 * frames for stacks, and `unit=micron` with X/YResolution when the array states a physical pixel size).
 */
import { zlibSync } from 'fflate';
import { HOST_LITTLE_ENDIAN, swapBytes } from './tiff-codecs.js';
import type { DType, Labels, TypedPixels } from './types.js';
import { ImageError } from './types.js';

/**
 * zlib level of 'deflate' strips. Level 1, not zlib's default 6: on 40 val label images (16-bit) level 6
 * took 46 ms of CPU per Mpx and level 1 15 ms, for files 30 % larger (compression 76x instead of 99x) —
 * label TIFFs are tens of KB either way, and their encoding is on the CPU worker's path for every job.
 */
export const DEFLATE_LEVEL = 1;

export interface EncodeTiffOptions {
  /** @default 'none' */
  readonly compression?: 'none' | 'deflate';
  /** ImageDescription of page 0. @default - an ImageJ description of the stack */
  readonly description?: string;
  /**
   * How X/YResolution state the physical pixel size: 'none' (ResolutionUnit 1, pixels per µm, with
   * `unit=micron` in the ImageJ description: what ImageJ/Fiji write and read) or 'centimeter' (ResolutionUnit 3,
   * pixels per cm: what any TIFF reader understands, for files whose description is not ImageJ's, e.g. OME-XML).
   * @default 'none'
   */
  readonly resolutionUnit?: 'none' | 'centimeter';
}

export interface EncodableArray {
  readonly data: TypedPixels;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Ends with 'YX' or 'YXS'; leading axes become pages and must be a subsequence of 'TZC', or 'Q'. */
  readonly axes: string;
  /** Physical pixel size in µm, written as ImageJ resolution when given. */
  readonly physicalSizeX?: number;
  readonly physicalSizeY?: number;
}

const BITS: Record<DType, number> = { uint8: 8, int8: 8, uint16: 16, int16: 16, uint32: 32, int32: 32, float32: 32, float64: 64 }; // prettier-ignore
const FORMAT: Record<DType, number> = { uint8: 1, int8: 2, uint16: 1, int16: 2, uint32: 1, int32: 2, float32: 3, float64: 3 }; // prettier-ignore
const STRIP_BYTES = 256 * 1024;

interface Field {
  tag: number;
  type: 2 | 3 | 4 | 5;
  values: number[] | Uint8Array;
}

/** Encodes an array as TIFF (see the module comment). Bad shapes/axes → 'bad-argument' or 'shape-mismatch'. */
export function encodeTiff(raw: EncodableArray, opts: EncodeTiffOptions = {}): Uint8Array {
  const shapeText = `axes '${raw.axes}' shape [${raw.shape.join(', ')}]`;
  const m = /^([A-Z]*?)YX(S?)$/.exec(raw.axes);
  if (!m || raw.shape.length !== raw.axes.length) {
    throw new ImageError('bad-argument', `TIFF encoder needs axes ending in YX or YXS, got ${shapeText}`);
  }
  const lead = m[1]!;
  if (!(lead === 'Q' || /^T?Z?C?$/.test(lead))) {
    throw new ImageError(
      'bad-dimension-order',
      `TIFF page axes must be in T, Z, C order (or Q), got ${shapeText}`,
    );
  }
  const height = raw.shape[lead.length]!;
  const width = raw.shape[lead.length + 1]!;
  const samples = m[2] ? raw.shape[raw.shape.length - 1]! : 1;
  const pages = raw.shape.slice(0, lead.length).reduce((a, b) => a * b, 1);
  if (width * height * samples * pages === 0)
    throw new ImageError('empty-image', `cannot encode ${shapeText}`);
  if (raw.data.length !== width * height * samples * pages) {
    throw new ImageError(
      'shape-mismatch',
      `${shapeText} needs ${width * height * samples * pages} values, data has ${raw.data.length}`,
    );
  }
  const bits = BITS[raw.dtype];
  const bps = bits / 8;
  const bytes = new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength);
  const rowBytes = width * samples * bps;
  const rowsPerStrip = Math.max(1, Math.min(height, Math.floor(STRIP_BYTES / rowBytes)));
  const pageBytes = rowBytes * height;
  const strips: Uint8Array[][] = [];
  for (let p = 0; p < pages; p++) {
    const list: Uint8Array[] = [];
    for (let y = 0; y < height; y += rowsPerStrip) {
      const start = p * pageBytes + y * rowBytes;
      let strip = bytes.subarray(start, start + Math.min(rowsPerStrip, height - y) * rowBytes);
      if (!HOST_LITTLE_ENDIAN && bps > 1) swapBytes((strip = strip.slice()), bps);
      list.push(opts.compression === 'deflate' ? zlibSync(strip, { level: DEFLATE_LEVEL }) : strip);
    }
    strips.push(list);
  }
  const sizes =
    lead === 'Q' ? { Z: pages } : Object.fromEntries(lead.split('').map((ax, i) => [ax, raw.shape[i]!]));
  const description = opts.description ?? imagejDescription(pages, sizes, raw.physicalSizeX !== undefined);
  const rgb = samples >= 3 && samples <= 4 && (raw.dtype === 'uint8' || raw.dtype === 'uint16');
  const cm = opts.resolutionUnit === 'centimeter';
  for (const [axis, size] of [
    ['X', raw.physicalSizeX],
    ['Y', raw.physicalSizeY],
  ] as const) {
    // The rational's denominator is a uint32: µm × 1e6 (or × 1e5) must fit.
    if (size !== undefined && !(size > 0 && Math.round(size * (cm ? 1e5 : 1e6)) <= 0xffffffff))
      throw new ImageError(
        'bad-argument',
        `TIFF pixel size ${axis} must be > 0 and at most ${cm ? 42949 : 4294} µm, got ${size}`,
      );
  }
  const pageFields = (p: number, offsets: number[]): Field[] => {
    const f: Field[] = [
      { tag: 254, type: 4, values: [0] },
      { tag: 256, type: 4, values: [width] },
      { tag: 257, type: 4, values: [height] },
      { tag: 258, type: 3, values: new Array<number>(samples).fill(bits) },
      { tag: 259, type: 3, values: [opts.compression === 'deflate' ? 8 : 1] },
      { tag: 262, type: 3, values: [rgb ? 2 : 1] },
    ];
    if (p === 0) f.push({ tag: 270, type: 2, values: new TextEncoder().encode(`${description}\0`) });
    f.push(
      { tag: 273, type: 4, values: offsets },
      { tag: 277, type: 3, values: [samples] },
      { tag: 278, type: 4, values: [rowsPerStrip] },
      { tag: 279, type: 4, values: strips[p]!.map((s) => s.length) },
    );
    if (raw.physicalSizeX !== undefined) {
      const py = raw.physicalSizeY ?? raw.physicalSizeX;
      // pixels per µm = 1e6 / (µm × 1e6); pixels per cm = 1e9 / (µm × 1e5): both exact to 1e-6 µm / 1e-5 µm
      const perUnit = (um: number) => (cm ? [1e9, Math.round(um * 1e5)] : [1e6, Math.round(um * 1e6)]);
      f.push({ tag: 282, type: 5, values: perUnit(raw.physicalSizeX) });
      f.push({ tag: 283, type: 5, values: perUnit(py) });
    }
    f.push({ tag: 284, type: 3, values: [1] });
    if (raw.physicalSizeX !== undefined) f.push({ tag: 296, type: 3, values: [cm ? 3 : 1] });
    const extra = samples - (rgb ? 3 : 1);
    if (extra > 0) f.push({ tag: 338, type: 3, values: new Array<number>(extra).fill(rgb ? 2 : 0) });
    f.push({ tag: 339, type: 3, values: new Array<number>(samples).fill(FORMAT[raw.dtype]) });
    return f;
  };
  return assemble(strips, pageFields);
}

function imagejDescription(pages: number, sizes: Record<string, number>, micron: boolean): string {
  const lines = ['ImageJ=1.11a'];
  if (pages > 1) {
    lines.push(`images=${pages}`);
    if ((sizes.C ?? 1) > 1) lines.push(`channels=${sizes.C}`);
    if ((sizes.Z ?? 1) > 1) lines.push(`slices=${sizes.Z}`);
    if ((sizes.T ?? 1) > 1) lines.push(`frames=${sizes.T}`);
    if (Object.values(sizes).filter((n) => n > 1).length > 1) lines.push('hyperstack=true', 'mode=grayscale');
  }
  if (micron) lines.push('unit=micron');
  return `${lines.join('\n')}\n`;
}

// Bytes per stored number (a RATIONAL is stored as two uint32 numbers).
const TYPE_BYTES = { 2: 1, 3: 2, 4: 4, 5: 4 } as const;

/** Lays out header, strip data, then one IFD per page with its out-of-line values, and writes the bytes. */
function assemble(strips: Uint8Array[][], pageFields: (p: number, offsets: number[]) => Field[]): Uint8Array {
  let pos = 8;
  const stripOffsets = strips.map((list) =>
    list.map((s) => {
      const at = pos;
      pos += s.length + (s.length & 1);
      return at;
    }),
  );
  const ifds = strips.map((_, p) => pageFields(p, stripOffsets[p]!));
  const ifdOffsets: number[] = [];
  for (const fields of ifds) {
    ifdOffsets.push(pos);
    pos += 2 + fields.length * 12 + 4;
    for (const f of fields) {
      const n = f.values.length * TYPE_BYTES[f.type];
      if (n > 4) pos += n + (n & 1);
    }
  }
  if (pos > 0xffffffff)
    throw new ImageError('too-many-pixels', `TIFF would be ${pos} bytes, over the 4 GiB limit`);
  const out = new Uint8Array(pos);
  const v = new DataView(out.buffer);
  out.set([0x49, 0x49, 42, 0]);
  v.setUint32(4, ifdOffsets[0]!, true);
  strips.forEach((list, p) => list.forEach((s, i) => out.set(s, stripOffsets[p]![i]!)));
  ifds.forEach((fields, p) => {
    const at = ifdOffsets[p]!;
    let extra = at + 2 + fields.length * 12 + 4;
    v.setUint16(at, fields.length, true);
    fields.forEach((f, i) => {
      const e = at + 2 + i * 12;
      const count = f.type === 5 ? f.values.length / 2 : f.values.length;
      const n = f.values.length * TYPE_BYTES[f.type];
      v.setUint16(e, f.tag, true);
      v.setUint16(e + 2, f.type, true);
      v.setUint32(e + 4, count, true);
      let w = e + 8;
      if (n > 4) {
        v.setUint32(e + 8, extra, true);
        w = extra;
        extra += n + (n & 1);
      }
      if (f.type === 2) out.set(f.values as Uint8Array, w);
      else if (f.type === 3) (f.values as number[]).forEach((x, k) => v.setUint16(w + 2 * k, x, true));
      else (f.values as number[]).forEach((x, k) => v.setUint32(w + 4 * k, x, true));
    });
    v.setUint32(at + 2 + fields.length * 12, ifdOffsets[p + 1] ?? 0, true);
  });
  return out;
}

/** A label image's physical pixel size, µm per pixel along X and Y. */
export interface PixelSize {
  readonly x: number;
  readonly y: number;
}

export interface EncodeLabelsOptions extends EncodeTiffOptions {
  /** Written as X/YResolution + ImageJ `unit=micron` (or OME-XML PhysicalSizeX/Y). @default - none */
  readonly pixelSize?: PixelSize;
  /**
   * 'imagej': an ImageJ description (`unit=micron` with the pixel size), what Fiji opens with the scale set.
   * 'ome': an OME-XML description (one 2-D plane, PhysicalSizeX/Y in µm) and X/YResolution in pixels per cm,
   * for OME-TIFF inputs (Bio-Formats, QuPath, napari read it). @default 'imagej'
   */
  readonly metadata?: 'imagej' | 'ome';
}

/**
 * Encodes a label image [H, W] as a one-page TIFF: uint16 when the largest label is ≤ 65535, else uint32.
 * Deflate-compressed unless `compression: 'none'`. Data length ≠ H × W → 'shape-mismatch'. With `pixelSize`,
 * the file states it (issue 23 #3): ImageJ-style by default, OME-XML with `metadata: 'ome'`.
 */
export function encodeLabelsTiff(labels: Labels, opts: EncodeLabelsOptions = {}): Uint8Array {
  const { data, height, width } = labels;
  if (data.length !== height * width) {
    throw new ImageError('shape-mismatch', `labels are ${height}x${width} but hold ${data.length} values`);
  }
  let max = 0;
  for (let i = 0; i < data.length; i++) if (data[i]! > max) max = data[i]!;
  const small = max <= 0xffff;
  const dtype = small ? 'uint16' : 'uint32';
  const { pixelSize, metadata, ...tiffOpts } = opts;
  const ome = metadata === 'ome';
  return encodeTiff(
    {
      data: small ? Uint16Array.from(data) : data,
      dtype,
      shape: [height, width],
      axes: 'YX',
      ...(pixelSize ? { physicalSizeX: pixelSize.x, physicalSizeY: pixelSize.y } : {}),
    },
    {
      compression: 'deflate',
      ...(ome
        ? { description: omeXml(width, height, dtype, pixelSize), resolutionUnit: 'centimeter' as const }
        : {}),
      ...tiffOpts,
    },
  );
}

/** OME-XML (2016-06 schema) of one 2-D single-channel plane in IFD 0, with its pixel size in µm when known. */
export function omeXml(width: number, height: number, dtype: 'uint16' | 'uint32', px?: PixelSize): string {
  const size = px
    ? ` PhysicalSizeX="${px.x}" PhysicalSizeXUnit="µm" PhysicalSizeY="${px.y}" PhysicalSizeYUnit="µm"`
    : '';
  const ns = 'http://www.openmicroscopy.org/Schemas/OME/2016-06';
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<OME xmlns="${ns}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ` +
    `xsi:schemaLocation="${ns} ${ns}/ome.xsd" Creator="cellkiosk">` +
    `<Image ID="Image:0" Name="labels">` +
    `<Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="${dtype}" SizeX="${width}" SizeY="${height}" ` +
    `SizeC="1" SizeZ="1" SizeT="1"${size} BigEndian="false">` +
    `<Channel ID="Channel:0:0" SamplesPerPixel="1"/><TiffData IFD="0" PlaneCount="1"/>` +
    `</Pixels></Image></OME>`
  );
}

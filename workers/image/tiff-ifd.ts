/**
 * TIFF container parsing: the header (classic and BigTIFF, either byte order) and the chain of image file
 * directories (IFDs). Tag values are read on demand and every offset is checked against the file length,
 * so a corrupt header cannot make us read past the end or allocate more than the file could hold.
 */
import { ImageError } from './types.js';

/** Byte size of one value of each TIFF field type (TIFF 6.0 + BigTIFF). Unknown types are skipped. */
const TYPE_SIZE: Record<number, number> = {
  1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8,
}; // prettier-ignore

/** Tag numbers the reader uses. */
export const Tag = {
  NewSubfileType: 254,
  ImageWidth: 256,
  ImageLength: 257,
  BitsPerSample: 258,
  Compression: 259,
  Photometric: 262,
  ImageDescription: 270,
  StripOffsets: 273,
  SamplesPerPixel: 277,
  RowsPerStrip: 278,
  StripByteCounts: 279,
  XResolution: 282,
  YResolution: 283,
  PlanarConfiguration: 284,
  ResolutionUnit: 296,
  Predictor: 317,
  TileWidth: 322,
  TileLength: 323,
  TileOffsets: 324,
  TileByteCounts: 325,
  SampleFormat: 339,
} as const;

/** One IFD entry: where its `count` values of `type` lie in the file. */
export interface IfdEntry {
  readonly tag: number;
  readonly type: number;
  readonly count: number;
  /** Byte offset of the first value (inside the entry itself when the values fit there). */
  readonly valueOffset: number;
}

/** One image file directory: its entries by tag, and where it starts (for messages). */
export interface Ifd {
  readonly offset: number;
  readonly entries: ReadonlyMap<number, IfdEntry>;
}

/** A parsed TIFF container: byte order, flavour, and the IFDs of the main chain (SubIFDs are not followed). */
export class TiffContainer {
  readonly view: DataView;
  readonly littleEndian: boolean;
  readonly bigTiff: boolean;
  readonly ifds: Ifd[] = [];

  constructor(readonly bytes: Uint8Array) {
    if (bytes.length < 8)
      throw new ImageError('truncated', `TIFF file is ${bytes.length} bytes, shorter than its header`);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const order = (bytes[0]! << 8) | bytes[1]!;
    if (order !== 0x4949 && order !== 0x4d4d) {
      throw new ImageError('not-an-image', `not a TIFF file: byte-order mark is 0x${order.toString(16)}`);
    }
    this.littleEndian = order === 0x4949;
    const version = this.view.getUint16(2, this.littleEndian);
    if (version !== 42 && version !== 43) {
      throw new ImageError(
        'not-an-image',
        `not a TIFF file: version ${version} at byte 2 is neither 42 nor 43`,
      );
    }
    this.bigTiff = version === 43;
    let next: number;
    if (this.bigTiff) {
      this.need(0, 16, 'the BigTIFF header');
      const offsetSize = this.view.getUint16(4, this.littleEndian);
      if (offsetSize !== 8)
        throw new ImageError('corrupt-data', `BigTIFF offset size is ${offsetSize}, not 8`);
      next = this.offsetAt(8);
    } else {
      next = this.view.getUint32(4, this.littleEndian);
    }
    const seen = new Set<number>();
    while (next !== 0) {
      if (seen.has(next)) {
        throw new ImageError(
          'corrupt-data',
          `TIFF IFD chain loops back to offset ${next} after ${seen.size} IFDs`,
        );
      }
      seen.add(next);
      next = this.readIfd(next);
    }
    if (this.ifds.length === 0) throw new ImageError('empty-image', 'TIFF file has no image directory (IFD)');
  }

  /** Throws 'truncated' unless bytes [offset, offset + length) lie inside the file. */
  need(offset: number, length: number, what: string): void {
    if (offset < 0 || length < 0 || offset + length > this.bytes.length) {
      throw new ImageError(
        'truncated',
        `TIFF file ends at byte ${this.bytes.length} but ${what} spans bytes ${offset}..${offset + length}`,
      );
    }
  }

  private offsetAt(pos: number): number {
    if (!this.bigTiff) return this.view.getUint32(pos, this.littleEndian);
    const v = this.view.getBigUint64(pos, this.littleEndian);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  }

  /** Parses the IFD at `offset`, appends it, and returns the offset of the next IFD (0 = none). */
  private readIfd(offset: number): number {
    const countSize = this.bigTiff ? 8 : 2;
    const entrySize = this.bigTiff ? 20 : 12;
    const index = this.ifds.length;
    this.need(offset, countSize, `the entry count of IFD ${index}`);
    const n = this.bigTiff ? this.offsetAt(offset) : this.view.getUint16(offset, this.littleEndian);
    const start = offset + countSize;
    this.need(
      start,
      n * entrySize + (this.bigTiff ? 8 : 4),
      `IFD ${index} (${n} entries at offset ${offset})`,
    );
    const entries = new Map<number, IfdEntry>();
    const inline = this.bigTiff ? 8 : 4;
    for (let i = 0; i < n; i++) {
      const p = start + i * entrySize;
      const tag = this.view.getUint16(p, this.littleEndian);
      const type = this.view.getUint16(p + 2, this.littleEndian);
      const count = this.bigTiff ? this.offsetAt(p + 4) : this.view.getUint32(p + 4, this.littleEndian);
      const size = TYPE_SIZE[type];
      if (size === undefined) continue;
      const valuePos = p + (this.bigTiff ? 12 : 8);
      const valueOffset = count * size <= inline ? valuePos : this.offsetAt(valuePos);
      entries.set(tag, { tag, type, count, valueOffset });
    }
    this.ifds.push({ offset, entries });
    const nextPos = start + n * entrySize;
    return this.offsetAt(nextPos);
  }

  /** All values of a numeric tag (rationals as num/den), or `undefined` when the IFD lacks the tag. */
  numbers(ifd: Ifd, tag: number): number[] | undefined {
    const e = ifd.entries.get(tag);
    if (!e) return undefined;
    const size = TYPE_SIZE[e.type]!;
    this.need(e.valueOffset, e.count * size, `the values of tag ${tag} in the IFD at ${ifd.offset}`);
    const v = this.view;
    const le = this.littleEndian;
    const out = new Array<number>(e.count);
    for (let i = 0, p = e.valueOffset; i < e.count; i++, p += size) {
      switch (e.type) {
        case 1:
        case 2:
        case 7: out[i] = v.getUint8(p); break; // prettier-ignore
        case 6: out[i] = v.getInt8(p); break; // prettier-ignore
        case 3: out[i] = v.getUint16(p, le); break; // prettier-ignore
        case 8: out[i] = v.getInt16(p, le); break; // prettier-ignore
        case 4:
        case 13: out[i] = v.getUint32(p, le); break; // prettier-ignore
        case 9: out[i] = v.getInt32(p, le); break; // prettier-ignore
        case 5: out[i] = v.getUint32(p, le) / v.getUint32(p + 4, le); break; // prettier-ignore
        case 10: out[i] = v.getInt32(p, le) / v.getInt32(p + 4, le); break; // prettier-ignore
        case 11: out[i] = v.getFloat32(p, le); break; // prettier-ignore
        case 12: out[i] = v.getFloat64(p, le); break; // prettier-ignore
        case 17: out[i] = Number(v.getBigInt64(p, le)); break; // prettier-ignore
        default:
          out[i] = Number(v.getBigUint64(p, le)); // 16, 18
      }
    }
    return out;
  }

  /** The single value of a numeric tag, or `fallback` when absent. */
  number(ifd: Ifd, tag: number, fallback: number): number {
    const e = ifd.entries.get(tag);
    if (!e || e.count === 0) return fallback;
    return this.numbers(ifd, tag)![0]!;
  }

  /** An ASCII tag as a string (decoded as UTF-8, trailing NULs removed), or `undefined`. */
  text(ifd: Ifd, tag: number): string | undefined {
    const e = ifd.entries.get(tag);
    if (!e || (e.type !== 2 && e.type !== 7 && e.type !== 1)) return undefined;
    this.need(e.valueOffset, e.count, `the text of tag ${tag} in the IFD at ${ifd.offset}`);
    let end = e.valueOffset + e.count;
    while (end > e.valueOffset && this.bytes[end - 1] === 0) end--;
    return new TextDecoder('utf-8').decode(this.bytes.subarray(e.valueOffset, end));
  }
}

/**
 * TIFF container parsing: the header (classic and BigTIFF, either byte order) and the chain of image file
 * directories (IFDs). Tag values are read on demand and every offset is checked against the file length,
 * so a corrupt header cannot make us read past the end or allocate more than the file could hold.
 *
 * Work is bounded by the file, whatever its fields say: at most `maxFrames` IFDs are followed; IFDs may not
 * overlap (their entries together fit in the file once), so parsing is linear in the file size; only the
 * tags the reader uses are kept; a tag's values are read one at a time or up to a caller's limit.
 */
import { ImageError } from './types.js';

/** Byte size of one value of each TIFF field type (TIFF 6.0 + BigTIFF). Unknown types are skipped. */
const TYPE_SIZE: Record<number, number> = {
  1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8,
}; // prettier-ignore

/** Default most IFDs (pages, thumbnails included) a file may chain. */
export const DEFAULT_MAX_FRAMES = 10_000;

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

const USED_TAGS = new Set<number>(Object.values(Tag));

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

  /** `maxFrames`: most IFDs in the chain; more → ImageError 'too-many-frames'. */
  constructor(
    readonly bytes: Uint8Array,
    maxFrames: number = DEFAULT_MAX_FRAMES,
  ) {
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
    let entryBytes = 0;
    while (next !== 0) {
      if (this.ifds.length >= maxFrames) {
        throw new ImageError(
          'too-many-frames',
          `TIFF has more than ${maxFrames} pages (IFDs), the limit; split the stack into smaller files`,
        );
      }
      if (seen.has(next)) {
        throw new ImageError(
          'corrupt-data',
          `TIFF IFD chain loops back to offset ${next} after ${seen.size} IFDs`,
        );
      }
      seen.add(next);
      const { next: after, size } = this.readIfd(next);
      entryBytes += size;
      if (entryBytes > bytes.length) {
        throw new ImageError(
          'corrupt-data',
          `TIFF IFDs overlap: ${this.ifds.length} IFDs list ${entryBytes} bytes of entries in a ${bytes.length}-byte file`,
        );
      }
      next = after;
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

  /** Parses the IFD at `offset`, appends it; returns the offset of the next IFD (0 = none) and its size. */
  private readIfd(offset: number): { next: number; size: number } {
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
      if (!USED_TAGS.has(tag)) continue;
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
    return { next: this.offsetAt(nextPos), size: countSize + n * entrySize + (this.bigTiff ? 8 : 4) };
  }

  /**
   * The values of a numeric tag (rationals as num/den), at most `limit` of them (all by default), or
   * `undefined` when the IFD lacks the tag. Only the values returned need to lie inside the file.
   */
  numbers(ifd: Ifd, tag: number, limit = Number.MAX_SAFE_INTEGER): number[] | undefined {
    const e = ifd.entries.get(tag);
    if (!e) return undefined;
    const n = Math.min(e.count, limit);
    const size = TYPE_SIZE[e.type]!;
    this.need(e.valueOffset, n * size, `the values of tag ${tag} in the IFD at ${ifd.offset}`);
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = this.valueAt(e, i);
    return out;
  }

  /** Value `i` of an entry (checked against the file length). */
  valueAt(e: IfdEntry, i: number): number {
    const size = TYPE_SIZE[e.type]!;
    const p = e.valueOffset + i * size;
    if (i >= e.count)
      throw new ImageError('corrupt-data', `tag ${e.tag} has ${e.count} values, not ${i + 1}`);
    this.need(p, size, `value ${i} of tag ${e.tag}`);
    const v = this.view;
    const le = this.littleEndian;
    switch (e.type) {
      case 1:
      case 2:
      case 7: return v.getUint8(p); // prettier-ignore
      case 6: return v.getInt8(p); // prettier-ignore
      case 3: return v.getUint16(p, le); // prettier-ignore
      case 8: return v.getInt16(p, le); // prettier-ignore
      case 4:
      case 13: return v.getUint32(p, le); // prettier-ignore
      case 9: return v.getInt32(p, le); // prettier-ignore
      case 5: return v.getUint32(p, le) / v.getUint32(p + 4, le); // prettier-ignore
      case 10: return v.getInt32(p, le) / v.getInt32(p + 4, le); // prettier-ignore
      case 11: return v.getFloat32(p, le); // prettier-ignore
      case 12: return v.getFloat64(p, le); // prettier-ignore
      case 17: return Number(v.getBigInt64(p, le)); // prettier-ignore
      default:
        return Number(v.getBigUint64(p, le)); // 16, 18 // prettier-ignore
    }
  }

  /** The single value of a numeric tag, or `fallback` when absent. */
  number(ifd: Ifd, tag: number, fallback: number): number {
    const e = ifd.entries.get(tag);
    if (!e || e.count === 0) return fallback;
    return this.valueAt(e, 0);
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

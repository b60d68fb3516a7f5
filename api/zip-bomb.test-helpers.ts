import { constants, crc32, deflateRawSync } from 'node:zlib';

const MiB = 2 ** 20;

/**
 * A real zip bomb, made in milliseconds: `entries` files of `mibEach` MiB of zeros each, deflated (about
 * 1000:1, so under a ratio limit of 1100) and valid in every byte (sizes, CRC-32), as an attacker would send
 * one. Deflating gigabytes of zeros would take seconds; instead one MiB of zeros is deflated with a full flush
 * (which ends byte-aligned and forgets the history), so the same block encodes every further MiB and the
 * entry's data is that block `mibEach` times, then an empty final block.
 */
export function zipBomb(entries: number, mibEach: number): Uint8Array {
  const zeros = new Uint8Array(MiB);
  const block = deflateRawSync(zeros, { level: 9, finishFlush: constants.Z_FULL_FLUSH });
  const last = deflateRawSync(new Uint8Array(0)); // a final, empty block
  const data = Buffer.concat([...Array.from({ length: mibEach }, () => block), last]);
  let crc = 0;
  for (let i = 0; i < mibEach; i++) crc = crc32(zeros, crc);
  const size = mibEach * MiB;
  const files = Array.from({ length: entries }, (_, i) => ({
    name: Buffer.from(`zeros-${i}.tif`),
    offset: 0,
  }));
  const parts: Buffer[] = [];
  let pos = 0;
  const header = (central: boolean, name: Buffer, offset: number): Buffer => {
    const h = Buffer.alloc(central ? 46 : 30);
    let p = 0;
    const u16 = (x: number) => {
      h.writeUInt16LE(x, p);
      p += 2;
    };
    h.writeUInt32LE(central ? 0x02014b50 : 0x04034b50, p);
    p += 4;
    if (central) u16(20); // version made by
    for (const x of [20, 0, 8, 0, 0]) u16(x); // version needed, flags, deflate, time, date
    for (const x of [crc, data.length, size]) {
      h.writeUInt32LE(x >>> 0, p);
      p += 4;
    }
    h.writeUInt16LE(name.length, p);
    if (central) h.writeUInt32LE(offset, 42);
    return h;
  };
  for (const f of files) {
    f.offset = pos;
    const h = header(false, f.name, 0);
    parts.push(h, f.name, data);
    pos += h.length + f.name.length + data.length;
  }
  const cdStart = pos;
  for (const f of files) {
    const h = header(true, f.name, f.offset);
    parts.push(h, f.name);
    pos += h.length + f.name.length;
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries, 8);
  end.writeUInt16LE(entries, 10);
  end.writeUInt32LE(pos - cdStart, 12);
  end.writeUInt32LE(cdStart, 16);
  parts.push(end);
  return new Uint8Array(Buffer.concat(parts));
}

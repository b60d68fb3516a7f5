import { describe, expect, it } from 'vitest';
import { NpyError, readNpy, writeNpy } from './npy.js';

/** A .npy file as numpy writes it (format 1.0, header padded to 64 bytes with a trailing newline). */
function npy(descr: string, shape: string, body: Uint8Array, fortran = 'False'): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(body, 10 + header.length);
  return out;
}

describe('.npy reader and writer', () => {
  it('reads numpy headers: float32, big-endian float64, uint8, int16; shapes (2, 3), (3,), ()', () => {
    const f4 = new Float32Array([1.5, -2, 3, 4, 5, 6]);
    const a = readNpy(npy('<f4', '(2, 3)', new Uint8Array(f4.buffer)));
    expect(a.shape).toEqual([2, 3]);
    expect([...a.data]).toEqual([1.5, -2, 3, 4, 5, 6]);
    const be = new Uint8Array(16);
    new DataView(be.buffer).setFloat64(0, 0.25, false);
    new DataView(be.buffer).setFloat64(8, -7, false);
    expect([...readNpy(npy('>f8', '(2,)', be)).data]).toEqual([0.25, -7]);
    expect([...readNpy(npy('|u1', '(3,)', Uint8Array.from([0, 7, 255]))).data]).toEqual([0, 7, 255]);
    const i2 = new Int16Array([-300, 2]);
    expect([...readNpy(npy('<i2', '(1, 2)', new Uint8Array(i2.buffer))).data]).toEqual([-300, 2]);
    expect(readNpy(npy('<f4', '()', new Uint8Array(new Float32Array([9]).buffer))).shape).toEqual([]);
  });

  it('writes what it reads back, with a 64-byte aligned header', () => {
    const data = Float32Array.from({ length: 24 }, (_, i) => i / 3);
    const bytes = writeNpy(data, [1, 2, 3, 4]);
    const headerLen = new DataView(bytes.buffer).getUint16(8, true);
    expect((10 + headerLen) % 64).toBe(0);
    expect(new TextDecoder().decode(bytes.subarray(10, 10 + headerLen))).toMatch(
      /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(1, 2, 3, 4\), \} *\n$/,
    );
    const back = readNpy(bytes);
    expect(back.shape).toEqual([1, 2, 3, 4]);
    expect(back.data).toEqual(data);
    expect(readNpy(writeNpy(new Float32Array([1, 2]), [2])).shape).toEqual([2]);
  });

  it('refuses what it cannot read, naming why', () => {
    const body = new Uint8Array(8);
    expect(() => readNpy(new TextEncoder().encode('not numpy at all'), 't.npy')).toThrow(
      /t\.npy is not a \.npy file/,
    );
    expect(() => readNpy(npy('<f4', '(2,)', body, 'True'))).toThrow(/Fortran-order arrays are not supported/);
    expect(() => readNpy(npy('<c8', '(1,)', body))).toThrow(/dtype '<c8' is not supported/);
    expect(() => readNpy(npy('<f4', '(4,)', body))).toThrow(/needs 16 bytes; the file has 8/);
    expect(() => writeNpy(new Float32Array(3), [2, 2])).toThrow(NpyError);
  });
});

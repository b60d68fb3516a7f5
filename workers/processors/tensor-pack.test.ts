import { describe, expect, it } from 'vitest';
import { packTensorParts, packTensors, TensorPackError, unpackTensors } from './tensor-pack.js';

describe('tensor pack', () => {
  it('round-trips nested values with typed arrays of every kind, aligned', () => {
    const value = {
      tiles: new Float32Array([1.5, -2, 3]),
      n: 1,
      meta: {
        origin: [0, 4],
        mask: new Uint8Array([1, 0, 1, 1, 0]),
        ids: new Uint32Array([7, 2 ** 32 - 1]),
        name: 'a',
      },
      list: [new Int16Array([-3]), null, true],
      f64: new Float64Array([Math.PI]),
    };
    const back = unpackTensors<typeof value>(packTensors(value));
    expect(back.tiles).toBeInstanceOf(Float32Array);
    expect([...back.tiles]).toEqual([1.5, -2, 3]);
    expect([...back.meta.mask]).toEqual([1, 0, 1, 1, 0]);
    expect([...back.meta.ids]).toEqual([7, 2 ** 32 - 1]);
    expect(back.meta.origin).toEqual([0, 4]);
    expect([...(back.list[0] as Int16Array)]).toEqual([-3]);
    expect(back.list.slice(1)).toEqual([null, true]);
    expect(back.f64[0]).toBe(Math.PI);
  });

  it('packTensorParts: the same bytes as packTensors, with the arrays as views (no copies)', () => {
    const a = new Float32Array([1, 2, 3]);
    const value = { a, b: new Uint8Array([5]), meta: { h: 1, name: 'x' }, c: new Float64Array([0.5]) };
    const parts = packTensorParts(value);
    expect(Buffer.concat(parts).equals(Buffer.from(packTensors(value)))).toBe(true);
    expect(parts.some((p) => p.buffer === a.buffer)).toBe(true);
    expect(unpackTensors<typeof value>(packTensors(value)).meta).toEqual({ h: 1, name: 'x' });
  });

  it('packs a subarray view by its own bytes only', () => {
    const big = new Float32Array([9, 1, 2, 9]);
    const back = unpackTensors<Float32Array>(packTensors(big.subarray(1, 3)));
    expect([...back]).toEqual([1, 2]);
  });

  it('returns views into the bytes when asked not to copy, and copies arrays that are not aligned', () => {
    const packed = packTensors({ a: new Float32Array([1, 2]), b: new Uint16Array([3]) });
    const views = unpackTensors<{ a: Float32Array; b: Uint16Array }>(packed, { copy: false });
    expect([...views.a]).toEqual([1, 2]);
    expect(views.a.buffer).toBe(packed.buffer); // no copy
    const copies = unpackTensors<{ a: Float32Array }>(packed);
    expect(copies.a.buffer).not.toBe(packed.buffer);
    const shifted = new Uint8Array(packed.length + 1);
    shifted.set(packed, 1); // every array now sits at an odd offset
    const moved = unpackTensors<{ a: Float32Array; b: Uint16Array }>(shifted.subarray(1), { copy: false });
    expect([...moved.a]).toEqual([1, 2]);
    expect([...moved.b]).toEqual([3]);
    expect(moved.a.buffer).not.toBe(shifted.buffer);
  });

  it('rejects bytes that are not a pack, or are cut short', () => {
    expect(() => unpackTensors(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))).toThrow(TensorPackError);
    const full = packTensors({ a: new Float32Array(100) });
    expect(() => unpackTensors(full.subarray(0, full.length - 40))).toThrow(/truncated tensor pack: blob 0/);
    expect(() => unpackTensors(full.subarray(0, 12))).toThrow(/truncated tensor pack: header/);
  });
});

import { describe, expect, it } from 'vitest';
import type { HeadMaps, ModelRunner } from '../model/runners.js';
import { TileBatcher } from './batcher.js';

/** A model whose maps are the input's channel 0 (+0, +1, +2), that records each call's batch size. */
class EchoModel implements ModelRunner {
  readonly name = 'echo';
  readonly runtime = 'test';
  readonly calls: number[] = [];
  gate: Promise<void> = Promise.resolve();
  fail = false;
  async predict(batch: Float32Array, n: number, h: number, w: number, c: number): Promise<HeadMaps> {
    this.calls.push(n);
    await this.gate;
    if (this.fail) throw new Error('device lost');
    const inner = new Float32Array(n * h * w);
    for (let i = 0; i < inner.length; i++) inner[i] = batch[i * c]!;
    return { inner, outer: inner.map((v) => v + 1), fg: inner.map((v) => v + 2) };
  }
  async dispose(): Promise<void> {}
}

const tiles = (n: number, value: number) => new Float32Array(n * 2 * 2).fill(value);

describe('TileBatcher', () => {
  it('runs a lone request at once, then batches requests that queued while the model was busy', async () => {
    const model = new EchoModel();
    const b = new TileBatcher(model, 8);
    let open!: () => void;
    model.gate = new Promise((r) => (open = r));
    const first = b.predict(tiles(2, 1), 2, 2, 2, 1);
    const others = [
      b.predict(tiles(3, 2), 3, 2, 2, 1),
      b.predict(tiles(4, 3), 4, 2, 2, 1),
      b.predict(tiles(2, 4), 2, 2, 2, 1),
    ];
    open();
    const [a, x, y, z] = await Promise.all([first, ...others]);
    // 2 alone, then 3+4 (7 ≤ 8), then 2 (7+2 > 8)
    expect(model.calls).toEqual([2, 7, 2]);
    expect(b.stats).toMatchObject({ runs: 3, tiles: 11, largestBatch: 7, mixedRuns: 1 });
    expect([...a!.inner]).toEqual(new Array(8).fill(1));
    expect([...x!.inner]).toEqual(new Array(12).fill(2));
    expect([...y!.outer]).toEqual(new Array(16).fill(4));
    expect([...z!.fg]).toEqual(new Array(8).fill(6));
  });

  it('splits a request larger than maxTiles and joins the maps in order', async () => {
    const model = new EchoModel();
    const b = new TileBatcher(model, 2);
    const input = new Float32Array(5 * 4).map((_, i) => Math.floor(i / 4));
    const maps = await b.runner().predict(input, 5, 2, 2, 1);
    expect(model.calls.every((n) => n <= 2)).toBe(true);
    expect([...maps.inner]).toEqual([...input]);
  });

  it('does not mix tiles of different shapes', async () => {
    const model = new EchoModel();
    const b = new TileBatcher(model, 16);
    let open!: () => void;
    model.gate = new Promise((r) => (open = r));
    const p = [
      b.predict(tiles(1, 0), 1, 2, 2, 1),
      b.predict(tiles(1, 0), 1, 2, 2, 1),
      b.predict(new Float32Array(9), 1, 3, 3, 1),
    ];
    open();
    await Promise.all(p);
    expect(model.calls).toEqual([1, 1, 1]);
  });

  it('rejects every request of a failed model call, and bad shapes at once', async () => {
    const model = new EchoModel();
    model.fail = true;
    const b = new TileBatcher(model, 4);
    await expect(b.predict(tiles(1, 0), 1, 2, 2, 1)).rejects.toThrow(/device lost/);
    await expect(b.predict(new Float32Array(3), 1, 2, 2, 1)).rejects.toThrow(
      /batch has 3 values; \[n, h, w, c\] = \[1, 2, 2, 1\] needs 4/,
    );
    expect(() => new TileBatcher(model, 0)).toThrow(/'maxTiles' \(0\) must be an integer >= 1/);
  });
});

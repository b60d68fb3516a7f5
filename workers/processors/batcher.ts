import { kioskMetrics, observeInference, type KioskMetrics } from '../metrics/kiosk-metrics.js';
import type { HeadMaps, ModelRunner } from '../model/runners.js';

interface Request {
  readonly batch: Float32Array;
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
  resolve(maps: HeadMaps): void;
  reject(err: unknown): void;
}

export interface BatcherStats {
  /** Model calls made. */
  runs: number;
  /** Tiles run in total. */
  tiles: number;
  /** The largest batch run. */
  largestBatch: number;
  /** Model calls that held tiles of more than one request (job). */
  mixedRuns: number;
}

/**
 * Shares one model among several concurrent jobs and runs their tiles together: while the model is busy,
 * requests queue up; the next run takes every waiting request of the same tile shape, up to `maxTiles`
 * tiles, as one batch `[N, H, W, C]` and hands each request its slice of the head maps. No timer: a lone
 * request runs at once, so batching adds no latency, and under load batches fill up across jobs.
 *
 * `runner()` gives a ModelRunner view of the batcher, so pipeline code that takes a runner batches
 * without knowing it. A model error rejects every request of that run (their jobs retry or fail).
 */
export class TileBatcher {
  readonly stats: BatcherStats = { runs: 0, tiles: 0, largestBatch: 0, mixedRuns: 0 };
  private readonly pending: Request[] = [];
  private running = false;

  /**
   * @param metrics where each model call's time and tiles go (`kiosk_inference_seconds`,
   *   `kiosk_inference_batch_tiles`). @default - this process's kioskMetrics()
   */
  constructor(
    private readonly model: ModelRunner,
    readonly maxTiles: number,
    private readonly metrics: KioskMetrics = kioskMetrics(),
  ) {
    if (!Number.isInteger(maxTiles) || maxTiles < 1)
      throw new RangeError(`'maxTiles' (${maxTiles}) must be an integer >= 1`);
  }

  /** A ModelRunner whose predict() goes through this batcher; dispose() is a no-op (the batcher owns the model). */
  runner(): ModelRunner {
    return {
      name: this.model.name,
      runtime: `${this.model.runtime} (batched ≤ ${this.maxTiles})`,
      predict: (batch, n, h, w, c) => this.predict(batch, n, h, w, c),
      dispose: () => Promise.resolve(),
    };
  }

  /** Queues `n` tiles `[n, h, w, c]`; resolves with their head maps `[n, h, w]` each. */
  async predict(batch: Float32Array, n: number, h: number, w: number, c: number): Promise<HeadMaps> {
    if (batch.length !== n * h * w * c) {
      throw new RangeError(
        `batch has ${batch.length} values; [n, h, w, c] = [${n}, ${h}, ${w}, ${c}] needs ${n * h * w * c}`,
      );
    }
    if (n > this.maxTiles) {
      // Larger than one batch: split, queue the parts, join the maps.
      const parts: Promise<HeadMaps>[] = [];
      const per = h * w * c;
      for (let i = 0; i < n; i += this.maxTiles) {
        const k = Math.min(this.maxTiles, n - i);
        parts.push(this.predict(batch.subarray(i * per, (i + k) * per), k, h, w, c));
      }
      return joinMaps(await Promise.all(parts));
    }
    const done = new Promise<HeadMaps>((resolve, reject) =>
      this.pending.push({ batch, n, h, w, c, resolve, reject }),
    );
    void this.pump();
    return done;
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.pending.length > 0) await this.runOne();
    } finally {
      this.running = false;
    }
  }

  private async runOne(): Promise<void> {
    const first = this.pending[0]!;
    const group: Request[] = [];
    let tiles = 0;
    for (let i = 0; i < this.pending.length;) {
      const r = this.pending[i]!;
      if (r.h === first.h && r.w === first.w && r.c === first.c && tiles + r.n <= this.maxTiles) {
        group.push(r);
        tiles += r.n;
        this.pending.splice(i, 1);
      } else i++;
    }
    const { h, w, c } = first;
    const per = h * w * c;
    let input: Float32Array;
    if (group.length === 1) input = first.batch;
    else {
      input = new Float32Array(tiles * per);
      let at = 0;
      for (const r of group) {
        input.set(r.batch, at);
        at += r.batch.length;
      }
    }
    this.stats.runs++;
    this.stats.tiles += tiles;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, tiles);
    if (group.length > 1) this.stats.mixedRuns++;
    try {
      const started = performance.now();
      const maps = await this.model.predict(input, tiles, h, w, c);
      observeInference(this.metrics, this.model.name, (performance.now() - started) / 1000, tiles);
      if (group.length === 1) return first.resolve(maps); // its maps whole: no copy
      let at = 0;
      for (const r of group) {
        const lo = at * h * w;
        const hi = (at + r.n) * h * w;
        r.resolve({
          inner: maps.inner.slice(lo, hi),
          outer: maps.outer.slice(lo, hi),
          fg: maps.fg.slice(lo, hi),
        });
        at += r.n;
      }
    } catch (err) {
      for (const r of group) r.reject(err);
    }
  }
}

function joinMaps(parts: HeadMaps[]): HeadMaps {
  const join = (k: keyof HeadMaps) => {
    const out = new Float32Array(parts.reduce((s, p) => s + p[k].length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p[k], at);
      at += p[k].length;
    }
    return out;
  };
  return { inner: join('inner'), outer: join('outer'), fg: join('fg') };
}

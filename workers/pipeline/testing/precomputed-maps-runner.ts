/**
 * Test doubles for the pipeline's plumbing, no network involved.
 *
 * `PrecomputedMapsRunner` is identity-like: the test scene is rendered with the distance maps precomputed
 * INTO its pixels — intensity = outer distance (r - d) / r of equal-radius disks, 0 on background — and the
 * runner reads the heads off each normalized input pixel v: inner = outer = v (a cone peaking at each disk's
 * centre) and fg = 1 where v > 0.01, else 0 (all three 0 on background).
 * So whatever tiling, rescaling and blending the pipeline does, a correct pipeline gets back exactly the
 * disks of the scene. `batches` records the N of every call.
 */
import type { TypedPixels, RawArray } from '../../image/types.js';
import { diskDistanceMaps, type Disk } from '../../image/synthetic-nuclei.js';
import type { ModelCard } from '../../model/model-io.js';
import type { HeadMaps, ModelRunner } from '../../model/runners.js';

export class PrecomputedMapsRunner implements ModelRunner {
  readonly name = 'precomputed-maps';
  readonly runtime = 'test-double';
  readonly batches: number[] = [];
  predict(batch: Float32Array, n: number, h: number, w: number, c: number): Promise<HeadMaps> {
    this.batches.push(n);
    const px = n * h * w;
    const inner = new Float32Array(px);
    const outer = new Float32Array(px);
    const fg = new Float32Array(px);
    for (let i = 0; i < px; i++) {
      const v = batch[i * c]!;
      if (v <= 0.01) continue;
      outer[i] = v;
      fg[i] = 1;
      inner[i] = v;
    }
    return Promise.resolve({ inner, outer, fg });
  }

  dispose(): Promise<void> {
    return Promise.resolve();
  }
}

/** A scene image (uint8 or uint16, axes YX) whose intensity is `peak * outer distance` of the disks. */
export function renderDistanceScene(
  disks: readonly Disk[],
  height: number,
  width: number,
  dtype: 'uint8' | 'uint16' = 'uint8',
  peak = 200,
): RawArray {
  const { outer } = diskDistanceMaps(disks, height, width);
  const data: TypedPixels =
    dtype === 'uint8' ? new Uint8Array(height * width) : new Uint16Array(height * width);
  for (let i = 0; i < data.length; i++) data[i] = Math.round(outer.data[i]! * peak);
  return { data, dtype, shape: [height, width], axes: 'YX' };
}

/**
 * A valid card for pipeline tests: 1 channel, 1-99.8 percentiles, target diameter `targetDiameterPx`, and
 * its own fixed postprocess settings (so plumbing tests do not move when the model-tuned defaults do).
 */
export function testCard(targetDiameterPx = 14, mpp = 0.5): ModelCard {
  return {
    name: 'test',
    version: 1,
    task: 'nuclear-segmentation',
    input: {
      channels: 1,
      normalization: { method: 'percentile', low: 1, high: 99.8 },
      targetDiameterPx,
      mpp,
      typicalNucleusDiameterUm: targetDiameterPx * mpp,
      sizeMultiple: 16,
    },
    outputs: ['inner', 'outer', 'fgbg'],
    network: {},
    params: 0,
    postprocess: {
      method: 'deep-watershed',
      mask: 'fg',
      resolution: 'original',
      radius: 4,
      maximaThreshold: 0.1,
      interiorThreshold: 0.5,
      maximaSmooth: 0,
      interiorSmooth: 1,
      smallObjectsThreshold: 0,
      fillHolesThreshold: 0,
    },
  };
}

import { describe, expect, it } from 'vitest';
import { GpuType } from './gpu-type.js';

describe('GpuType', () => {
  it('names one GPU the way each cloud does', () => {
    expect(GpuType.nvidiaT4().nameOn('gke')).toBe('nvidia-tesla-t4');
    expect(GpuType.nvidiaT4().nameOn('eks')).toBe('g4dn');
    expect(GpuType.of('eks', 'g6').nameOn('gke')).toBe('nvidia-l4');
  });

  it('lists the valid choices per provider', () => {
    expect(GpuType.choices('gke')).toEqual([
      'nvidia-tesla-t4',
      'nvidia-l4',
      'nvidia-tesla-v100',
      'nvidia-tesla-a100',
      'nvidia-a100-80gb',
      'nvidia-h100-80gb',
    ]);
    expect(GpuType.choices('eks')).toEqual(['g4dn', 'g6', 'g5', 'g6e', 'p3', 'p4d', 'p5']);
  });

  it('maps GPU count to the machine that carries it', () => {
    expect(GpuType.nvidiaL4().machineTypeFor('gke', 2)).toBe('g2-standard-24');
    expect(GpuType.nvidiaA10G().machineTypeFor('eks', 4)).toBe('g5.12xlarge');
    expect(GpuType.nvidiaA100().countsOn('eks')).toEqual([8]);
  });

  it('rejects GPUs and shapes a cloud does not sell', () => {
    expect(() => GpuType.nvidiaA10G().nameOn('gke')).toThrow(/GPU A10G is not offered on gke/);
    expect(() => GpuType.nvidiaA100_80GB().machineTypeFor('eks', 1)).toThrow(
      /GPU A100_80GB is not offered on eks/,
    );
    expect(() => GpuType.of('gke', 'tesla')).toThrow(
      /GPU type 'tesla' is not offered on gke; choose one of: nvidia-tesla-t4/,
    );
    expect(() => GpuType.nvidiaH100().machineTypeFor('gke', 1)).toThrow(
      /'gpu\.count' \(1\) must be one of 8 for nvidia-h100-80gb on gke/,
    );
  });
});

describe('GpuType: the GPU images can drive it (issue 20 #5)', () => {
  it('the inference image drives 7.5 to 9.0 and refuses the V100 (7.0), naming what to choose', () => {
    for (const g of [
      GpuType.nvidiaT4(),
      GpuType.nvidiaL4(),
      GpuType.nvidiaA10G(),
      GpuType.nvidiaL40S(),
      GpuType.nvidiaA100(),
      GpuType.nvidiaH100(),
    ]) {
      expect(g.gpuImageProblem('eks'), g.model).toBeUndefined();
    }
    expect(GpuType.nvidiaV100().gpuImageProblem('eks')).toMatch(
      /^p3 \(V100, compute capability 7\.0\) is not a GPU the inference image can drive \(CUDA 12\.6, .*\); choose one of: g4dn, g6, g5, g6e, p4d, p5$/,
    );
  });

  it('the training image trains up to 8.6 and not on Ada or Hopper, naming the GPUs it trains on', () => {
    for (const g of [GpuType.nvidiaT4(), GpuType.nvidiaV100(), GpuType.nvidiaA100(), GpuType.nvidiaA10G()]) {
      expect(g.trainingImageProblem('eks'), g.model).toBeUndefined();
    }
    expect(GpuType.nvidiaL40S().trainingImageProblem('eks')).toMatch(
      /^g6e \(L40S, compute capability 8\.9\) is not a GPU the training image can drive \(CUDA 11\.2, .*\); choose one of: g4dn, g5, p3, p4d$/,
    );
    expect(GpuType.nvidiaH100().trainingImageProblem('gke')).toMatch(/compute capability 9\.0/);
    expect(GpuType.nvidiaL4().computeCapability).toBe(8.9);
  });
});

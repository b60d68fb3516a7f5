import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  logCpuFallbackOnce,
  ORT_PROVIDERS_ENV,
  ortProvidersFromEnv,
  planOrtProviders,
} from './ort-providers.js';
import { loadRunner, onnxCudaAvailable, OnnxRunner, RunnerError } from './runners.js';

const SHIPPED = join(import.meta.dirname, '..', '..', 'models', 'nuclear', '1');

describe('KIOSK_ORT_PROVIDERS: which onnxruntime providers a session asks for', () => {
  it('reads auto, a preference list or cuda alone, and refuses anything else naming the accepted values', () => {
    expect(ortProvidersFromEnv({})).toBe('auto');
    expect(ortProvidersFromEnv({ [ORT_PROVIDERS_ENV]: ' auto ' })).toBe('auto');
    expect(ortProvidersFromEnv({ [ORT_PROVIDERS_ENV]: 'cuda, cpu' })).toEqual(['cuda', 'cpu']);
    expect(ortProvidersFromEnv({ [ORT_PROVIDERS_ENV]: 'cuda' })).toEqual(['cuda']);
    for (const bad of ['gpu', 'cuda,cuda', 'cpu,tensorrt', ',']) {
      expect(() => ortProvidersFromEnv({ [ORT_PROVIDERS_ENV]: bad })).toThrow(
        /KIOSK_ORT_PROVIDERS must be auto, cuda,cpu, cuda or cpu; got/,
      );
    }
  });

  it('auto takes CUDA then the CPU where the CUDA provider library is installed, the CPU silently where not', () => {
    expect(planOrtProviders('auto', true)).toEqual({ providers: ['cuda', 'cpu'] });
    expect(planOrtProviders('auto', false)).toEqual({ providers: ['cpu'] });
    expect(planOrtProviders(['cpu'], true)).toEqual({ providers: ['cpu'] });
    expect(planOrtProviders(['cuda'], true)).toEqual({ providers: ['cuda'] });
  });

  it('no GPU (no CUDA provider library): cuda,cpu falls back to the CPU with a reason; cuda alone refuses', () => {
    const plan = planOrtProviders(['cuda', 'cpu'], false);
    expect(plan.providers).toEqual(['cpu']);
    expect(plan.fallback).toMatch(
      /KIOSK_ORT_PROVIDERS asks for cuda but .*libonnxruntime_providers_cuda\.so/,
    );
    expect(() => planOrtProviders(['cuda'], false)).toThrow(RunnerError);
    expect(() => planOrtProviders(['cuda'], false)).toThrow(
      /KIOSK_ORT_PROVIDERS=cuda but .*target inference/,
    );
  });

  it('says a fallback once per process, however many loads hit it', () => {
    const lines: string[] = [];
    const reason = `test reason ${Math.random()}`;
    expect(logCpuFallbackOnce(reason, (l) => lines.push(l))).toBe(true);
    expect(logCpuFallbackOnce(reason, (l) => lines.push(l))).toBe(false);
    expect(lines).toEqual([`onnxruntime: ${reason}; running on the CPU`]);
  });
});

// Where onnxruntime-node's CUDA provider library is installed (the GPU image), these would test another path.
describe.skipIf(onnxCudaAvailable())(
  'the ONNX runner on a machine without a GPU (no CUDA provider library)',
  () => {
    const saved = process.env[ORT_PROVIDERS_ENV];
    afterEach(() => {
      if (saved === undefined) delete process.env[ORT_PROVIDERS_ENV];
      else process.env[ORT_PROVIDERS_ENV] = saved;
      vi.restoreAllMocks();
    });

    it('no GPU: device cuda falls back to the CPU and says so once; cudaOnly fails with the reason', async () => {
      const lines: string[] = [];
      vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
        lines.push(String(chunk));
        return true;
      });
      const path = join(SHIPPED, 'model.onnx');
      const a = await OnnxRunner.create(path, { device: 'cuda' });
      const b = await OnnxRunner.create(path, { device: 'cuda' });
      expect([a.runtime, b.runtime]).toEqual(['onnxruntime-node/cpu', 'onnxruntime-node/cpu']);
      await Promise.all([a.dispose(), b.dispose()]);
      const said = lines.filter((l) => l.startsWith('onnxruntime: the CUDA provider could not start'));
      expect(said).toHaveLength(1);
      expect(said[0]).toMatch(/; running on the CPU\n$/);
      await expect(OnnxRunner.create(path, { device: 'cuda', cudaOnly: true })).rejects.toThrow(
        /onnxruntime's CUDA provider could not start/,
      );
    });

    it('no GPU: loadRunner serves on the CPU for cuda,cpu and refuses KIOSK_ORT_PROVIDERS=cuda', async () => {
      vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
      process.env[ORT_PROVIDERS_ENV] = 'cuda,cpu';
      const r = await loadRunner(SHIPPED, { runtime: 'onnx', int8: 'off' });
      expect(r.runtime).toBe('onnxruntime-node/cpu');
      await r.dispose();
      process.env[ORT_PROVIDERS_ENV] = 'cuda';
      await expect(loadRunner(SHIPPED, { runtime: 'onnx', int8: 'off' })).rejects.toMatchObject({
        code: 'missing-file',
      });
      process.env[ORT_PROVIDERS_ENV] = 'gpu';
      await expect(loadRunner(SHIPPED, { runtime: 'onnx', int8: 'off' })).rejects.toMatchObject({
        code: 'bad-option',
      });
    });
  },
);

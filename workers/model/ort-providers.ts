/**
 * Which onnxruntime execution providers a model session asks for: `KIOSK_ORT_PROVIDERS`, read once per load.
 *
 * - unset, empty or `auto`: the CUDA provider where onnxruntime-node's CUDA provider library is installed
 *   (the GPU image's `inference` target downloads it at build time, docker/gpu.Dockerfile), with the CPU
 *   behind it; elsewhere the CPU only, without a word (the CPU image has no CUDA provider by design).
 * - a list in order of preference, `cuda,cpu` or `cpu`: `cuda,cpu` tries CUDA and falls back to the CPU;
 *   when the library is missing or the provider fails to start (no GPU, no driver, the CUDA 12 / cuDNN 9
 *   libraries not found) the process says so once on stderr and serves on the CPU.
 * - `cuda` alone: CUDA or nothing. A load fails with the reason instead of falling back, for a GPU check that
 *   must not pass on the CPU by accident.
 */
import { RunnerError } from './runner-error.js';

export const ORT_PROVIDERS_ENV = 'KIOSK_ORT_PROVIDERS';

export type OrtProvider = 'cuda' | 'cpu';
/** 'auto', or the providers in order of preference. */
export type OrtProvidersSetting = 'auto' | readonly OrtProvider[];

/** The setting from `KIOSK_ORT_PROVIDERS`; RunnerError 'bad-option' naming the accepted values otherwise. */
export function ortProvidersFromEnv(env: NodeJS.ProcessEnv = process.env): OrtProvidersSetting {
  const raw = (env[ORT_PROVIDERS_ENV] ?? '').trim();
  if (raw === '' || raw === 'auto') return 'auto';
  const list = raw.split(',').map((s) => s.trim());
  const bad = list.find((p) => p !== 'cuda' && p !== 'cpu');
  if (bad !== undefined || new Set(list).size !== list.length) {
    throw new RunnerError(
      'bad-option',
      `${ORT_PROVIDERS_ENV} must be auto, cuda,cpu, cuda or cpu; got ${JSON.stringify(raw)}`,
    );
  }
  return list as OrtProvider[];
}

/** What a load does: the providers to try, in order, and why CUDA is left out when it was asked for. */
export interface OrtProviderPlan {
  readonly providers: readonly OrtProvider[];
  /** Set when the setting asked for CUDA and the plan runs on the CPU instead (log it once). */
  readonly fallback?: string;
}

/**
 * The providers for `setting` on a machine where the CUDA provider library is (`cudaInstalled`) or is not
 * installed. RunnerError 'missing-file' for `cuda` alone without the library.
 */
export function planOrtProviders(setting: OrtProvidersSetting, cudaInstalled: boolean): OrtProviderPlan {
  if (setting === 'auto') return { providers: cudaInstalled ? ['cuda', 'cpu'] : ['cpu'] };
  if (!setting.includes('cuda') || cudaInstalled) return { providers: setting };
  const missing =
    "onnxruntime-node's CUDA provider library (libonnxruntime_providers_cuda.so) is not installed; " +
    'the GPU image installs it at build time (docker/gpu.Dockerfile, target inference)';
  if (!setting.includes('cpu'))
    throw new RunnerError('missing-file', `${ORT_PROVIDERS_ENV}=cuda but ${missing}`);
  return { providers: ['cpu'], fallback: `${ORT_PROVIDERS_ENV} asks for cuda but ${missing}` };
}

const said = new Set<string>();

/**
 * Writes `onnxruntime: <reason>; running on the CPU` once per process and reason (a worker loads a model per
 * job batch; the line must not repeat). Returns whether it wrote.
 */
export function logCpuFallbackOnce(
  reason: string,
  write: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): boolean {
  if (said.has(reason)) return false;
  said.add(reason);
  write(`onnxruntime: ${reason}; running on the CPU`);
  return true;
}

/**
 * Model runners: one interface over the runtimes that serve a segmentation network.
 *
 * - `OnnxRunner`: onnxruntime-node on the CPU (threads configurable), or its CUDA provider on GPU nodes where
 *   the CUDA provider library is installed. Runs the `model.onnx` written by ./onnx-export.ts.
 * - `TfjsRunner`: the tfjs-layers model on the backend `initTfjs` picked (tfjs-node-gpu → tfjs-node → wasm;
 *   never the pure-JS cpu backend unless a caller explicitly initialized it).
 *
 * Both take and give NHWC float32; both turn the network's three heads into per-pixel maps [N, H, W]:
 * inner distance, outer distance and foreground probability (the softmax's channel 1 for a 2-channel fg/bg
 * head, the single channel for a sigmoid head).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initTfjs, type RuntimePreference } from './runtime.js';
import { loadModel } from './model-io.js';
import { RunnerError } from './runner-error.js';

export { RunnerError, type RunnerErrorCode } from './runner-error.js';

/** Per-pixel head maps of a batch, each [N, H, W] row-major. */
export interface HeadMaps {
  readonly inner: Float32Array;
  readonly outer: Float32Array;
  readonly fg: Float32Array;
}

export interface ModelRunner {
  /** The model this runner serves (the folder name or the model's own name). */
  readonly name: string;
  /** What computes: 'onnxruntime-node/cpu', 'onnxruntime-node/cuda', or the tfjs backend package. */
  readonly runtime: string;
  /**
   * Runs the network on `batch` ([N, H, W, C] float32, already normalized as the model card says).
   * H and W must suit the network (multiples of 2^depth for a U-Net; tiles are).
   * Rejects with `RunnerError` 'bad-input' if `batch.length !== n*h*w*c` or c differs from the model's.
   */
  predict(batch: Float32Array, n: number, h: number, w: number, c: number): Promise<HeadMaps>;
  /** Frees the session / model. The runner must not be used afterwards. */
  dispose(): Promise<void>;
}

interface HeadSpec {
  readonly index: number;
  readonly channels: number;
}

/**
 * Finds which model output is which head. Names containing 'inner', 'outer' and 'fg'/'fore' win; otherwise
 * the order is inner, outer, fg. Channels: 1 for each distance head; 1 (sigmoid) or 2 (softmax, fg = channel 1).
 */
export function identifyHeads(
  names: readonly string[],
  channels: readonly number[],
): { inner: HeadSpec; outer: HeadSpec; fg: HeadSpec } {
  if (names.length !== 3) {
    throw new RunnerError(
      'bad-model',
      `model has ${names.length} outputs (${names.join(', ')}); expected 3 heads: inner distance, outer distance, fg/bg`,
    );
  }
  const find = (re: RegExp, fallback: number): number => {
    const hits = names.map((n, i) => (re.test(n) ? i : -1)).filter((i) => i >= 0);
    return hits.length === 1 ? hits[0]! : fallback;
  };
  let idx = [find(/inner/i, 0), find(/outer/i, 1), find(/fg|fore/i, 2)];
  if (new Set(idx).size !== 3) idx = [0, 1, 2];
  const [inner, outer, fg] = idx.map((index) => ({ index, channels: channels[index] ?? 0 })) as [
    HeadSpec,
    HeadSpec,
    HeadSpec,
  ];
  for (const [head, spec, allowed] of [
    ['inner', inner, [1]],
    ['outer', outer, [1]],
    ['fg', fg, [1, 2]],
  ] as const) {
    if (!(allowed as readonly number[]).includes(spec.channels)) {
      throw new RunnerError(
        'bad-model',
        `head '${head}' (output '${names[spec.index]}') has ${spec.channels} channels; expected ${allowed.join(' or ')}`,
      );
    }
  }
  return { inner, outer, fg };
}

/** Takes channel `ch` of an [N, H, W, C] array (C=1 returns the data itself). */
function channelOf(data: Float32Array, channels: number, ch: number): Float32Array {
  if (channels === 1) return data;
  const out = new Float32Array(data.length / channels);
  for (let i = 0; i < out.length; i++) out[i] = data[i * channels + ch]!;
  return out;
}

function checkBatch(
  batch: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  modelChannels: number,
): void {
  for (const [k, v] of Object.entries({ n, h, w, c })) {
    if (!Number.isInteger(v) || v < 1)
      throw new RunnerError('bad-input', `predict: ${k} must be a positive integer; got ${v}`);
  }
  if (batch.length !== n * h * w * c) {
    throw new RunnerError(
      'bad-input',
      `predict: batch has ${batch.length} values; [N, H, W, C] = [${n}, ${h}, ${w}, ${c}] needs ${n * h * w * c}`,
    );
  }
  if (c !== modelChannels)
    throw new RunnerError('bad-input', `predict: batch has ${c} channels; the model takes ${modelChannels}`);
}

export interface OnnxRunnerOptions {
  /** intra-op threads of onnxruntime's CPU provider (positive integer). @default 1 */
  readonly threads?: number;
  /** 'cuda' asks for the CUDA provider (falls back to CPU when it cannot load). @default 'cpu' */
  readonly device?: 'cpu' | 'cuda';
  /** Model name reported by `name`. @default 'model' */
  readonly name?: string;
  /**
   * Let idle intra-op threads spin (busy-wait) for the next piece of work instead of sleeping
   * (onnxruntime's `session.intra_op.allow_spinning`). Spinning is faster when the process has its cores to
   * itself (2 cores, 2 threads: a 512x512 tile in 117 ms with it, 152 ms without; `segmentImage` 201 vs
   * 232 ms per val image) and burns the CPU that other processes on the same cores need (the job service's
   * inference worker turns it off: KIOSK_ONNX_SPIN). @default true (onnxruntime's default)
   */
  readonly spin?: boolean;
}

/** True when onnxruntime-node's CUDA provider library is installed next to its native binding. */
export function onnxCudaAvailable(): boolean {
  try {
    const require = createRequire(import.meta.url);
    const pkg = dirname(require.resolve('onnxruntime-node/package.json'));
    return existsSync(
      join(pkg, 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so'),
    );
  } catch {
    return false;
  }
}

export class OnnxRunner implements ModelRunner {
  private constructor(
    readonly name: string,
    readonly runtime: string,
    private readonly session: ort.InferenceSession,
    private readonly channels: number,
    private readonly heads: ReturnType<typeof identifyHeads>,
  ) {}

  /** Opens `model` (a path to model.onnx or its bytes). Rejects with RunnerError for a bad option or model. */
  static async create(model: string | Uint8Array, opts: OnnxRunnerOptions = {}): Promise<OnnxRunner> {
    const threads = opts.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1)
      throw new RunnerError('bad-option', `onnx threads must be a positive integer; got ${threads}`);
    if (opts.spin !== undefined && typeof opts.spin !== 'boolean')
      throw new RunnerError('bad-option', `onnx spin must be true or false; got ${String(opts.spin)}`);
    if (typeof model === 'string' && !existsSync(model))
      throw new RunnerError('missing-file', `no ONNX model at ${model}`);
    const base: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      ...(opts.spin === false ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
    };
    let session: ort.InferenceSession | undefined;
    let runtime = 'onnxruntime-node/cpu';
    const open = (o: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> =>
      typeof model === 'string'
        ? ort.InferenceSession.create(model, o)
        : ort.InferenceSession.create(model, o);
    if (opts.device === 'cuda') {
      try {
        session = await open({ ...base, executionProviders: ['cuda', 'cpu'] });
        runtime = 'onnxruntime-node/cuda';
      } catch {
        session = undefined; // CUDA provider did not load: CPU below.
      }
    }
    try {
      session ??= await open({ ...base, executionProviders: ['cpu'] });
    } catch (err) {
      throw new RunnerError(
        'bad-model',
        `onnxruntime could not load the model: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const meta = session.inputMetadata[0];
    const shape = meta && meta.isTensor ? meta.shape : [];
    const channels = shape[3];
    if (session.inputNames.length !== 1 || typeof channels !== 'number') {
      throw new RunnerError(
        'bad-model',
        `ONNX model must have one NHWC input with a fixed channel count; got ${JSON.stringify(session.inputNames)} ${JSON.stringify(shape)}`,
      );
    }
    const outChannels = session.outputMetadata.map((m) =>
      m.isTensor && typeof m.shape[3] === 'number' ? m.shape[3] : 0,
    );
    const heads = identifyHeads(session.outputNames, outChannels);
    return new OnnxRunner(opts.name ?? 'model', runtime, session, channels, heads);
  }

  async predict(batch: Float32Array, n: number, h: number, w: number, c: number): Promise<HeadMaps> {
    checkBatch(batch, n, h, w, c, this.channels);
    const feeds = { [this.session.inputNames[0]!]: new ort.Tensor('float32', batch, [n, h, w, c]) };
    const result = await this.session.run(feeds);
    const get = (spec: HeadSpec, ch: number): Float32Array => {
      const t = result[this.session.outputNames[spec.index]!]!;
      return channelOf(t.data as Float32Array, spec.channels, ch);
    };
    const maps = {
      inner: get(this.heads.inner, 0),
      outer: get(this.heads.outer, 0),
      fg: get(this.heads.fg, this.heads.fg.channels - 1),
    };
    for (const t of Object.values(result)) t.dispose();
    return maps;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

export class TfjsRunner implements ModelRunner {
  private readonly channels: number;
  private readonly heads: ReturnType<typeof identifyHeads>;

  /** Wraps a loaded model; `runtime` names the backend (e.g. '@tensorflow/tfjs-backend-wasm'). */
  constructor(
    private readonly model: tfl.LayersModel,
    readonly runtime: string,
    readonly name: string = model.name,
  ) {
    const inShape = model.inputs[0]?.shape ?? [];
    if (model.inputs.length !== 1 || inShape.length !== 4 || typeof inShape[3] !== 'number') {
      throw new RunnerError(
        'bad-model',
        `tfjs model must have one [N, H, W, C] input; got ${JSON.stringify(model.inputs.map((i) => i.shape))}`,
      );
    }
    this.channels = inShape[3];
    this.heads = identifyHeads(
      model.outputs.map((o) => o.sourceLayer.name),
      model.outputs.map((o) => (typeof o.shape[3] === 'number' ? o.shape[3] : 0)),
    );
  }

  async predict(batch: Float32Array, n: number, h: number, w: number, c: number): Promise<HeadMaps> {
    checkBatch(batch, n, h, w, c, this.channels);
    const outputs = tf.tidy(() => {
      const out = this.model.predict(tf.tensor4d(batch, [n, h, w, c]));
      return Array.isArray(out) ? out : [out];
    });
    try {
      const data = await Promise.all(outputs.map((t) => t.data() as Promise<Float32Array>));
      const get = (spec: HeadSpec, ch: number): Float32Array =>
        channelOf(data[spec.index]!, spec.channels, ch);
      return {
        inner: get(this.heads.inner, 0),
        outer: get(this.heads.outer, 0),
        fg: get(this.heads.fg, this.heads.fg.channels - 1),
      };
    } finally {
      tf.dispose(outputs);
    }
  }

  async dispose(): Promise<void> {
    this.model.dispose();
    return Promise.resolve();
  }
}

export type RuntimeChoice = 'auto' | 'onnx' | 'tfjs';

export interface LoadRunnerOptions {
  /**
   * 'onnx' = onnxruntime-node on `model.onnx`; 'tfjs' = the tfjs model on the best backend `initTfjs` finds;
   * 'auto' = tfjs-node-gpu when it loads, else onnx when `model.onnx` exists, else tfjs (wasm).
   * @default 'auto'
   */
  readonly runtime?: RuntimeChoice;
  /** onnxruntime intra-op threads. @default 1 */
  readonly threads?: number;
  /** onnxruntime threads spin while idle (OnnxRunnerOptions.spin). @default true */
  readonly spin?: boolean;
  /** Where the tfjs backend chain starts (tests pin 'wasm'). @default - initTfjs's default */
  readonly tfjsPrefer?: RuntimePreference;
}

/**
 * Opens the model in `modelDir` (model.json + weights, and model.onnx for onnx) with the runtime asked for.
 * Rejects with RunnerError: 'bad-option' for an unknown runtime, 'missing-file' when model.onnx is needed and
 * absent; with ModelIoError (./model-io.ts) when the tfjs model folder is missing or broken.
 */
export async function loadRunner(modelDir: string, opts: LoadRunnerOptions = {}): Promise<ModelRunner> {
  const runtime = opts.runtime ?? 'auto';
  if (!['auto', 'onnx', 'tfjs'].includes(runtime))
    throw new RunnerError('bad-option', `runtime must be auto, onnx or tfjs; got ${JSON.stringify(runtime)}`);
  // A bioimage.io import (card.json with a `bioimageio` section) has its own runner (workers/bioimageio).
  const imported = await (await import('../bioimageio/runner.js')).openImportedRunner(modelDir, opts.threads);
  if (imported) return imported;
  const onnxPath = join(modelDir, 'model.onnx');
  const name = modelDir.split(/[\\/]/).filter(Boolean).slice(-2).join('/');
  const gpu = onnxCudaAvailable();
  const onnx = { threads: opts.threads ?? 1, name, ...(opts.spin !== undefined ? { spin: opts.spin } : {}) };
  if (runtime === 'onnx') return OnnxRunner.create(onnxPath, { ...onnx, device: gpu ? 'cuda' : 'cpu' });
  if (runtime === 'auto' && !existsSync(join(modelDir, 'model.json')) && existsSync(onnxPath)) {
    return OnnxRunner.create(onnxPath, onnx);
  }
  const info = await initTfjs(opts.tfjsPrefer ? { prefer: opts.tfjsPrefer } : {});
  if (runtime === 'auto' && info.source !== '@tensorflow/tfjs-node-gpu' && existsSync(onnxPath)) {
    return OnnxRunner.create(onnxPath, { ...onnx, device: gpu ? 'cuda' : 'cpu' });
  }
  const model = await loadModel(modelDir);
  return new TfjsRunner(model, info.source, name);
}

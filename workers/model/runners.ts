/**
 * Model runners: one interface over the runtimes that serve a segmentation network.
 *
 * - `OnnxRunner`: onnxruntime-node on the CPU (threads configurable), or its CUDA provider on GPU nodes where
 *   the CUDA provider library is installed. Runs the `model.onnx` written by ./onnx-export.ts, or on the CPU
 *   its int8 copy `model.int8.onnx` (./quantize-model-dir.ts) when `loadRunner`'s int8 choice allows it.
 * - `TfjsRunner`: the tfjs-layers model on the backend `initTfjs` picked (tfjs-node-gpu → tfjs-node → wasm;
 *   never the pure-JS cpu backend unless a caller explicitly initialized it).
 *
 * Both take and give NHWC float32; both turn the network's three heads into per-pixel maps [N, H, W]:
 * inner distance, outer distance and foreground probability (the softmax's channel 1 for a 2-channel fg/bg
 * head, the single channel for a sigmoid head).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initTfjs, type RuntimePreference } from './runtime.js';
import { loadModel, readModelCard } from './model-io.js';
import { INT8_ONNX, type Int8CardEntry } from './quantize-card.js';
import { RunnerError } from './runner-error.js';
import { logCpuFallbackOnce, ortProvidersFromEnv, planOrtProviders } from './ort-providers.js';

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

/**
 * The three head maps of one onnxruntime run (`outputNames[spec.index]` names each head's output; fg is the
 * last channel of a softmax head); disposes every output tensor of the run.
 */
export function headMapsOf(
  result: Record<string, ort.Tensor>,
  outputNames: readonly string[],
  heads: { inner: HeadSpec; outer: HeadSpec; fg: HeadSpec },
): HeadMaps {
  const get = (spec: HeadSpec, ch: number): Float32Array =>
    channelOf(result[outputNames[spec.index]!]!.data as Float32Array, spec.channels, ch);
  const maps = {
    inner: get(heads.inner, 0),
    outer: get(heads.outer, 0),
    fg: get(heads.fg, heads.fg.channels - 1),
  };
  for (const t of Object.values(result)) t.dispose();
  return maps;
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
  /**
   * 'cuda' asks for the CUDA provider: when it cannot start, the session runs on the CPU and the process says
   * so once (./ort-providers.ts), or with `cudaOnly` the load fails. @default 'cpu'
   */
  readonly device?: 'cpu' | 'cuda';
  /** With device 'cuda': fail instead of falling back to the CPU (KIOSK_ORT_PROVIDERS=cuda). @default false */
  readonly cudaOnly?: boolean;
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
  /** What `runtime` says the model computes in (the int8 copy is still fed and answers float32). @default 'float32' */
  readonly precision?: 'float32' | 'int8';
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
    /** Input channels the model takes. */
    readonly channels: number,
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
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        if (opts.cudaOnly)
          throw new RunnerError('bad-model', `onnxruntime's CUDA provider could not start: ${why}`);
        logCpuFallbackOnce(`the CUDA provider could not start (${why})`);
        session = undefined; // CPU below.
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
    if (opts.precision === 'int8') runtime += ' int8';
    return new OnnxRunner(opts.name ?? 'model', runtime, session, channels, heads);
  }

  async predict(batch: Float32Array, n: number, h: number, w: number, c: number): Promise<HeadMaps> {
    checkBatch(batch, n, h, w, c, this.channels);
    const feeds = { [this.session.inputNames[0]!]: new ort.Tensor('float32', batch, [n, h, w, c]) };
    const result = await this.session.run(feeds);
    return headMapsOf(result, this.session.outputNames, this.heads);
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

/** Whether onnxruntime on the CPU serves the folder's int8 copy (see `LoadRunnerOptions.int8`). */
export type Int8Choice = 'auto' | 'on' | 'off';
export const INT8_ENV_VAR = 'KIOSK_INT8';
/** 'auto' serves the int8 copy only when a tile costs the float model at least this many times its CPU time. */
export const INT8_MIN_SPEEDUP = 1.1;

/** The int8 choice from `KIOSK_INT8` (unset or empty: 'auto'); RunnerError 'bad-option' for anything else. */
export function int8FromEnv(env: NodeJS.ProcessEnv = process.env): Int8Choice {
  const v = (env[INT8_ENV_VAR] ?? '').trim();
  if (v === '') return 'auto';
  if (v === 'auto' || v === 'on' || v === 'off') return v;
  throw new RunnerError('bad-option', `${INT8_ENV_VAR} must be auto, on or off; got ${JSON.stringify(v)}`);
}

/** Why 'auto' did or did not pick the int8 copy of a folder (the last decision per folder and thread count in this process). */
export interface Int8Decision {
  readonly int8: boolean;
  readonly reason: string;
  /** Best CPU time of a few runs of one tile on 1 thread, ms, when both were timed. */
  readonly floatMs?: number;
  readonly int8Ms?: number;
}

const int8Decisions = new Map<string, Int8Decision>();

/** The decision 'auto' took for `modelDir` with `threads` in this process (undefined before the first load). */
export function int8Decision(modelDir: string, threads: number): Int8Decision | undefined {
  return int8Decisions.get(`${modelDir}|${threads}`);
}

const sha256 = async (path: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

/**
 * Whether the folder's int8 copy may be served: the card records a passed accuracy gate for exactly this file
 * (sha256) made from exactly this model.onnx. Undefined when it may; else the reason it may not.
 */
export async function int8Refusal(modelDir: string): Promise<string | undefined> {
  const r = await int8Check(modelDir);
  return 'refusal' in r ? r.refusal : undefined;
}

async function int8Check(modelDir: string): Promise<{ refusal: string } | { sha: string }> {
  const path = join(modelDir, INT8_ONNX);
  if (!existsSync(path)) return { refusal: `no ${INT8_ONNX}` };
  const card = await readModelCard(modelDir).catch(() => undefined);
  const entry = card?.['int8'] as Int8CardEntry | undefined;
  if (!entry || typeof entry !== 'object') return { refusal: 'card.json has no int8 record' };
  if (entry.validation?.passed !== true)
    return { refusal: 'card.int8 does not record a passed accuracy gate' };
  const sha = await sha256(path);
  if (entry.sha256 !== sha) return { refusal: `${INT8_ONNX} is not the file card.int8 describes (sha256)` };
  if (entry.calibration?.floatSha256 !== (await sha256(join(modelDir, 'model.onnx'))))
    return { refusal: `card.int8 was made from another model.onnx (sha256)` };
  return { sha };
}

/**
 * Where a machine keeps 'auto''s timing of an int8 copy (by the copy's sha256), so that every process on the
 * machine — the job service's workers, `kiosk segment`, tests — serves the same model. Delete it to re-time.
 */
export function int8DecisionFile(sha: string): string {
  return join(tmpdir(), `cellkiosk-int8-${sha.slice(0, 16)}.json`);
}

async function readDecisionFile(sha: string): Promise<Int8Decision | undefined> {
  try {
    const d = JSON.parse(await readFile(int8DecisionFile(sha), 'utf8')) as Int8Decision;
    return typeof d.int8 === 'boolean' && typeof d.int8Ms === 'number' && typeof d.floatMs === 'number'
      ? d
      : undefined;
  } catch {
    return undefined;
  }
}

async function writeDecisionFile(sha: string, d: Int8Decision): Promise<void> {
  const path = int8DecisionFile(sha);
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, `${JSON.stringify(d)}\n`);
    await rename(tmp, path);
  } catch {
    await rm(tmp, { force: true }).catch(() => {});
  }
}

/**
 * Best process CPU time (user + system) of `reps` forward passes of one tile, after one warm-up, in ms. With one
 * thread that does not spin this is the work of the pass itself, which other processes on a busy machine do
 * not inflate the way they inflate wall time.
 */
async function tileCpuMs(runner: OnnxRunner, size: number, reps: number): Promise<number> {
  const c = runner.channels;
  const tile = Float32Array.from({ length: size * size * c }, (_, i) => 0.5 + 0.5 * Math.sin(i * 0.37));
  await runner.predict(tile, 1, size, size, c);
  let best = Infinity;
  for (let k = 0; k < reps; k++) {
    const t = process.cpuUsage();
    await runner.predict(tile, 1, size, size, c);
    const d = process.cpuUsage(t);
    best = Math.min(best, (d.user + d.system) / 1000);
  }
  return best;
}

/**
 * onnxruntime on the CPU for `modelDir`, float or int8 as `choice` says: 'off' float; 'on' the int8 copy
 * (RunnerError 'missing-file' without one; no accuracy check — for measuring); 'auto' the int8 copy only when
 * `int8Refusal` finds nothing against it (checked at every load) AND it is at least INT8_MIN_SPEEDUP times
 * faster on this machine: the CPU time of one 256x256 tile on 1 thread (best of 3, float and int8 interleaved:
 * about half a second on 2 cores), measured by the first load on the machine, which keeps the result in `int8DecisionFile` for every
 * later load and process (so all of them serve the same model).
 */
async function openOnnxCpu(
  modelDir: string,
  onnx: OnnxRunnerOptions,
  choice: Int8Choice,
): Promise<OnnxRunner> {
  const floatPath = join(modelDir, 'model.onnx');
  const int8Path = join(modelDir, INT8_ONNX);
  if (choice === 'off') return OnnxRunner.create(floatPath, onnx);
  if (choice === 'on') {
    if (!existsSync(int8Path))
      throw new RunnerError('missing-file', `${INT8_ENV_VAR}=on but there is no ${INT8_ONNX} in ${modelDir}`);
    return OnnxRunner.create(int8Path, { ...onnx, precision: 'int8' });
  }
  const key = `${modelDir}|${onnx.threads ?? 1}`;
  // The card and files are checked at every load (they may change); the timing is kept per machine.
  const check = await int8Check(modelDir);
  if ('refusal' in check) {
    int8Decisions.set(key, { int8: false, reason: check.refusal });
    return OnnxRunner.create(floatPath, onnx);
  }
  const known = await readDecisionFile(check.sha);
  if (known) {
    int8Decisions.set(key, known);
    return known.int8
      ? OnnxRunner.create(int8Path, { ...onnx, precision: 'int8' })
      : OnnxRunner.create(floatPath, onnx);
  }
  // Timed on sessions of their own (1 thread, no spinning) by CPU time: comparable on a loaded machine.
  const timing = { threads: 1, spin: false };
  const float = await OnnxRunner.create(floatPath, timing);
  let int8: OnnxRunner | undefined;
  let decision: Int8Decision;
  try {
    int8 = await OnnxRunner.create(int8Path, { ...timing, precision: 'int8' });
    let f = Infinity;
    let q = Infinity;
    for (let round = 0; round < 3; round++) {
      f = Math.min(f, await tileCpuMs(float, 256, 1));
      q = Math.min(q, await tileCpuMs(int8, 256, 1));
    }
    decision = {
      int8: f / q >= INT8_MIN_SPEEDUP,
      reason: `CPU time of one 256x256 tile, 1 thread: float ${f.toFixed(1)} ms, int8 ${q.toFixed(1)} ms (${(f / q).toFixed(2)}x; int8 needs ${INT8_MIN_SPEEDUP}x)`,
      floatMs: f,
      int8Ms: q,
    };
    await writeDecisionFile(check.sha, decision);
  } catch (err) {
    decision = {
      int8: false,
      reason: `int8 copy failed to run: ${err instanceof Error ? err.message : String(err)}`,
    };
  } finally {
    await float.dispose();
    await int8?.dispose();
  }
  int8Decisions.set(key, decision);
  return decision.int8
    ? OnnxRunner.create(int8Path, { ...onnx, precision: 'int8' })
    : OnnxRunner.create(floatPath, onnx);
}

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
  /**
   * When onnxruntime runs on the CPU: 'auto' serves `model.int8.onnx` when the card records that it passed the
   * accuracy gate and it is faster on this machine (measured at load, see `openOnnxCpu`); 'on' serves it
   * whenever it exists; 'off' never. No effect on tfjs or the CUDA provider.
   * @default - KIOSK_INT8, else 'auto'
   */
  readonly int8?: Int8Choice;
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
  const int8 = opts.int8 ?? int8FromEnv();
  if (!['auto', 'on', 'off'].includes(int8))
    throw new RunnerError('bad-option', `int8 must be auto, on or off; got ${JSON.stringify(int8)}`);
  // KIOSK_ORT_PROVIDERS (./ort-providers.ts): CUDA where its provider library is installed, else the CPU.
  const plan = planOrtProviders(ortProvidersFromEnv(), onnxCudaAvailable());
  if (plan.fallback) logCpuFallbackOnce(plan.fallback);
  const gpu = plan.providers[0] === 'cuda';
  const onnx = { threads: opts.threads ?? 1, name, ...(opts.spin !== undefined ? { spin: opts.spin } : {}) };
  const openOnnx = (): Promise<OnnxRunner> =>
    gpu
      ? OnnxRunner.create(onnxPath, { ...onnx, device: 'cuda', cudaOnly: !plan.providers.includes('cpu') })
      : openOnnxCpu(modelDir, onnx, int8);
  if (runtime === 'onnx') return openOnnx();
  if (runtime === 'auto' && !existsSync(join(modelDir, 'model.json')) && existsSync(onnxPath)) {
    return openOnnx();
  }
  const info = await initTfjs(opts.tfjsPrefer ? { prefer: opts.tfjsPrefer } : {});
  if (runtime === 'auto' && info.source !== '@tensorflow/tfjs-node-gpu' && existsSync(onnxPath)) {
    return openOnnx();
  }
  const model = await loadModel(modelDir);
  return new TfjsRunner(model, info.source, name);
}

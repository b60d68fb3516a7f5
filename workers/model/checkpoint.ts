/**
 * Training checkpoints: a folder holding the model (model-io format), the optimizer's state
 * (`optimizer.json` + `optimizer.bin`: tf.io.encodeWeights of `optimizer.getWeights()`) and `state.json`
 * (epoch, step, best score, history). Written to `<dir>.tmp-<pid>` first and swapped in with renames, so
 * a crash at any moment leaves either the old or the new checkpoint, never a mix.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadModel, ModelIoError, saveModel } from './model-io.js';

export interface EpochRecord {
  readonly epoch: number;
  readonly step: number;
  readonly trainLoss: number;
  readonly valLoss?: number;
  readonly valF1?: number;
  readonly valDsb?: number;
  /** The number early stopping and best-model selection look at (higher is better). */
  readonly score: number;
  readonly seconds: number;
  readonly samplesPerSecond: number;
  readonly lr: number;
}

export interface TrainingState {
  /** Last completed epoch (1-based). */
  readonly epoch: number;
  /** Optimizer steps taken so far. */
  readonly step: number;
  readonly bestScore: number;
  readonly bestEpoch: number;
  /** Wall-clock seconds of training so far, across resumes. */
  readonly seconds: number;
  readonly history: readonly EpochRecord[];
  /** Free-form facts (config, data) carried along. */
  readonly meta?: Readonly<Record<string, unknown>>;
  /**
   * An epoch stopped part-way (a stop request between checkpoints): its steps so far, their summed loss and
   * seconds, so a resume finishes that epoch exactly as an uninterrupted run would.
   */
  readonly partial?: { readonly steps: number; readonly lossSum: number; readonly seconds: number };
  /**
   * Adam's running powers beta1^t and beta2^t as float32 values. tfjs recomputes them with pow() on
   * setWeights, which can differ in the last bit from the product an uninterrupted run accumulated.
   */
  readonly adam?: { readonly accBeta1: number; readonly accBeta2: number };
  /** Whether the checkpoint holds an exponential moving average of the weights (`ema.json` + `ema.bin`). */
  readonly ema?: boolean;
}

const STATE = 'state.json';
const OPT_JSON = 'optimizer.json';
const OPT_BIN = 'optimizer.bin';
type NamedTensor = { name: string; tensor: tf.Tensor };
const EMA_JSON = 'ema.json';
const EMA_BIN = 'ema.bin';

async function writeTensors(dir: string, json: string, bin: string, named: NamedTensor[]): Promise<void> {
  const { data, specs } = await tf.io.encodeWeights(named);
  const bytes = Array.isArray(data) ? tf.io.CompositeArrayBuffer.join(data) : data;
  await writeFile(join(dir, bin), new Uint8Array(bytes));
  await writeFile(join(dir, json), JSON.stringify({ order: named.map((n) => n.name), specs }));
}

async function readTensors(dir: string, json: string, bin: string): Promise<NamedTensor[]> {
  const meta = JSON.parse(await readFile(join(dir, json), 'utf8')) as {
    order: string[];
    specs: tf.io.WeightsManifestEntry[];
  };
  const buf = await readFile(join(dir, bin));
  const map = tf.io.decodeWeights(
    buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength),
    meta.specs,
  );
  return meta.order.map((name) => {
    const tensor = map[name];
    if (!tensor)
      throw new ModelIoError('bad-weights', `${join(dir, json)} lists '${name}' but ${bin} lacks it`);
    return { name, tensor };
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes model + optimizer + state into `dir` atomically (see the module doc). */
export async function saveCheckpoint(
  dir: string,
  model: tfl.LayersModel,
  optimizer: tf.Optimizer | undefined,
  state: TrainingState,
  ema?: readonly tf.Tensor[],
): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await saveModel(model, tmp);
  if (optimizer) await writeTensors(tmp, OPT_JSON, OPT_BIN, await optimizer.getWeights());
  if (ema)
    await writeTensors(
      tmp,
      EMA_JSON,
      EMA_BIN,
      ema.map((tensor, i) => ({ name: `ema_${i}`, tensor })),
    );
  await writeFile(join(tmp, STATE), `${JSON.stringify(state, null, 2)}\n`);
  const old = `${dir}.old-${process.pid}`;
  if (await exists(dir)) await rename(dir, old);
  await rename(tmp, dir);
  await rm(old, { recursive: true, force: true });
}

/** Whether `dir` holds a complete checkpoint. */
export async function hasCheckpoint(dir: string): Promise<boolean> {
  return (await exists(join(dir, STATE))) && (await exists(join(dir, 'model.json')));
}

/** Reads `state.json` of a checkpoint. Rejects with ModelIoError 'not-found' / 'bad-card'. */
export async function readTrainingState(dir: string): Promise<TrainingState> {
  let text: string;
  try {
    text = await readFile(join(dir, STATE), 'utf8');
  } catch {
    throw new ModelIoError('not-found', `no checkpoint state at ${join(dir, STATE)}`);
  }
  const state = JSON.parse(text) as TrainingState;
  if (!Number.isInteger(state.epoch) || !Number.isInteger(state.step) || !Array.isArray(state.history)) {
    throw new ModelIoError('bad-card', `${join(dir, STATE)} lacks epoch/step/history`);
  }
  // JSON has no -Infinity: a checkpoint written before any epoch was scored stores bestScore as null
  return state.bestScore === null ? { ...state, bestScore: -Infinity } : state;
}

/**
 * Loads a checkpoint: the model, the state, and (when `optimizer` is given and the checkpoint has one) the
 * optimizer's moments, set in saved order (tfjs optimizers match their state to variables by position, so the
 * optimizer must be used with the same trainable weights in the same order, as a rebuilt model gives).
 */
export async function loadCheckpoint(
  dir: string,
  optimizer?: tf.Optimizer,
): Promise<{
  model: tfl.LayersModel;
  state: TrainingState;
  optimizerRestored: boolean;
  /** The weights' moving average, in model.getWeights() order, when the checkpoint has one. */
  ema?: tf.Tensor[];
}> {
  const state = await readTrainingState(dir);
  const model = await loadModel(dir);
  let optimizerRestored = false;
  if (optimizer && (await exists(join(dir, OPT_JSON)))) {
    await optimizer.setWeights(await readTensors(dir, OPT_JSON, OPT_BIN));
    if (state.adam) {
      // setWeights recomputed these with pow(); put back the exact values the saved run had accumulated
      const adam = optimizer as unknown as { accBeta1?: tf.Variable; accBeta2?: tf.Variable };
      adam.accBeta1?.assign(tf.scalar(state.adam.accBeta1));
      adam.accBeta2?.assign(tf.scalar(state.adam.accBeta2));
    }
    optimizerRestored = true;
  }
  const ema = (await exists(join(dir, EMA_JSON)))
    ? (await readTensors(dir, EMA_JSON, EMA_BIN)).map((n) => n.tensor)
    : undefined;
  return { model, state, optimizerRestored, ...(ema ? { ema } : {}) };
}

/** Adam's accumulated beta powers as float32 values (see TrainingState.adam); undefined for other optimizers. */
export function adamPowers(optimizer: tf.Optimizer): TrainingState['adam'] {
  const adam = optimizer as unknown as { accBeta1?: tf.Variable; accBeta2?: tf.Variable };
  if (!adam.accBeta1 || !adam.accBeta2) return undefined;
  return { accBeta1: adam.accBeta1.dataSync()[0]!, accBeta2: adam.accBeta2.dataSync()[0]! };
}

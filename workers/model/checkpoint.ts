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
}

const STATE = 'state.json';
const OPT_JSON = 'optimizer.json';
const OPT_BIN = 'optimizer.bin';

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
): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await saveModel(model, tmp);
  if (optimizer) {
    const named = await optimizer.getWeights();
    const { data, specs } = await tf.io.encodeWeights(named);
    const bytes = Array.isArray(data) ? tf.io.CompositeArrayBuffer.join(data) : data;
    await writeFile(join(tmp, OPT_BIN), new Uint8Array(bytes));
    await writeFile(join(tmp, OPT_JSON), JSON.stringify({ order: named.map((n) => n.name), specs }));
  }
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
  return state;
}

/**
 * Loads a checkpoint: the model, the state, and (when `optimizer` is given and the checkpoint has one) the
 * optimizer's moments, set in saved order (tfjs optimizers match their state to variables by position, so the
 * optimizer must be used with the same trainable weights in the same order, as a rebuilt model gives).
 */
export async function loadCheckpoint(
  dir: string,
  optimizer?: tf.Optimizer,
): Promise<{ model: tfl.LayersModel; state: TrainingState; optimizerRestored: boolean }> {
  const state = await readTrainingState(dir);
  const model = await loadModel(dir);
  let optimizerRestored = false;
  if (optimizer && (await exists(join(dir, OPT_JSON)))) {
    const meta = JSON.parse(await readFile(join(dir, OPT_JSON), 'utf8')) as {
      order: string[];
      specs: tf.io.WeightsManifestEntry[];
    };
    const buf = await readFile(join(dir, OPT_BIN));
    const map = tf.io.decodeWeights(
      buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength),
      meta.specs,
    );
    const named = meta.order.map((name) => {
      const tensor = map[name];
      if (!tensor) throw new ModelIoError('bad-weights', `optimizer state in ${dir} lacks '${name}'`);
      return { name, tensor };
    });
    await optimizer.setWeights(named);
    optimizerRestored = true;
  }
  return { model, state, optimizerRestored };
}

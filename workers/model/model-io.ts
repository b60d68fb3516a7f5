/**
 * Model folders on the local filesystem: `model.json` (tfjs layers format: topology + weights manifest),
 * `weights.bin` (all weights, float32 little-endian, in manifest order) and `card.json` (the model card).
 *
 * The IOHandler here uses only `node:fs`, so loading and saving work on every backend (wasm, cpu,
 * tfjs-node) without `@tensorflow/tfjs-node`'s `file://` handler.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NetworkConfig } from './network.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
export const CARD_JSON = 'card.json';

export type ModelIoErrorCode = 'not-found' | 'bad-model-json' | 'bad-weights' | 'bad-card';

/** A model folder that cannot be read or written; `message` names the file and what was wrong. */
export class ModelIoError extends Error {
  override readonly name = 'ModelIoError';
  constructor(
    readonly code: ModelIoErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** How inputs must be prepared for a model: what the network was trained on. */
export interface ModelInputContract {
  /** Channels of the input tensor `[B, H, W, C]`. */
  readonly channels: number;
  /**
   * Per-image, per-channel normalization: `(x - pLow) / (pHigh - pLow)` with the given percentiles,
   * not clipped (a constant image becomes all zeros).
   */
  readonly normalization: { readonly method: 'percentile'; readonly low: number; readonly high: number };
  /** Median nucleus diameter (px) the network was trained at; rescale inputs so nuclei have about this size. */
  readonly targetDiameterPx: number;
  /**
   * µm per pixel the network expects, for a typical nucleus of `typicalNucleusDiameterUm`; rescale an input
   * of known pixel size by `inputMpp / mpp`.
   */
  readonly mpp: number;
  /** The nucleus diameter (µm) assumed when turning `targetDiameterPx` into `mpp`. */
  readonly typicalNucleusDiameterUm: number;
  /** H and W of the tensor must be multiples of this. */
  readonly sizeMultiple: number;
}

/** Settings for deep watershed that the model was validated with. */
export interface ModelPostprocess {
  readonly method: 'deep-watershed';
  readonly [option: string]: unknown;
}

/** The model card (card.json). Free-form extra fields are kept as they are. */
export interface ModelCard {
  readonly name: string;
  readonly version: number;
  readonly task: 'nuclear-segmentation';
  readonly input: ModelInputContract;
  /** Output heads in model output order, e.g. ['inner', 'outer', 'fgbg']. */
  readonly outputs: readonly string[];
  readonly network: NetworkConfig;
  readonly params: number;
  readonly postprocess?: ModelPostprocess;
  readonly training?: Readonly<Record<string, unknown>>;
  readonly validation?: Readonly<Record<string, unknown>>;
  readonly [extra: string]: unknown;
}

function isNotFound(err: unknown): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === 'ENOENT';
}

async function readOrThrow(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    if (isNotFound(err)) throw new ModelIoError('not-found', `${what} not found: ${path}`);
    throw err;
  }
}

/** Writes a file atomically (temp file + rename), so a crash never leaves a half-written model behind. */
async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

function joinWeights(data: tf.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  const buffer = Array.isArray(data) ? tf.io.CompositeArrayBuffer.join(data) : data;
  return new Uint8Array(buffer);
}

/** A tfjs IOHandler over a folder (`model.json` + `weights.bin`), both directions. */
export function folderHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new ModelIoError(
          'bad-model-json',
          'binary model topologies are not supported; save a LayersModel',
        );
      }
      await mkdir(dir, { recursive: true });
      const weights = joinWeights(artifacts.weightData);
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tfl.version_layers}`,
        convertedBy: null,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
      };
      await writeAtomic(join(dir, WEIGHTS_BIN), weights);
      await writeAtomic(join(dir, MODEL_JSON), JSON.stringify(modelJson));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: JSON.stringify(modelJson.modelTopology).length,
          weightSpecsBytes: JSON.stringify(modelJson.weightsManifest).length,
          weightDataBytes: weights.byteLength,
        },
      };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const jsonPath = join(dir, MODEL_JSON);
      const text = (await readOrThrow(jsonPath, 'model.json')).toString('utf8');
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(text) as tf.io.ModelJSON;
      } catch (err) {
        throw new ModelIoError('bad-model-json', `${jsonPath} is not valid JSON: ${(err as Error).message}`);
      }
      if (
        typeof json !== 'object' ||
        json === null ||
        !json.modelTopology ||
        !Array.isArray(json.weightsManifest)
      ) {
        throw new ModelIoError('bad-model-json', `${jsonPath} lacks 'modelTopology' or 'weightsManifest'`);
      }
      const specs = json.weightsManifest.flatMap((group) => group.weights);
      const files = json.weightsManifest.flatMap((group) => group.paths);
      const parts = await Promise.all(files.map((f) => readOrThrow(join(dir, f), 'weights file')));
      const buffer = Buffer.concat(parts);
      const expected = specs.reduce((sum, s) => sum + s.shape.reduce((a, b) => a * b, 1) * 4, 0);
      if (specs.some((s) => s.dtype !== undefined && s.dtype !== 'float32')) {
        throw new ModelIoError('bad-weights', `${jsonPath}: only float32 weights are supported`);
      }
      if (buffer.byteLength !== expected) {
        throw new ModelIoError(
          'bad-weights',
          `weights in ${dir} have ${buffer.byteLength} bytes; the manifest needs ${expected}`,
        );
      }
      const weightData = buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        weightSpecs: specs,
        weightData,
      };
    },
  };
}

/** Saves a LayersModel into `dir` (created if missing), plus `card.json` when a card is given. */
export async function saveModel(model: tfl.LayersModel, dir: string, card?: ModelCard): Promise<void> {
  await model.save(folderHandler(dir));
  if (card) await writeModelCard(dir, card);
}

/** Loads the LayersModel saved in `dir`. Rejects with `ModelIoError` for a missing or broken folder. */
export async function loadModel(dir: string): Promise<tfl.LayersModel> {
  return tfl.loadLayersModel(folderHandler(dir));
}

export async function writeModelCard(dir: string, card: ModelCard): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeAtomic(join(dir, CARD_JSON), `${JSON.stringify(card, null, 2)}\n`);
}

function positive(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0;
}

/**
 * Reads and checks `dir/card.json`. Rejects with `ModelIoError` 'not-found' or 'bad-card' (the message
 * names the missing or wrong field).
 */
export async function readModelCard(dir: string): Promise<ModelCard> {
  const path = join(dir, CARD_JSON);
  const text = (await readOrThrow(path, 'card.json')).toString('utf8');
  let card: unknown;
  try {
    card = JSON.parse(text);
  } catch (err) {
    throw new ModelIoError('bad-card', `${path} is not valid JSON: ${(err as Error).message}`);
  }
  const bad = (what: string): never => {
    throw new ModelIoError('bad-card', `${path}: ${what}`);
  };
  if (typeof card !== 'object' || card === null) return bad('must be a JSON object');
  const c = card as Record<string, unknown>;
  if (typeof c.name !== 'string' || c.name === '') bad("'name' must be a non-empty string");
  if (!Number.isInteger(c.version) || (c.version as number) < 1) bad("'version' must be an integer >= 1");
  if (c.task !== 'nuclear-segmentation')
    bad(`'task' must be 'nuclear-segmentation'; got ${JSON.stringify(c.task)}`);
  if (!Array.isArray(c.outputs) || !c.outputs.every((o) => typeof o === 'string')) {
    bad("'outputs' must be an array of head names");
  }
  const input = c.input as Record<string, unknown> | undefined;
  if (typeof input !== 'object' || input === null) return bad("'input' must be an object");
  for (const key of ['channels', 'targetDiameterPx', 'mpp', 'typicalNucleusDiameterUm', 'sizeMultiple']) {
    if (!positive(input[key]))
      bad(`'input.${key}' must be a positive number; got ${JSON.stringify(input[key])}`);
  }
  const norm = input.normalization as Record<string, unknown> | undefined;
  if (
    typeof norm !== 'object' ||
    norm === null ||
    norm.method !== 'percentile' ||
    typeof norm.low !== 'number' ||
    typeof norm.high !== 'number' ||
    !(norm.low >= 0 && norm.low < norm.high && norm.high <= 100)
  ) {
    bad("'input.normalization' must be { method: 'percentile', low, high } with 0 <= low < high <= 100");
  }
  return card as ModelCard;
}

/**
 * Reads a tfjs-layers model saved in the standard tfjs format from a folder: `model.json` (modelTopology +
 * weightsManifest) and the weight files it lists. Used by the runners and the ONNX export step.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { RunnerError } from './runner-error.js';

interface ModelJson {
  modelTopology?: object;
  weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

export async function loadLayersModelFromDir(dir: string): Promise<tfl.LayersModel> {
  const jsonPath = join(dir, 'model.json');
  let json: ModelJson;
  try {
    json = JSON.parse(await readFile(jsonPath, 'utf8')) as ModelJson;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing-file' : 'bad-model';
    throw new RunnerError(
      code,
      `cannot read ${jsonPath}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new RunnerError(
      'bad-model',
      `${jsonPath} lacks modelTopology or weightsManifest (not a tfjs layers model)`,
    );
  }
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) {
      try {
        buffers.push(await readFile(join(dir, p)));
      } catch (err) {
        throw new RunnerError(
          'missing-file',
          `weights file ${join(dir, p)} listed in model.json: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
  }
  const total = buffers.reduce((s, b) => s + b.length, 0);
  const weightData = new Uint8Array(total);
  let at = 0;
  for (const b of buffers) {
    weightData.set(b, at);
    at += b.length;
  }
  const handler = tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: specs,
    weightData: weightData.buffer,
  });
  try {
    return await tfl.loadLayersModel(handler);
  } catch (err) {
    throw new RunnerError(
      'bad-model',
      `cannot build the model in ${jsonPath}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/**
 * Runs an imported bioimage.io model (its model.onnx) in onnxruntime-node: takes the pipeline's NHWC tiles,
 * lays them out in the model's input axes (e.g. bcyx = NCHW), applies each output's declared
 * post-processing per tile and hands back the channels the card's roles name as the pipeline's head maps:
 * - deep-watershed (a cellkiosk export): inner, outer, fg (a 2-channel softmax head: its channel 'fg');
 * - foreground-watershed: fg = the foreground channel (inner and outer carry it too, unused);
 * - boundary-watershed: fg = the foreground channel, outer = the boundary channel.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { applyBioimageOps } from '../image/bioimage-ops.js';
import { RunnerError } from '../model/runner-error.js';
import type { HeadMaps, ModelRunner } from '../model/runners.js';
import type { BioimageioCardSection, OutputRole } from './card.js';
import { nhwcToTensor, shapeFor, tensorToImages } from './layout.js';

export interface BioimageioRunnerOptions {
  /** onnxruntime intra-op threads. @default 1 */
  readonly threads?: number;
  readonly name?: string;
}

/** Opens an ONNX session of `model` (path or bytes) on the CPU. */
export async function openSession(model: string | Uint8Array, threads = 1): Promise<ort.InferenceSession> {
  const o: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
  };
  try {
    return typeof model === 'string'
      ? await ort.InferenceSession.create(model, o)
      : await ort.InferenceSession.create(model, o);
  } catch (err) {
    throw new RunnerError(
      'bad-model',
      `onnxruntime could not load the model: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** The session's output name for rdf output `id` at position `k` (by name, else by position). */
export function outputName(session: ort.InferenceSession, id: string, k: number): string {
  return session.outputNames.includes(id) ? id : session.outputNames[k]!;
}

/** Runs `session` on one input tensor; returns each output's data and dims by rdf output position. */
export async function runSession(
  session: ort.InferenceSession,
  input: Float32Array,
  dims: readonly number[],
  outputIds: readonly string[],
): Promise<{ data: Float32Array; dims: number[] }[]> {
  const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', input, dims) };
  const result = await session.run(feeds);
  const outs = outputIds.map((id, k) => {
    const t = result[outputName(session, id, k)];
    if (!t)
      throw new RunnerError(
        'bad-model',
        `the model has no output '${id}' (outputs: ${session.outputNames.join(', ')})`,
      );
    if (t.type !== 'float32')
      throw new RunnerError('bad-model', `output '${id}' is ${t.type}; float32 outputs are supported`);
    return { data: Float32Array.from(t.data as Float32Array), dims: [...t.dims] };
  });
  for (const t of Object.values(result)) t.dispose();
  return outs;
}

export class BioimageioRunner implements ModelRunner {
  readonly runtime = 'onnxruntime-node/cpu bioimage.io';
  private constructor(
    readonly name: string,
    private readonly session: ort.InferenceSession,
    private readonly section: BioimageioCardSection,
    private readonly batched: boolean,
  ) {}

  static async create(
    modelDir: string,
    section: BioimageioCardSection,
    opts: BioimageioRunnerOptions = {},
  ): Promise<BioimageioRunner> {
    const path = join(modelDir, 'model.onnx');
    if (!existsSync(path)) throw new RunnerError('missing-file', `no ONNX model at ${path}`);
    const threads = opts.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1)
      throw new RunnerError('bad-option', `onnx threads must be a positive integer; got ${threads}`);
    const session = await openSession(path, threads);
    const meta = session.inputMetadata[0];
    const shape = meta && meta.isTensor ? meta.shape : [];
    const b = section.input.axes.indexOf('b');
    // Tiles go in one call when the model has a batch axis that is not fixed at 1.
    const batched = b >= 0 && shape[b] !== 1;
    return new BioimageioRunner(opts.name ?? 'model', session, section, batched);
  }

  async predict(batch: Float32Array, n: number, h: number, w: number, c: number): Promise<HeadMaps> {
    const want = this.section.input.axes.includes('c') ? undefined : 1;
    for (const [k, v] of Object.entries({ n, h, w, c }))
      if (!Number.isInteger(v) || v < 1)
        throw new RunnerError('bad-input', `predict: ${k} must be a positive integer; got ${v}`);
    if (batch.length !== n * h * w * c)
      throw new RunnerError(
        'bad-input',
        `predict: batch has ${batch.length} values; [${n}, ${h}, ${w}, ${c}] needs ${n * h * w * c}`,
      );
    if (want !== undefined && c !== want)
      throw new RunnerError('bad-input', `predict: batch has ${c} channels; the model takes ${want}`);
    const px = h * w;
    const maps: HeadMaps = {
      inner: new Float32Array(n * px),
      outer: new Float32Array(n * px),
      fg: new Float32Array(n * px),
    };
    const step = this.batched ? n : 1;
    for (let start = 0; start < n; start += step) {
      const m = Math.min(step, n - start);
      const part = batch.subarray(start * px * c, (start + m) * px * c);
      const axes = this.section.input.axes;
      const input = nhwcToTensor(part, m, h, w, c, axes);
      const outs = await runSession(
        this.session,
        input,
        shapeFor(axes, m, h, w, c),
        this.section.outputs.map((o) => o.id),
      );
      outs.forEach((out, k) => {
        const spec = this.section.outputs[k]!;
        const images = tensorToImages(out.data, spec.axes, out.dims, `output '${spec.id}'`);
        images.forEach((raw, b) => {
          if (raw.height !== h || raw.width !== w)
            throw new RunnerError(
              'bad-model',
              `output '${spec.id}' is ${raw.height}x${raw.width} for a ${h}x${w} tile; outputs must keep the input's size`,
            );
          const im = spec.postprocessing.length ? applyBioimageOps(raw, spec.postprocessing) : raw;
          spec.roles.forEach((role, ch) => {
            for (const head of headsOf(role, this.section.labels.method)) {
              const dst = maps[head].subarray((start + b) * px, (start + b + 1) * px);
              for (let i = 0; i < px; i++) dst[i] = im.data[i * im.channels + ch]!;
            }
          });
        });
      });
    }
    return maps;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/** Which head maps a channel of a role fills. */
function headsOf(
  role: OutputRole,
  method: BioimageioCardSection['labels']['method'],
): ('inner' | 'outer' | 'fg')[] {
  switch (role) {
    case 'inner':
      return ['inner'];
    case 'outer':
      return ['outer'];
    case 'fg':
      return ['fg'];
    case 'foreground':
      return method === 'boundary-watershed' ? ['fg', 'inner'] : ['fg', 'inner', 'outer'];
    case 'boundaries':
      return ['outer'];
    default:
      return [];
  }
}

/**
 * The runner of `modelDir` when it holds a bioimage.io import (its card.json has a `bioimageio` section);
 * undefined for any other folder (no card, or a card of our own), which loadRunner then opens as usual.
 */
export async function openImportedRunner(
  modelDir: string,
  threads?: number,
): Promise<ModelRunner | undefined> {
  const { readModelCard } = await import('../model/model-io.js');
  const { bioimageioSection } = await import('./card.js');
  if (!existsSync(join(modelDir, 'card.json'))) return undefined;
  const card = await readModelCard(modelDir).catch(() => undefined);
  const section = card ? bioimageioSection(card) : undefined;
  if (!section) return undefined;
  const name = modelDir.split(/[\\/]/).filter(Boolean).slice(-2).join('/');
  return BioimageioRunner.create(modelDir, section, { name, ...(threads !== undefined ? { threads } : {}) });
}

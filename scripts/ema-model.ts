/**
 * Makes a model folder (model.json + weights.bin + card.json + model.onnx) from the weight average a training
 * checkpoint holds (RUN/last/ema.bin, written by train-nuclear.ts --ema), so a run's current average can be
 * scored through the real pipeline (scripts/eval-nuclear-val.ts) before it becomes RUN/best:
 *
 *   node --import tsx scripts/ema-model.ts --checkpoint train-runs/nuclear-v1-ema/last --out /tmp/v1-ema \
 *     --card-from models/nuclear/1
 *
 * The card is --card-from's, with targetDiameterPx from the checkpoint's meta and a note of where the weights
 * came from; it is not a model card to ship (no training or validation facts of this run).
 */
import { parseArgs } from 'node:util';
import { loadCheckpoint } from '../workers/model/checkpoint.js';
import { exportModelDir } from '../workers/model/export-model-dir.js';
import { readModelCard, saveModel } from '../workers/model/model-io.js';
import { initTfjs } from '../workers/model/runtime.js';

const { values } = parseArgs({
  options: {
    checkpoint: { type: 'string' },
    out: { type: 'string' },
    'card-from': { type: 'string', default: 'models/nuclear/1' },
  },
  strict: true,
});
if (!values.checkpoint || !values.out) throw new Error('--checkpoint DIR and --out DIR are required');

await initTfjs();
const { model, state, ema } = await loadCheckpoint(values.checkpoint);
if (!ema) throw new Error(`${values.checkpoint} holds no weight average (ema.json + ema.bin)`);
model.setWeights(ema);
const base = await readModelCard(values['card-from']);
const meta = (state.meta ?? {}) as Record<string, unknown>;
const targetDiameterPx = Number(meta.targetDiameterPx ?? base.input.targetDiameterPx);
const { training: _training, validation: _validation, ...rest } = base;
const card = {
  ...rest,
  input: {
    ...base.input,
    targetDiameterPx,
    mpp: (base.input.mpp * base.input.targetDiameterPx) / targetDiameterPx,
  },
  training: {
    weights: `weight average of ${values.checkpoint} at step ${state.step} (epoch ${state.epoch})`,
  },
};
await saveModel(model, values.out, card);
const exported = await exportModelDir(values.out);
console.log(
  `wrote ${values.out}: EMA of ${values.checkpoint} at step ${state.step}, ${targetDiameterPx} px ` +
    `(${exported.bytes} B onnx, max |tfjs-onnx| ${JSON.stringify(exported.maxAbsDiff)})`,
);

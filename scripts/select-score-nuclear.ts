/**
 * The selection score that scripts/train-nuclear.ts logs each epoch ((F1@0.5 + DSB) / 2 on every
 * --select-every-th train image by sorted name, at the oracle scale, with the training-time post-processing:
 * workers/model/validate.ts with default options), for a saved model folder or checkpoint — so a run's curve
 * can be read against the model it started from (its step 0):
 *
 *   nice -n 10 node --import tsx scripts/select-score-nuclear.ts --model models/nuclear/1 --diameter 14 \
 *     [--data ../shared/data/nuclei] [--select-every 10]
 *
 * --diameter is the target nucleus diameter the images are rescaled to (the run's --diameter).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadNucleiFolder } from '../workers/model/dataset.js';
import { loadModel } from '../workers/model/model-io.js';
import { initTfjs } from '../workers/model/runtime.js';
import { validate } from '../workers/model/validate.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    diameter: { type: 'string' },
    data: { type: 'string', default: '../shared/data/nuclei' },
    'select-every': { type: 'string', default: '10' },
  },
  strict: true,
});
if (!values.model) throw new Error('--model DIR is required (model.json + weights.bin)');
const diameter = Number(values.diameter);
if (!(diameter >= 4 && diameter <= 64))
  throw new Error(`--diameter must be 4..64 px; got '${values.diameter}'`);
const every = Number(values['select-every']);
if (!Number.isInteger(every) || every < 2)
  throw new Error(`--select-every must be an integer >= 2; got '${values['select-every']}'`);

const runtime = await initTfjs();
const model = await loadModel(values.model);
const all = await loadNucleiFolder(join(values.data, 'train'), {
  targetDiameterPx: diameter,
  keepOriginal: true,
});
const select = all.filter((_, i) => i % every === 0);
const r = validate(model, select);
console.log(
  `${values.model} at ${diameter} px on ${select.length} selection images (every ${every}th train image), ` +
    `${runtime.backend}: selectF1 ${r.f1.toFixed(4)} selectDSB ${r.dsb.toFixed(4)} score ${((r.f1 + r.dsb) / 2).toFixed(4)} ` +
    `in ${r.seconds.toFixed(0)} s`,
);

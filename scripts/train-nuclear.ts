/**
 * How the shipped `nuclear` models are trained (see models/nuclear/<version>/card.md). Long-running and
 * resumable bit-exactly, so one run can go on across many working days in the background:
 *
 *   nice -n 19 node --import tsx scripts/train-nuclear.ts --run train-runs/nuclear-v2 \
 *     [--data ../shared/data/nuclei] [--epochs 40] [--steps 120] [--batch 8] [--crop 128] [--diameter 20] \
 *     [--lr 3e-4] [--warmup 100] [--ema 0.999] [--select-every 10] [--save-every 20] [--from models/nuclear/1] \
 *     [--filters 16] [--stop-after-s 3600] >> train-runs/nuclear-v2/train.log
 *
 * The first start writes RUN/run.json with every option; a later start with just `--run RUN` continues with
 * those options from RUN/last (weights, Adam state, weight average, step, schedule position), and refuses
 * options that differ from run.json (the run would no longer be the same run). SIGTERM / SIGINT (or
 * --stop-after-s) write RUN/last after the current step and exit 0; RUN/last is also written every
 * --save-every steps, so a kill loses at most that many steps. Checkpoints: RUN/last (to resume) and RUN/best
 * (the weight average with the best selection score).
 *
 * Selection is not done on the val set: every --select-every-th train image (by sorted name) is held out as a
 * selection split, scored each epoch (F1@0.5 + DSB at the oracle scale); val is left for the model card's
 * figures through the real pipeline (`kiosk segment` + independent scoring).
 * `--from DIR` fine-tunes a saved model folder (its card's facts are kept in the checkpoints' meta).
 * Progress lines (one per 20 steps, one per epoch) go to stdout. Runs on the first TensorFlow.js backend
 * that loads (tfjs-node-gpu → tfjs-node → wasm).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadNucleiFolder } from '../workers/model/dataset.js';
import { loadModel, readModelCard } from '../workers/model/model-io.js';
import { initTfjs } from '../workers/model/runtime.js';
import { trainModel } from '../workers/model/train.js';

/** The options that define a run (all strings, as given on the command line), with their defaults. */
const RUN_OPTIONS = {
  data: '../shared/data/nuclei',
  epochs: '40',
  steps: '120',
  batch: '8',
  crop: '128',
  diameter: '',
  lr: '0.001',
  warmup: '200',
  ema: '',
  'select-every': '0',
  'save-every': '20',
  from: '',
  seed: '1',
  filters: '16',
} as const;
type RunOptions = Record<keyof typeof RUN_OPTIONS, string>;

function fail(message: string): never {
  process.stderr.write(`train-nuclear: ${message}\n`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    run: { type: 'string' },
    'stop-after-s': { type: 'string' },
    ...Object.fromEntries(Object.keys(RUN_OPTIONS).map((k) => [k, { type: 'string' as const }])),
  },
  strict: true,
});
const runDir = values.run ?? fail('--run DIR is required (the run folder: run.json, last/, best/)');
const given = Object.fromEntries(
  Object.keys(RUN_OPTIONS).flatMap((k) => {
    const v = (values as Record<string, string | undefined>)[k];
    return v === undefined ? [] : [[k, v]];
  }),
) as Partial<RunOptions>;
const runFile = join(runDir, 'run.json');
let opts: RunOptions;
if (existsSync(runFile)) {
  const saved = JSON.parse(readFileSync(runFile, 'utf8')) as RunOptions;
  const differ = Object.entries(given).filter(([k, v]) => saved[k as keyof RunOptions] !== v);
  if (differ.length > 0)
    fail(
      `${runFile} fixes this run's options; these differ: ` +
        differ.map(([k, v]) => `--${k} ${v} (run: '${saved[k as keyof RunOptions]}')`).join(', ') +
        '. Start a new --run folder to change them.',
    );
  opts = { ...RUN_OPTIONS, ...saved };
} else {
  opts = { ...RUN_OPTIONS, ...given };
  mkdirSync(runDir, { recursive: true });
  writeFileSync(runFile, `${JSON.stringify(opts, null, 2)}\n`);
}
const num = (k: keyof RunOptions, ok: (n: number) => boolean): number => {
  const n = Number(opts[k]);
  if (opts[k] === '' || !Number.isFinite(n) || !ok(n))
    fail(`--${k} must be a valid number; got '${opts[k]}'`);
  return n;
};
const stopAfterS = values['stop-after-s'] === undefined ? undefined : Number(values['stop-after-s']);
if (stopAfterS !== undefined && !(stopAfterS > 0)) fail(`--stop-after-s must be seconds > 0`);

const runtime = await initTfjs();
const log = (line: string): void => {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
};
log(`runtime ${runtime.source} backend ${runtime.backend}; run ${runDir} ${JSON.stringify(opts)}`);
const fromCard = opts.from ? await readModelCard(opts.from) : undefined;
const initialModel = opts.from ? await loadModel(opts.from) : undefined;
if (opts.from) log(`fine-tuning from ${opts.from} (${initialModel!.countParams()} params)`);
const targetDiameterPx = opts.diameter
  ? num('diameter', (n) => n >= 4 && n <= 64)
  : (fromCard?.input.targetDiameterPx ?? 16);
const t0 = Date.now();
const selectEvery = num('select-every', (n) => Number.isInteger(n) && n >= 0);
let train;
let select;
if (selectEvery > 0) {
  const all = await loadNucleiFolder(join(opts.data, 'train'), { targetDiameterPx, keepOriginal: true });
  select = all.filter((_, i) => i % selectEvery === 0);
  train = all.filter((_, i) => i % selectEvery !== 0);
} else {
  train = await loadNucleiFolder(join(opts.data, 'train'), { targetDiameterPx });
  select = await loadNucleiFolder(join(opts.data, 'val'), { targetDiameterPx, keepOriginal: true });
}
log(
  `loaded ${train.length} train / ${select.length} selection images (${selectEvery > 0 ? `every ${selectEvery}th train image` : 'val'}) ` +
    `at ${targetDiameterPx} px in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
);

let stopWhy: string | undefined;
const onSignal = (sig: string) => {
  if (stopWhy) process.exit(1); // a second signal: now, without the checkpoint
  stopWhy = sig;
  log(`${sig}: writing ${join(runDir, 'last')} after this step, then exiting`);
};
process.on('SIGTERM', () => onSignal('SIGTERM'));
process.on('SIGINT', () => onSignal('SIGINT'));
const startedAt = Date.now();

const batchSize = num('batch', (n) => Number.isInteger(n) && n >= 1);
const crop = num('crop', (n) => Number.isInteger(n) && n >= 16);
const lr = num('lr', (n) => n > 0 && n < 1);
const warmupSteps = num('warmup', (n) => Number.isInteger(n) && n >= 0);
const result = await trainModel({
  train,
  val: select,
  // the U-Net's width: filters of its first level (doubling per level up to 256); 16 is the shipped models'.
  // Ignored with --from (the model is the one given). Issue 19 #3's capacity check trains a wider one.
  network: {
    baseFilters: num('filters', (n) => Number.isInteger(n) && n >= 4 && n <= 64),
    depth: 4,
    maxFilters: 256,
  },
  ...(initialModel ? { initialModel } : {}),
  epochs: num('epochs', (n) => Number.isInteger(n) && n >= 1),
  stepsPerEpoch: num('steps', (n) => Number.isInteger(n) && n >= 1),
  batchSize,
  sampler: { cropSize: crop },
  lr: { peak: lr, warmupSteps, final: 1e-5 },
  checkpointDir: runDir,
  checkpointEverySteps: num('save-every', (n) => Number.isInteger(n) && n >= 1),
  ...(opts.ema ? { emaDecay: num('ema', (n) => n > 0 && n < 1) } : {}),
  seed: num('seed', Number.isInteger),
  shouldStop: () => {
    if (!stopWhy && stopAfterS !== undefined && Date.now() - startedAt > stopAfterS * 1000) {
      stopWhy = `--stop-after-s ${stopAfterS}`;
      log(`${stopWhy}: writing ${join(runDir, 'last')} and exiting`);
    }
    return stopWhy !== undefined;
  },
  meta: {
    targetDiameterPx,
    batchSize,
    crop,
    runtime: runtime.source,
    data: opts.data,
    lr,
    warmupSteps,
    ...(opts.ema ? { ema: Number(opts.ema) } : {}),
    selection:
      selectEvery > 0
        ? `every ${selectEvery}th image of ${opts.data}/train (sorted by name), held out`
        : 'val',
    ...(opts.from ? { from: { dir: opts.from, training: fromCard?.training ?? null } } : {}),
  },
  onStep: (s) => {
    if (s.step % 20 === 0) {
      log(
        `epoch ${s.epoch} step ${s.step} loss ${s.loss.toFixed(4)} (inner ${s.inner.toFixed(4)} outer ${s.outer.toFixed(4)} ` +
          `fg ${s.fg.toFixed(4)}) lr ${s.lr.toExponential(2)} ${s.samplesPerSecond.toFixed(1)} samples/s`,
      );
    }
  },
  onEpoch: (r, st) => {
    log(
      `EPOCH ${r.epoch} step ${r.step} train ${r.trainLoss.toFixed(4)} selectF1 ${r.valF1?.toFixed(4)} selectDSB ` +
        `${r.valDsb?.toFixed(4)} score ${r.score.toFixed(4)} best ${st.bestScore.toFixed(4)}@${st.bestEpoch} ` +
        `${r.seconds.toFixed(0)} s ${r.samplesPerSecond.toFixed(1)} samples/s total ${st.seconds.toFixed(0)} s`,
    );
  },
});
log(
  `${result.stoppedBecause === 'stopped' ? `stopped (${stopWhy}) at step ${result.state.step}; rerun with --run ${runDir} to continue` : `done: ${result.stoppedBecause}`}, ` +
    `best ${result.state.bestScore.toFixed(4)} at epoch ${result.state.bestEpoch}`,
);

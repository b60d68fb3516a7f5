/**
 * How the shipped `nuclear` model was trained (see models/nuclear/1/card.md). Long-running, resume-safe:
 *
 *   node --import tsx scripts/train-nuclear.ts --data ../shared/data/nuclei --run /work/train-runs/nuclear-v1 \
 *     [--epochs 40] [--steps 120] [--batch 8] [--crop 128] [--deadline 2026-11-25T19:00:00Z --lr-start 2026-11-25T17:00:00Z]
 *     [--from models/nuclear/1 --lr 3e-4 --warmup 50]
 *
 * Checkpoints go to RUN/last and RUN/best every epoch; rerunning the same command continues from RUN/last.
 * `--from DIR` fine-tunes a saved model folder (model.json + weights.bin + card.json) instead of starting from
 * a fresh network: its weights are the starting point (RUN/last still wins when it exists), its card's
 * `input.targetDiameterPx` is the default `--diameter`, and its card's training facts are kept in the
 * checkpoints' meta (`from`), so the export can record both runs.
 * Progress lines (one per 20 steps, one per epoch) go to stdout. Runs on the first TensorFlow.js backend
 * that loads (tfjs-node-gpu → tfjs-node → wasm).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadNucleiFolder } from '../workers/model/dataset.js';
import { loadModel, readModelCard } from '../workers/model/model-io.js';
import { initTfjs } from '../workers/model/runtime.js';
import { trainModel } from '../workers/model/train.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: '../shared/data/nuclei' },
    run: { type: 'string', default: '/work/train-runs/nuclear-v1' },
    epochs: { type: 'string', default: '40' },
    steps: { type: 'string', default: '120' },
    batch: { type: 'string', default: '8' },
    crop: { type: 'string', default: '128' },
    diameter: { type: 'string' },
    lr: { type: 'string', default: '0.001' },
    warmup: { type: 'string', default: '200' },
    from: { type: 'string' },
    deadline: { type: 'string' },
    'lr-start': { type: 'string' },
    seed: { type: 'string', default: '1' },
  },
});

const runtime = await initTfjs();
const log = (line: string): void => {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
};
log(`runtime ${runtime.source} backend ${runtime.backend}`);
const fromCard = values.from ? await readModelCard(values.from) : undefined;
const initialModel = values.from ? await loadModel(values.from) : undefined;
if (values.from) log(`fine-tuning from ${values.from} (${initialModel!.countParams()} params)`);
const targetDiameterPx = Number(values.diameter ?? fromCard?.input.targetDiameterPx ?? 16);
const t0 = Date.now();
const train = await loadNucleiFolder(join(values.data, 'train'), { targetDiameterPx });
const val = await loadNucleiFolder(join(values.data, 'val'), { targetDiameterPx, keepOriginal: true });
log(`loaded ${train.length} train / ${val.length} val images in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

const batchSize = Number(values.batch);
const result = await trainModel({
  train,
  val,
  network: { baseFilters: 16, depth: 4, maxFilters: 256 },
  ...(initialModel ? { initialModel } : {}),
  epochs: Number(values.epochs),
  stepsPerEpoch: Number(values.steps),
  batchSize,
  sampler: { cropSize: Number(values.crop) },
  lr: { peak: Number(values.lr), warmupSteps: Number(values.warmup), final: 1e-5 },
  checkpointDir: values.run,
  seed: Number(values.seed),
  ...(values.deadline ? { deadline: Date.parse(values.deadline) } : {}),
  ...(values.deadline && values['lr-start']
    ? { lrClock: { start: Date.parse(values['lr-start']), end: Date.parse(values.deadline) } }
    : {}),
  meta: {
    targetDiameterPx,
    batchSize,
    crop: Number(values.crop),
    runtime: runtime.source,
    data: values.data,
    lr: Number(values.lr),
    warmupSteps: Number(values.warmup),
    ...(values.from ? { from: { dir: values.from, training: fromCard?.training ?? null } } : {}),
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
      `EPOCH ${r.epoch} step ${r.step} train ${r.trainLoss.toFixed(4)} valF1 ${r.valF1?.toFixed(4)} valDSB ` +
        `${r.valDsb?.toFixed(4)} score ${r.score.toFixed(4)} best ${st.bestScore.toFixed(4)}@${st.bestEpoch} ` +
        `${r.seconds.toFixed(0)} s ${r.samplesPerSecond.toFixed(1)} samples/s total ${st.seconds.toFixed(0)} s`,
    );
  },
});
log(
  `done: ${result.stoppedBecause}, best ${result.state.bestScore.toFixed(4)} at epoch ${result.state.bestEpoch}`,
);

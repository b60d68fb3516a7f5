/**
 * The training engine of the nuclear model: random augmented crops → U-Net → losses → Adam with warmup +
 * cosine decay; per epoch, validation with the real metric (deep watershed on whole val images, F1@0.5 and
 * DSB score), a checkpoint (model + optimizer + state), best-model tracking and early stopping. Resumes
 * from the last checkpoint. Runs on whatever TensorFlow.js backend is active (call `initTfjs` first).
 *
 * Loss = innerWeight · MSE(inner) + outerWeight · MSE(outer) + fgWeight · CE(fgbg), where CE is the
 * class-balanced cross-entropy: each class weighted by N / (2 · N_class) over the batch (DeepCell's
 * weighted categorical cross-entropy), so sparse foreground still counts.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { join } from 'node:path';
import { seededRng } from './augment.js';
import {
  adamPowers,
  hasCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
  type EpochRecord,
  type TrainingState,
} from './checkpoint.js';
import { CropSampler, type Batch, type NucleiSample, type SamplerOptions } from './dataset.js';
import { buildNetwork, resolveNetworkConfig, type NetworkConfig } from './network.js';
import { validate, type SegmentOptions, type ValidationResult } from './validate.js';

export interface LearningRateSchedule {
  /** Peak learning rate. @default 1e-3 */
  readonly peak?: number;
  /** Linear warmup steps from peak/10 to peak. @default 200 */
  readonly warmupSteps?: number;
  /** Learning rate at the last planned step (cosine decay from peak). @default 1e-5 */
  readonly final?: number;
}

export interface StepInfo {
  readonly epoch: number;
  readonly step: number;
  readonly loss: number;
  readonly inner: number;
  readonly outer: number;
  readonly fg: number;
  readonly lr: number;
  readonly samplesPerSecond: number;
}

export interface TrainOptions {
  readonly train: readonly NucleiSample[];
  /** Validation samples loaded with `keepOriginal`; without them the score is -trainLoss. */
  readonly val?: readonly NucleiSample[];
  /** Network to build when not resuming or fine-tuning. */
  readonly network?: NetworkConfig;
  /** Start from this model (fine-tuning) instead of a fresh network. */
  readonly initialModel?: tfl.LayersModel;
  readonly epochs: number;
  readonly stepsPerEpoch: number;
  /** @default 8 */
  readonly batchSize?: number;
  readonly sampler?: SamplerOptions;
  readonly lr?: LearningRateSchedule;
  /** @default { inner: 10, outer: 5, fg: 1 } */
  readonly lossWeights?: { readonly inner?: number; readonly outer?: number; readonly fg?: number };
  /** Folder for `last/` and `best/` checkpoints; none → nothing is written. */
  readonly checkpointDir?: string;
  /** Continue from `checkpointDir/last` if it exists. @default true */
  readonly resume?: boolean;
  /** Stop after this many epochs without a better score. @default - never */
  readonly patience?: number;
  /** Stop (after validating and checkpointing) once this wall-clock time (ms since epoch) has passed. */
  readonly deadline?: number;
  /**
   * Decay the learning rate over this wall-clock window (ms since epoch) instead of over the planned steps:
   * for a run that must finish by a time on a machine of unknown speed. @default - by steps
   */
  readonly lrClock?: { readonly start: number; readonly end: number };
  /**
   * Each step's crops come from an RNG seeded with (seed, step), so a run resumed at any step draws the
   * same batches as an uninterrupted one. @default 1
   */
  readonly seed?: number;
  /**
   * Also write `last/` every this many steps inside an epoch (with the epoch's partial sums), not only at
   * the end of each epoch. @default - epoch ends only
   */
  readonly checkpointEverySteps?: number;
  /**
   * Asked after every step; true → write `last/` (mid-epoch if need be) and return with stoppedBecause
   * 'stopped'. Rerunning with the same options continues bit-exactly (weights, Adam state, step, schedule).
   */
  readonly shouldStop?: () => boolean;
  /**
   * Keep an exponential moving average of the weights (decay per step, e.g. 0.999): validation, `best/` and
   * the returned model use the average; `last/` keeps both. @default - none
   */
  readonly emaDecay?: number;
  readonly validation?: SegmentOptions;
  readonly onStep?: (info: StepInfo) => void;
  readonly onEpoch?: (record: EpochRecord, state: TrainingState) => void;
  /** Facts stored with each checkpoint. */
  readonly meta?: Readonly<Record<string, unknown>>;
}

export interface TrainResult {
  /** The best model by score (the last one when nothing was validated). */
  readonly model: tfl.LayersModel;
  readonly state: TrainingState;
  readonly stoppedBecause: 'epochs' | 'patience' | 'deadline' | 'stopped';
  readonly resumed: boolean;
}

/** A bad option; the message names it, the allowed range and the value. */
export class TrainOptionsError extends Error {
  override readonly name = 'TrainOptionsError';
}

function checkPositiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1)
    throw new TrainOptionsError(`'${name}' must be an integer >= 1; got ${String(v)}`);
}

/**
 * Learning rate at `step` of `total`: linear warmup, then cosine from peak down to final. With `progress`
 * (a fraction in [0, 1] of a wall-clock window, see `TrainOptions.lrClock`) the cosine follows that instead
 * of the step count.
 */
export function learningRateAt(
  step: number,
  total: number,
  s: LearningRateSchedule = {},
  progress?: number,
): number {
  const peak = s.peak ?? 1e-3;
  const warm = s.warmupSteps ?? 200;
  const final = s.final ?? 1e-5;
  if (step < warm) return peak * (0.1 + (0.9 * step) / warm);
  const t = Math.min(1, Math.max(0, progress ?? (step - warm) / Math.max(1, total - warm)));
  return final + 0.5 * (peak - final) * (1 + Math.cos(Math.PI * t));
}

/** The weighted loss of one batch (see the module doc); returns [total, inner, outer, fg] scalars. */
export function batchLoss(
  model: tfl.LayersModel,
  batch: Batch,
  weights: { inner: number; outer: number; fg: number },
  training: boolean,
): tf.Scalar[] {
  const shape: [number, number, number, number] = [batch.size, batch.cropSize, batch.cropSize, 1];
  const x = tf.tensor4d(batch.x, shape);
  const [pi, po, pf] = model.apply(x, { training }) as tf.Tensor[];
  const inner = tf.losses.meanSquaredError(tf.tensor4d(batch.inner, shape), pi!) as tf.Scalar;
  const outer = tf.losses.meanSquaredError(tf.tensor4d(batch.outer, shape), po!) as tf.Scalar;
  const fgT = tf.tensor4d(batch.fg, shape);
  const nFg = batch.fg.reduce((a, b) => a + b, 0);
  const n = batch.fg.length;
  const wFg = n / (2 * Math.max(1, nFg));
  const wBg = n / (2 * Math.max(1, n - nFg));
  const eps = 1e-7;
  let pFg: tf.Tensor;
  let pBg: tf.Tensor;
  if (pf!.shape[3] === 2) {
    const [bg, fg] = tf.split(pf!, 2, 3);
    pBg = bg!;
    pFg = fg!;
  } else {
    pFg = pf!;
    pBg = tf.sub(1, pf!);
  }
  const ce = tf.neg(
    tf.mean(
      tf.add(
        tf.mul(tf.mul(fgT, wFg), tf.log(tf.clipByValue(pFg, eps, 1))),
        tf.mul(tf.mul(tf.sub(1, fgT), wBg), tf.log(tf.clipByValue(pBg, eps, 1))),
      ),
    ),
  ) as tf.Scalar;
  const total = tf.addN([
    tf.mul(inner, weights.inner),
    tf.mul(outer, weights.outer),
    tf.mul(ce, weights.fg),
  ]) as tf.Scalar;
  return [total, inner, outer, ce];
}

/** Sets Adam's learning rate between steps (tfjs reads the field on every applyGradients). */
function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  (optimizer as unknown as { learningRate: number }).learningRate = lr;
}

/**
 * Trains (or resumes, or fine-tunes) a nuclear model. See the module doc and `TrainOptions`.
 * Throws `TrainOptionsError` for bad options before any work is done.
 */
export async function trainModel(opts: TrainOptions): Promise<TrainResult> {
  checkPositiveInt('epochs', opts.epochs);
  checkPositiveInt('stepsPerEpoch', opts.stepsPerEpoch);
  const batchSize = opts.batchSize ?? 8;
  checkPositiveInt('batchSize', batchSize);
  if (opts.patience !== undefined) checkPositiveInt('patience', opts.patience);
  if (opts.checkpointEverySteps !== undefined)
    checkPositiveInt('checkpointEverySteps', opts.checkpointEverySteps);
  const emaDecay = opts.emaDecay;
  if (emaDecay !== undefined && !(emaDecay > 0 && emaDecay < 1))
    throw new TrainOptionsError(`'emaDecay' must be in (0, 1); got ${String(emaDecay)}`);
  if (opts.train.length === 0) throw new TrainOptionsError("'train' must hold at least one sample");
  if (opts.val?.some((s) => !s.original)) {
    throw new TrainOptionsError("'val' samples must be loaded with keepOriginal: true");
  }
  const network = resolveNetworkConfig(opts.network);
  const crop = opts.sampler?.cropSize ?? 128;
  if (crop % 2 ** network.depth !== 0) {
    throw new TrainOptionsError(`'cropSize' (${crop}) must be a multiple of 2^depth = ${2 ** network.depth}`);
  }
  const weights = { inner: 10, outer: 5, fg: 1, ...opts.lossWeights };
  const sampler = new CropSampler(opts.train, opts.sampler);
  const totalSteps = opts.epochs * opts.stepsPerEpoch;
  const optimizer = tf.train.adam(opts.lr?.peak ?? 1e-3);
  const lastDir = opts.checkpointDir ? join(opts.checkpointDir, 'last') : undefined;
  const bestDir = opts.checkpointDir ? join(opts.checkpointDir, 'best') : undefined;

  let model: tfl.LayersModel;
  let state: TrainingState = {
    epoch: 0,
    step: 0,
    bestScore: -Infinity,
    bestEpoch: 0,
    seconds: 0,
    history: [],
  };
  let resumed = false;
  let ema: tf.Variable[] | undefined;
  if (lastDir && opts.resume !== false && (await hasCheckpoint(lastDir))) {
    const loaded = await loadCheckpoint(lastDir, optimizer);
    model = loaded.model;
    state = loaded.state;
    resumed = true;
    if (emaDecay !== undefined && loaded.ema) ema = loaded.ema.map((t) => tf.variable(t, false));
    else tf.dispose(loaded.ema ?? []);
  } else {
    model = opts.initialModel ?? buildNetwork(network);
  }
  if (emaDecay !== undefined && !ema) ema = model.getWeights().map((w) => tf.variable(w.clone(), false));
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  let bestWeights: tf.Tensor[] | undefined;
  let stoppedBecause: TrainResult['stoppedBecause'] = 'epochs';
  /** Runs `fn` with the moving average in the model (when there is one), then puts the weights back. */
  const withEma = async <T>(fn: () => T | Promise<T>): Promise<T> => {
    if (!ema) return fn();
    const live = model.getWeights().map((w) => w.clone());
    model.setWeights(ema);
    try {
      return await fn();
    } finally {
      model.setWeights(live);
      tf.dispose(live);
    }
  };
  const saveLast = async (s: TrainingState): Promise<void> => {
    if (lastDir) await saveCheckpoint(lastDir, model, optimizer, s, ema);
  };

  for (let epoch = state.epoch + 1; epoch <= opts.epochs; epoch++) {
    const partial = state.partial;
    const t0 = Date.now() - (partial?.seconds ?? 0) * 1000;
    let lossSum = partial?.lossSum ?? 0;
    let lr = 0;
    let step = state.step;
    const epochStartStep = step - (partial?.steps ?? 0);
    let hitDeadline = false;
    let stopRequested = false;
    for (let i = partial?.steps ?? 0; i < opts.stepsPerEpoch; i++) {
      const ts = Date.now();
      const rng = seededRng((opts.seed ?? 1) * 1_000_003 + step * 7919);
      const batch = sampler.nextBatch(batchSize, rng);
      const clock = opts.lrClock;
      const progress = clock ? (Date.now() - clock.start) / Math.max(1, clock.end - clock.start) : undefined;
      lr = learningRateAt(step, totalSteps, opts.lr, progress);
      setLearningRate(optimizer, lr);
      let parts: tf.Scalar[] = [];
      optimizer.minimize(
        () => {
          const all = batchLoss(model, batch, weights, true);
          parts = all.slice(1).map((p) => tf.keep(p));
          return all[0]!;
        },
        false,
        vars,
      );
      const [inner, outer, fg] = parts.map((p) => p.dataSync()[0]!);
      tf.dispose(parts);
      const loss = weights.inner * inner! + weights.outer * outer! + weights.fg * fg!;
      lossSum += loss;
      step++;
      if (ema) {
        const d = emaDecay!;
        tf.tidy(() => {
          const now = model.getWeights();
          ema!.forEach((e, k) => e.assign(tf.add(tf.mul(e, d), tf.mul(now[k]!, 1 - d))));
        });
      }
      opts.onStep?.({
        epoch,
        step,
        loss,
        inner: inner!,
        outer: outer!,
        fg: fg!,
        lr,
        samplesPerSecond: (batchSize * 1000) / Math.max(1, Date.now() - ts),
      });
      if (opts.deadline !== undefined && Date.now() > opts.deadline) {
        hitDeadline = true;
        break;
      }
      const inEpoch = i + 1;
      const stop = opts.shouldStop?.() === true;
      const every = opts.checkpointEverySteps;
      if (inEpoch < opts.stepsPerEpoch && (stop || (every !== undefined && step % every === 0))) {
        state = {
          ...state,
          step,
          seconds: state.seconds,
          partial: { steps: inEpoch, lossSum, seconds: (Date.now() - t0) / 1000 },
          ...(adamPowers(optimizer) ? { adam: adamPowers(optimizer)! } : {}),
          ...(ema ? { ema: true } : {}),
        };
        await saveLast(state);
        if (stop) {
          stopRequested = true;
          break;
        }
      }
    }
    if (stopRequested) {
      stoppedBecause = 'stopped';
      break;
    }
    const stepsDone = step - epochStartStep;
    const trainSeconds = (Date.now() - t0) / 1000;
    const trainLoss = lossSum / Math.max(1, stepsDone);
    let val: ValidationResult | undefined;
    if (opts.val && opts.val.length > 0) {
      const v = opts.val;
      val = await withEma(() => validate(model, v, opts.validation));
    }
    const score = val ? (val.f1 + val.dsb) / 2 : -trainLoss;
    const record: EpochRecord = {
      epoch,
      step,
      trainLoss,
      ...(val ? { valF1: val.f1, valDsb: val.dsb } : {}),
      score,
      seconds: (Date.now() - t0) / 1000,
      samplesPerSecond: (stepsDone * batchSize) / Math.max(1e-3, trainSeconds),
      lr,
    };
    const improved = score > state.bestScore;
    const powers = adamPowers(optimizer);
    state = {
      epoch,
      step,
      bestScore: improved ? score : state.bestScore,
      bestEpoch: improved ? epoch : state.bestEpoch,
      seconds: state.seconds + record.seconds,
      history: [...state.history, record],
      ...(opts.meta ? { meta: opts.meta } : {}),
      ...(powers ? { adam: powers } : {}),
      ...(ema ? { ema: true } : {}),
    };
    if (improved) {
      if (bestDir) await withEma(() => saveCheckpoint(bestDir, model, undefined, { ...state, ema: false }));
      else {
        tf.dispose(bestWeights ?? []);
        bestWeights = ema ? ema.map((w) => w.clone()) : model.getWeights().map((w) => w.clone());
      }
    }
    await saveLast(state);
    opts.onEpoch?.(record, state);
    if (hitDeadline) {
      stoppedBecause = 'deadline';
      break;
    }
    if (epoch < opts.epochs && opts.shouldStop?.() === true) {
      stoppedBecause = 'stopped';
      break;
    }
    if (opts.patience !== undefined && epoch - state.bestEpoch >= opts.patience) {
      stoppedBecause = 'patience';
      break;
    }
  }
  // Hand back the best model: from the best checkpoint, or from the weights kept in memory (the moving
  // average's when there is one, as that is what was scored).
  if (bestDir && (await hasCheckpoint(bestDir)) && (state.bestEpoch !== state.epoch || ema)) {
    model = (await loadCheckpoint(bestDir)).model;
  } else if (bestWeights && (state.bestEpoch !== state.epoch || ema)) {
    model.setWeights(bestWeights);
  } else if (ema) model.setWeights(ema);
  tf.dispose(bestWeights ?? []);
  tf.dispose(ema ?? []);
  return { model, state, stoppedBecause, resumed };
}

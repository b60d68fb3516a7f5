/**
 * Training-page logic, pure: a quick look at the chosen files before upload (the service checks every
 * file fully), and the reducer that keeps a training's view current from its event stream.
 * Data format (workers/training/data-format.ts): pairs `NAME.image.(png|tif|tiff)` + `NAME.labels.(…)` in
 * one folder; pairs under a `val`/`validation` folder are the validation split.
 */

export interface PathCheck {
  readonly trainPairs: number;
  readonly valPairs: number;
  /** Files whose partner is missing, with the reason. */
  readonly problems: readonly { readonly file: string; readonly message: string }[];
  /** Files that are neither an image nor labels of a pair (ignored by the service). */
  readonly ignored: readonly string[];
}

const PAIR = /^(.*)\.(image|labels)\.(png|tif|tiff)$/i;
const SKIP = /(^|\/)(\.[^/]*|__MACOSX)(\/|$)/;

/** Pairs the paths by stem; zips are not looked into (the service unpacks them). */
export function checkTrainingPaths(paths: readonly string[]): PathCheck {
  const stems = new Map<string, { image?: string; labels?: string }>();
  const ignored: string[] = [];
  for (const p of paths) {
    if (SKIP.test(p)) continue;
    const m = PAIR.exec(p);
    if (!m) {
      if (!/\.zip$/i.test(p)) ignored.push(p);
      continue;
    }
    const e = stems.get(m[1]!.toLowerCase()) ?? {};
    e[m[2]!.toLowerCase() as 'image' | 'labels'] = p;
    stems.set(m[1]!.toLowerCase(), e);
  }
  let trainPairs = 0;
  let valPairs = 0;
  const problems: { file: string; message: string }[] = [];
  for (const [stem, e] of stems) {
    if (e.image && e.labels) {
      if (/(^|\/)(val|validation)\//i.test(stem)) valPairs++;
      else trainPairs++;
    } else if (e.image)
      problems.push({
        file: e.image,
        message: `no labels for ${e.image} (expected ${stem}.labels.png or .tif)`,
      });
    else if (e.labels)
      problems.push({
        file: e.labels,
        message: `no image for ${e.labels} (expected ${stem}.image.png or .tif)`,
      });
  }
  return { trainPairs, valPairs, problems, ignored };
}

export type TrainingStatus =
  'new' | 'waiting' | 'started' | 'training' | 'saving-results' | 'done' | 'failed';

export interface EpochProgress {
  readonly epoch: number;
  readonly step: number;
  readonly trainLoss: number;
  readonly valF1?: number;
  readonly valDsb?: number;
  readonly seconds: number;
  readonly lr: number;
}

/** The fields of a training (GET /v1/trainings/:id) the page uses. */
export interface TrainingView {
  readonly id: string;
  readonly status: TrainingStatus;
  readonly progress: number;
  readonly epoch: number;
  readonly step: number;
  readonly totalSteps: number;
  readonly loss?: number;
  readonly position?: number;
  readonly history: readonly EpochProgress[];
  readonly model?: { readonly name: string; readonly version: string };
  readonly reason?: string;
  readonly params: { readonly modelName: string; readonly epochs: number; readonly [k: string]: unknown };
  readonly data?: { readonly trainPairs: number; readonly valPairs: number; readonly [k: string]: unknown };
  readonly eventsUrl?: string;
  readonly createdAt: string;
  readonly [k: string]: unknown;
}

export interface TrainingEvent {
  readonly id: string;
  readonly status?: TrainingStatus;
  readonly progress?: number;
  readonly epoch?: number;
  readonly step?: number;
  readonly loss?: number;
  readonly epochRecord?: EpochProgress;
  readonly reason?: string;
  readonly model?: { readonly name: string; readonly version: string };
}

/**
 * Applies one event to a view (a new object; the input is not changed). Events for another id, and any
 * event after `done`/`failed`, leave the view as it is. An epoch record replaces one of the same epoch (a
 * resumed run re-reports it) and history stays sorted by epoch.
 */
export function applyTrainingEvent(v: TrainingView, ev: TrainingEvent): TrainingView {
  if (ev.id !== v.id || v.status === 'done' || v.status === 'failed') return v;
  let history = v.history;
  if (ev.epochRecord) {
    const rec = ev.epochRecord;
    history = [...v.history.filter((h) => h.epoch !== rec.epoch), rec].sort((a, b) => a.epoch - b.epoch);
  }
  return {
    ...v,
    ...(ev.status ? { status: ev.status } : {}),
    ...(ev.progress !== undefined ? { progress: ev.progress } : {}),
    ...(ev.epoch !== undefined ? { epoch: ev.epoch } : {}),
    ...(ev.step !== undefined ? { step: ev.step } : {}),
    ...(ev.loss !== undefined ? { loss: ev.loss } : {}),
    ...(ev.reason !== undefined ? { reason: ev.reason } : {}),
    ...(ev.model ? { model: ev.model } : {}),
    history,
  };
}

/** The reason the service gives a training stopped by POST /v1/trainings/:id/cancel (api/routes/training.ts). */
export const CANCELLED_REASON = 'cancelled by the user';

/** The parameters that set how long a training takes. */
export interface TrainingSize {
  readonly epochs: number;
  readonly stepsPerEpoch: number;
  readonly batchSize: number;
  readonly cropSize: number;
}

/** The page's defaults (those of the service, docs/training.md). */
export const DEFAULT_SIZE: TrainingSize = { epochs: 10, stepsPerEpoch: 50, batchSize: 8, cropSize: 128 };

/**
 * The "Quick setting": a short fine-tune to try data out (2 epochs of 10 steps of 4 crops of 128 px, 80
 * crops, against the defaults' 4,000) before committing hours to the defaults.
 */
export const QUICK_SIZE: TrainingSize = { epochs: 2, stepsPerEpoch: 10, batchSize: 4, cropSize: 128 };

/** Crop side the speeds below are counted in: a crop of side c costs (c / 128)² of these. */
export const SPEED_CROP_PX = 128;

/** How fast this kiosk trains, in 128 px crops per second (training steps and each epoch's validation). */
export interface TrainingSpeed {
  readonly cropsPerSecond: number;
  /** Where the figure comes from, for the page to say. */
  readonly source: string;
  /** True when measured on this kiosk (its own finished epochs); false for the fallback below. */
  readonly measuredHere: boolean;
}

/**
 * The fallback when no training has finished an epoch on this kiosk yet: measured on the development
 * machine (2 CPU cores shared with other work, load average ~10; TensorFlow.js wasm backend, the one a
 * kiosk without tfjs-node uses) by `npm run bench training-estimate` on 2026-12-07: 4 steps × 8 crops of
 * 128 px fine-tuning `nuclear` plus validation of one image took 159.3 s, 0.201 crops/s. A kiosk with
 * tfjs-node or a GPU is much faster; an idle machine somewhat faster.
 */
export const FALLBACK_SPEED: TrainingSpeed = {
  cropsPerSecond: 0.201,
  source:
    'measured on a 2-core CPU with the wasm backend (no training has finished an epoch on this kiosk yet, so this is only a rough guide)',
  measuredHere: false,
};

const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined;

/**
 * The speed of the newest training (lists are newest first) with at least one finished epoch: its crops
 * (steps × batch × (crop / 128)² per epoch) over the epochs' seconds, which include validation. A step's
 * cost is not exactly proportional to its pixels (small crops carry more overhead), so a training with
 * the same batch and crop size as `like` is preferred when there is one. Undefined when none has a
 * finished epoch.
 */
export function speedFromTrainings(
  trainings: readonly TrainingView[],
  like?: Pick<TrainingSize, 'batchSize' | 'cropSize'>,
): TrainingSpeed | undefined {
  const measured = trainings.flatMap((t) => {
    const steps = num(t.params.stepsPerEpoch);
    const batch = num(t.params.batchSize);
    const crop = num(t.params.cropSize);
    const seconds = t.history.reduce((s, e) => s + e.seconds, 0);
    if (!steps || !batch || !crop || t.history.length === 0 || !(seconds > 0)) return [];
    return [{ t, steps, batch, crop, seconds }];
  });
  const m =
    measured.find((x) => like && x.batch === like.batchSize && x.crop === like.cropSize) ?? measured[0];
  if (!m) return undefined;
  const n = m.t.history.length;
  const crops = n * m.steps * m.batch * (m.crop / SPEED_CROP_PX) ** 2;
  const runtime = typeof m.t.runtime === 'string' ? `, ${m.t.runtime}` : '';
  return {
    cropsPerSecond: crops / m.seconds,
    source: `measured on this kiosk: training “${m.t.params.modelName}” (${n} epoch${n === 1 ? '' : 's'} of ${m.batch} crop${m.batch === 1 ? '' : 's'} of ${m.crop} px per step${runtime})`,
    measuredHere: true,
  };
}

/** Seconds a training of `size` takes at `speed`: all epochs' crops in 128 px units over crops/s. */
export function estimateSeconds(size: TrainingSize, speed: TrainingSpeed): number {
  const crops = size.epochs * size.stepsPerEpoch * size.batchSize * (size.cropSize / SPEED_CROP_PX) ** 2;
  return crops / speed.cropsPerSecond;
}

/** The epochs finished so far: the history's newest epoch (0 before the first ends). */
export function epochsDone(v: TrainingView): number {
  return v.history.at(-1)?.epoch ?? 0;
}

/**
 * The line under a training's name. Epochs count from 1 as the chart and the table do: while the first
 * runs it says "epoch 1 of 10 running" (the record's `epoch` is the last finished one, 0 then). The loss
 * it quotes is a table row's (the newest finished epoch's mean loss, naming the epoch), never a single
 * step's, so it always matches a row.
 */
export function trainingHeadline(v: TrainingView): string {
  const n = v.params.epochs;
  const done = epochsDone(v);
  const last = v.history.at(-1);
  const loss = last ? ` · epoch ${last.epoch} mean loss ${last.trainLoss.toFixed(4)}` : '';
  switch (v.status) {
    case 'new':
    case 'waiting':
      return v.position
        ? `waiting: ${v.position === 1 ? 'next in the queue' : `number ${v.position} in the queue`}`
        : 'waiting for a training worker';
    case 'started':
      return `loading the data and the model${done ? ` (resuming after epoch ${done})` : ''}`;
    case 'training': {
      const running = Math.min(n, done + 1);
      return `epoch ${running} of ${n} running · step ${v.step} of ${v.totalSteps}${loss}`;
    }
    case 'saving-results':
      return `${done} of ${n} epochs done · saving the model${loss}`;
    case 'done':
      return `${done} of ${n} epochs done${loss}`;
    case 'failed':
      return `stopped after ${done} of ${n} epochs${loss}`;
  }
}

/**
 * Seconds left of a running training, from its own finished epochs (mean seconds per epoch × epochs left);
 * undefined before the first epoch ends or once it is final.
 */
export function remainingSeconds(v: TrainingView): number | undefined {
  if (v.status === 'done' || v.status === 'failed' || v.history.length === 0) return undefined;
  const mean = v.history.reduce((s, e) => s + e.seconds, 0) / v.history.length;
  return Math.max(0, v.params.epochs - epochsDone(v)) * mean;
}

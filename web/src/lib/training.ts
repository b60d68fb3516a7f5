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

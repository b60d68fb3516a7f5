/**
 * What a biologist needs from a model card (card.json), in words: what it segments, the input it wants,
 * the pixel size it was trained at, how accurate it is (in words and numbers), what it was trained on,
 * and where it came from. Pure: a card in, short texts out; a field the card lacks gives no text (never a
 * made-up value). Cards come from the shipped models (models/<name>/<v>/card.json) and from kiosk
 * trainings (workers/training/processor.ts), whose shapes differ a little; both are read.
 */

export interface AccuracySummary {
  /** One or two plain sentences. */
  readonly words: string;
  /** The figures, labelled, e.g. `['F1 @ IoU 0.5: 0.881', …]`. */
  readonly numbers: readonly string[];
  /** Caveats the card gives (e.g. measured on the data the settings were tuned on). */
  readonly notes: readonly string[];
}

export interface ModelSummary {
  readonly segments: string;
  readonly input?: string;
  readonly pixelSize?: string;
  readonly accuracy?: AccuracySummary;
  readonly trainingData?: string;
  readonly training?: string;
  /** The model this version was fine-tuned from, e.g. `nuclear v1`; undefined when trained from scratch or not recorded. */
  readonly parent?: string;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const pct = (v: number) => `${Math.round(v * 100)} %`;
/** 1st, 2nd, 3rd, 11th, 99.8th. */
const ordinal = (n: number): string => {
  if (!Number.isInteger(n) || [11, 12, 13].includes(n % 100)) return `${n}th`;
  return `${n}${['th', 'st', 'nd', 'rd'][n % 10] ?? 'th'}`;
};
const fix = (v: number, d = 3) => v.toFixed(d);
const plural = (n: number, one: string, many = `${one}s`) =>
  `${n.toLocaleString('en')} ${n === 1 ? one : many}`;

const TASKS: Record<string, string> = {
  'nuclear-segmentation':
    'Cell nuclei in 2D images of a nuclear stain (fluorescence): one label per nucleus, touching nuclei split apart.',
};

function describeInput(input: Obj | undefined): string | undefined {
  if (!input) return undefined;
  const channels = num(input['channels']);
  const norm = obj(input['normalization']);
  const parts: string[] = [];
  if (channels === 1)
    parts.push('One channel (the nuclear stain); a multi-channel image needs its nuclear channel chosen.');
  else if (channels !== undefined) parts.push(`${channels} channels.`);
  if (
    norm &&
    str(norm['method']) === 'percentile' &&
    num(norm['low']) !== undefined &&
    num(norm['high']) !== undefined
  )
    parts.push(
      `Any bit depth: each image is scaled on its own (its ${ordinal(num(norm['low'])!)} to ${ordinal(num(norm['high'])!)} percentile of brightness).`,
    );
  return parts.length ? parts.join(' ') : undefined;
}

function describePixelSize(input: Obj | undefined): string | undefined {
  const mpp = num(input?.['mpp']);
  if (mpp === undefined) return undefined;
  const um = num(input?.['typicalNucleusDiameterUm']);
  const px = num(input?.['targetDiameterPx']);
  const size =
    um !== undefined && px !== undefined ? ` (a nucleus about ${um} µm across is ${px} px there)` : '';
  return `Trained at ${Number(mpp.toPrecision(3))} µm per pixel${size}. Give your images' pixel size when you segment and they are rescaled to match.`;
}

/** The validation figures as words and numbers; undefined when the card has none. */
export function describeAccuracy(card: Obj): AccuracySummary | undefined {
  const v = obj(card['validation']);
  const f1 = num(v?.['f1_50']);
  if (!v || f1 === undefined) return undefined;
  const precision = num(v['precision_50']);
  const recall = num(v['recall_50']);
  const dsb = num(v['dsb']);
  const images = num(v['images']);
  const on =
    images !== undefined
      ? `On ${plural(images, 'validation image')} it was not trained on`
      : 'On validation images';
  const words =
    recall !== undefined && precision !== undefined
      ? `${on}, it found ${pct(recall)} of the nuclei, and ${pct(precision)} of the objects it drew were nuclei (a match: overlap IoU ≥ 0.5).`
      : `${on}, F1 was ${fix(f1)} at overlap IoU ≥ 0.5 (1 = every nucleus found and nothing else; it weighs missed and false nuclei alike).`;
  const numbers = [
    `F1 @ IoU 0.5: ${fix(f1)}`,
    ...(precision !== undefined ? [`precision: ${fix(precision)}`] : []),
    ...(recall !== undefined ? [`recall: ${fix(recall)}`] : []),
    ...(dsb !== undefined
      ? [`DSB score: ${fix(dsb)} (stricter: matches averaged over IoU 0.5 to 0.95)`]
      : []),
    ...(images !== undefined ? [`${plural(images, 'image')}`] : []),
  ];
  const notes: string[] = [];
  const data = str(v['data']);
  if (data) notes.push(`Validation data: ${data}.`);
  const epoch = num(v['epoch']);
  if (epoch !== undefined) notes.push(`Measured at training epoch ${epoch}, the one saved as this model.`);
  // The card's own note is written for developers (tuning methods, jargon): point to it, do not quote it.
  if (str(v['note']))
    notes.push(
      'The card adds a caveat on how these figures were measured (validation.note in the full card).',
    );
  const r = obj(card['robustness']);
  const rf1 = num(r?.['f1_50']);
  if (r && rf1 !== undefined && str(r['what']))
    notes.push(
      `Also checked on ${str(r['what'])}: F1 ${fix(rf1)}${num(r['dsb']) !== undefined ? `, DSB ${fix(num(r['dsb'])!)}` : ''}.`,
    );
  return { words, numbers, notes };
}

function describeTrainingData(training: Obj | undefined): string | undefined {
  if (!training) return undefined;
  const data = training['data'];
  if (typeof data === 'string') return data;
  const d = obj(data);
  if (!d) return undefined;
  const train = num(d['trainPairs']);
  const val = num(d['valPairs']);
  const objects = num(d['trainObjects']);
  if (train === undefined) return undefined;
  const mpp = num(d['micronsPerPixel']);
  return [
    `${plural(train, 'image pair')} (image + labels)${objects !== undefined ? ` with ${plural(objects, 'nucleus', 'nuclei')}` : ''}`,
    val !== undefined ? `, ${plural(val, 'pair')} for validation` : '',
    mpp !== undefined ? `, at ${mpp} µm per pixel` : '',
    '.',
  ].join('');
}

function describeTraining(training: Obj | undefined): string | undefined {
  if (!training) return undefined;
  const params = obj(training['parameters']);
  const epochs = num(training['epochsRun']) ?? num(training['epochs']) ?? num(params?.['epochs']);
  const best = num(training['bestEpoch']);
  const seconds = num(training['seconds']);
  const runtime = str(training['runtime']);
  const parts: string[] = [];
  if (epochs !== undefined) parts.push(`${plural(epochs, 'epoch')}`);
  if (best !== undefined) parts.push(`epoch ${best} kept (the best on validation)`);
  if (seconds !== undefined) parts.push(`${Math.round(seconds / 60).toLocaleString('en')} min of training`);
  if (runtime) parts.push(`on ${runtime}`);
  return parts.length ? `${parts.join(', ')}.` : undefined;
}

/** The model this version was fine-tuned from, as the card records it (kiosk trainings: parentModel). */
function parentOf(card: Obj): string | undefined {
  const p = obj(card['parentModel']);
  if (p && str(p['name'])) return `${str(p['name'])} v${String(p['version'] ?? '?')}`;
  const training = obj(card['training']);
  const from = obj(training?.['finetunedFrom']);
  const model = str(from?.['model']) ?? str(training?.['fineTunedFrom']);
  if (!model) return undefined;
  // A path such as models/nuclear/1 reads as "nuclear v1".
  const m = /(?:^|\/)([^/]+)\/(\d+)\/?$/.exec(model);
  return m ? `${m[1]} v${m[2]}` : model;
}

export function summarizeCard(card: Readonly<Record<string, unknown>>): ModelSummary {
  const input = obj(card['input']);
  const training = obj(card['training']);
  const task = str(card['task']);
  const parts = {
    segments: (task && TASKS[task]) ?? (task ? `Task: ${task}.` : 'Not stated on the card.'),
    input: describeInput(input),
    pixelSize: describePixelSize(input),
    accuracy: describeAccuracy(card),
    trainingData: describeTrainingData(training),
    training: describeTraining(training),
    parent: parentOf(card),
  };
  return Object.fromEntries(
    Object.entries(parts).filter(([, v]) => v !== undefined),
  ) as unknown as ModelSummary;
}

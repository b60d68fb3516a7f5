/**
 * The training-data format (documented for users in docs/training.md) and its validation.
 *
 * A training set is a list of files (the entries of a zip, the files of a folder upload): pairs of
 * `NAME.image.(png|tif|tiff)` + `NAME.labels.(png|tif|tiff)` in the same folder. The image may have several
 * channels (channel 0 is used) and any dtype; the labels are an instance label image [H, W] of integers
 * (0 = background, each nucleus one id), the same H and W as the image. Pairs under a folder named `val`
 * (or `validation`) anywhere in their path are the validation split; all other pairs are the training split.
 * A single folder wrapping everything (what zipping a folder gives) is ignored. Dotfiles and `__MACOSX/`
 * are skipped; other files that are not part of a pair are listed as ignored (not an error).
 *
 * `validateTrainingFiles` decodes every file and reports EVERY problem, each naming its file: a missing
 * partner, a file that is not a PNG/TIFF image, labels with fractional (float) values or several channels,
 * image and labels of different shapes, two images of one name; an empty set or one without any pair is a
 * problem of the whole set (file `''` or the archive's name). Pure: bytes in, a report out. The files are
 * grouped into pairs by their paths first (planTrainingSet), then each file is decoded on its own:
 * `validateTrainingSet` does the same for files read one at a time (from a bucket), never holding the set.
 */
import { toImages } from '../image/channels.js';
import { decodeImage } from '../image/decode.js';
import { labelsFromRaw } from '../image/files.js';
import { ImageError } from '../image/types.js';

/** One file of a training set: its path inside the set (`/`-separated) and its bytes. */
export interface TrainingFile {
  readonly path: string;
  readonly bytes: Uint8Array;
}

export type TrainingProblemCode =
  | 'empty'
  | 'bad-archive'
  | 'no-pairs'
  | 'missing-labels'
  | 'missing-image'
  | 'duplicate-name'
  | 'not-an-image'
  | 'float-labels'
  | 'bad-labels'
  | 'shape-mismatch'
  | 'no-objects';

/** One thing wrong with the data; `file` is the path inside the set ('' for the set as a whole). */
export interface TrainingProblem {
  readonly file: string;
  readonly code: TrainingProblemCode;
  readonly message: string;
}

export type Split = 'train' | 'val';

/** A checked pair, with the stem it will be stored under (unique within its split). */
export interface TrainingPair<F extends { readonly path: string } = TrainingFile> {
  readonly split: Split;
  /** `[A-Za-z0-9._-]` stem: folders joined with `_`, e.g. `plate1_a01`. */
  readonly name: string;
  readonly image: F;
  readonly labels: F;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  /** Distinct non-zero label ids. */
  readonly objects: number;
}

export interface TrainingDataSummary {
  readonly trainPairs: number;
  readonly valPairs: number;
  readonly trainObjects: number;
  readonly valObjects: number;
  /** Distinct `HxW` sizes, e.g. `['256x256', '520x696']`. */
  readonly sizes: readonly string[];
  /** Files that are not part of any pair (e.g. a README). */
  readonly ignored: readonly string[];
}

export interface TrainingDataReport<F extends { readonly path: string } = TrainingFile> {
  /** True when there are no problems (then `pairs` is the whole, usable set). */
  readonly ok: boolean;
  readonly problems: readonly TrainingProblem[];
  readonly pairs: readonly TrainingPair<F>[];
  readonly summary: TrainingDataSummary;
}

const PAIR_FILE = /^(.+)\.(image|labels)\.(png|tiff?)$/i;
const VAL_DIRS = new Set(['val', 'validation', 'valid']);

function skipped(path: string): boolean {
  return path.split('/').some((seg) => seg.startsWith('.') || seg === '__MACOSX') || path.endsWith('/');
}

/** Drops one folder level that wraps every file (`mydata/train/a.image.png` → `train/a.image.png`). */
function stripCommonRoot(paths: readonly string[]): (p: string) => string {
  const firsts = new Set(paths.map((p) => (p.includes('/') ? p.split('/')[0] : '')));
  const [only] = [...firsts];
  if (firsts.size !== 1 || !only || only === 'train' || VAL_DIRS.has(only.toLowerCase())) return (p) => p;
  return (p) => p.slice(only.length + 1);
}

const safeStem = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[._]+/, '') || 'pair';

/** A training file checked by its path only, before its bytes are read (`TrainingFile`, or a bucket key). */
export interface TrainingFileRef {
  readonly path: string;
}

/** One `folder/NAME` of a set: its image and labels (the first of each), and the problems its names show. */
interface PlannedGroup<F extends TrainingFileRef> {
  readonly dir: string;
  readonly stem: string;
  readonly image: F | undefined;
  readonly labels: F | undefined;
  readonly problems: TrainingProblem[];
}

/** What the names of a set say (see planTrainingSet). */
interface TrainingSetPlan<F extends TrainingFileRef> {
  readonly groups: readonly PlannedGroup<F>[];
  readonly ignored: readonly string[];
  readonly setName: string;
  /** Problems of the set as a whole found from its names (no files at all). */
  readonly problems: readonly TrainingProblem[];
  readonly kept: number;
}

type ImageCheck = { height: number; width: number; channels: number };
type LabelsCheck = { height: number; width: number; objects: number };
/** A group's two files as checked: the result, or undefined (missing, or its problem already reported). */
interface GroupCheck {
  readonly image: ImageCheck | undefined;
  readonly labels: LabelsCheck | undefined;
  readonly problems: readonly TrainingProblem[];
}

/**
 * Groups a set's files into pairs by their paths alone (no bytes read): skipped and ignored files, two files
 * for one side of a pair, a missing partner, and an empty set.
 */
function planTrainingSet<F extends TrainingFileRef>(
  files: readonly F[],
  setName: string,
): TrainingSetPlan<F> {
  const ignored: string[] = [];
  const kept = files.filter((f) => !skipped(f.path));
  const rel = stripCommonRoot(kept.map((f) => f.path));
  const byKey = new Map<string, { dir: string; stem: string; image: F[]; labels: F[] }>();
  for (const f of kept) {
    const path = rel(f.path);
    const slash = path.lastIndexOf('/');
    const dir = slash < 0 ? '' : path.slice(0, slash);
    const m = PAIR_FILE.exec(path.slice(slash + 1));
    if (!m) {
      ignored.push(f.path);
      continue;
    }
    const key = `${dir}/${m[1]!}`;
    let g = byKey.get(key);
    if (!g) byKey.set(key, (g = { dir, stem: m[1]!, image: [], labels: [] }));
    (m[2]!.toLowerCase() === 'image' ? g.image : g.labels).push(f);
  }
  const problems: TrainingProblem[] = [];
  if (kept.length === 0) {
    problems.push({
      file: setName,
      code: 'empty',
      message: `${setName || 'the training data'} holds no files`,
    });
  }
  const groups = [...byKey.values()]
    .sort((a, b) => `${a.dir}/${a.stem}`.localeCompare(`${b.dir}/${b.stem}`))
    .map((g): PlannedGroup<F> => {
      const own: TrainingProblem[] = [];
      for (const [side, list] of [
        ['image', g.image],
        ['labels', g.labels],
      ] as const) {
        if (list.length > 1) {
          own.push({
            file: list[1]!.path,
            code: 'duplicate-name',
            message: `${list.map((f) => f.path).join(' and ')} are two ${side} files of one pair; keep one`,
          });
        }
      }
      const [image] = g.image;
      const [labels] = g.labels;
      if (image && !labels) {
        own.push({
          file: image.path,
          code: 'missing-labels',
          message: `${image.path} has no ${g.stem}.labels.(png|tif) beside it`,
        });
      }
      if (labels && !image) {
        own.push({
          file: labels.path,
          code: 'missing-image',
          message: `${labels.path} has no ${g.stem}.image.(png|tif) beside it`,
        });
      }
      return { dir: g.dir, stem: g.stem, image, labels, problems: own };
    });
  return { groups, ignored, setName, problems, kept: kept.length };
}

/** Checks one group's files, given their bytes (one file's bytes at a time are enough). */
function checkGroup(
  image: Uint8Array | undefined,
  labels: Uint8Array | undefined,
  g: PlannedGroup<TrainingFileRef>,
  maxPixels: number | undefined,
): GroupCheck {
  const problems: TrainingProblem[] = [];
  return {
    image: image && g.image ? checkImage(g.image.path, image, maxPixels, problems) : undefined,
    labels: labels && g.labels ? checkLabels(g.labels.path, labels, maxPixels, problems) : undefined,
    problems,
  };
}

/** The report from a plan and its groups' checks (in the plan's order). */
function finishReport<F extends TrainingFileRef>(
  plan: TrainingSetPlan<F>,
  checks: readonly GroupCheck[],
): TrainingDataReport<F> {
  const problems: TrainingProblem[] = [...plan.problems];
  const pairs: TrainingPair<F>[] = [];
  const usedNames = new Set<string>();
  plan.groups.forEach((g, i) => {
    const c = checks[i]!;
    problems.push(...g.problems, ...c.problems);
    const { image, labels } = g;
    const img = c.image;
    const lab = c.labels;
    if (!img || !lab || !image || !labels) return;
    if (img.height !== lab.height || img.width !== lab.width) {
      problems.push({
        file: labels.path,
        code: 'shape-mismatch',
        message: `${image.path} is ${img.height}x${img.width} (HxW) but ${labels.path} is ${lab.height}x${lab.width}`,
      });
      return;
    }
    const split: Split = g.dir.split('/').some((d) => VAL_DIRS.has(d.toLowerCase())) ? 'val' : 'train';
    const dirPart = g.dir
      .split('/')
      .filter((d) => d && d !== 'train' && !VAL_DIRS.has(d.toLowerCase()))
      .join('_');
    let name = safeStem(dirPart ? `${dirPart}_${g.stem}` : g.stem);
    for (let k = 2; usedNames.has(`${split}/${name}`); k++) name = `${safeStem(g.stem)}_${k}`;
    usedNames.add(`${split}/${name}`);
    pairs.push({
      split,
      name,
      image,
      labels,
      height: img.height,
      width: img.width,
      channels: img.channels,
      objects: lab.objects,
    });
  });
  const { setName, ignored } = plan;
  const train = pairs.filter((p) => p.split === 'train');
  const val = pairs.filter((p) => p.split === 'val');
  if (plan.kept > 0 && plan.groups.length === 0) {
    problems.push({
      file: setName,
      code: 'no-pairs',
      message: `${setName || 'the training data'} holds no NAME.image.(png|tif) + NAME.labels.(png|tif) files (found: ${ignored.slice(0, 5).join(', ')}${ignored.length > 5 ? ', ...' : ''})`,
    });
  } else if (problems.length === 0 && train.length === 0) {
    problems.push({
      file: setName,
      code: 'no-pairs',
      message: `${setName || 'the training data'} has only validation pairs; put training pairs outside val/`,
    });
  } else if (problems.length === 0 && train.every((p) => p.objects === 0)) {
    problems.push({
      file: setName,
      code: 'no-objects',
      message: `no training label image holds any object (all pixels are 0)`,
    });
  }
  const sum = (ps: TrainingPair<F>[]) => ps.reduce((a, p) => a + p.objects, 0);
  return {
    ok: problems.length === 0,
    problems,
    pairs,
    summary: {
      trainPairs: train.length,
      valPairs: val.length,
      trainObjects: sum(train),
      valObjects: sum(val),
      sizes: [...new Set(pairs.map((p) => `${p.height}x${p.width}`))].sort(),
      ignored: [...ignored],
    },
  };
}

/**
 * Checks a training set held in memory (see the module doc). `setName` names the set in set-wide problems
 * (the zip's file name). `maxPixels` bounds each decoded image (values).
 */
export function validateTrainingFiles(
  files: readonly TrainingFile[],
  opts: { readonly setName?: string; readonly maxPixels?: number } = {},
): TrainingDataReport {
  const plan = planTrainingSet(files, opts.setName ?? '');
  return finishReport(
    plan,
    plan.groups.map((g) => checkGroup(g.image?.bytes, g.labels?.bytes, g, opts.maxPixels)),
  );
}

/**
 * validateTrainingFiles for a set whose bytes live elsewhere (a bucket): the files are grouped by their
 * paths first, then each is read on its own through `withBytes` (image, then labels, pair after pair),
 * which hands its bytes to the check and lets them go after, so checking a set holds one file's bytes and its decoded pixels at a time, never the set.
 */
export async function validateTrainingSet<F extends TrainingFileRef>(
  files: readonly F[],
  withBytes: <T>(file: F, use: (bytes: Uint8Array) => T) => Promise<T>,
  opts: { readonly setName?: string; readonly maxPixels?: number } = {},
): Promise<TrainingDataReport<F>> {
  const plan = planTrainingSet(files, opts.setName ?? '');
  const checks: GroupCheck[] = [];
  for (const g of plan.groups) {
    const problems: TrainingProblem[] = [];
    const { image: imageFile, labels: labelsFile } = g;
    const image = imageFile
      ? await withBytes(imageFile, (b) => checkImage(imageFile.path, b, opts.maxPixels, problems))
      : undefined;
    const labels = labelsFile
      ? await withBytes(labelsFile, (b) => checkLabels(labelsFile.path, b, opts.maxPixels, problems))
      : undefined;
    checks.push({ image, labels, problems });
  }
  return finishReport(plan, checks);
}

function checkImage(
  display: string,
  bytes: Uint8Array,
  maxPixels: number | undefined,
  problems: TrainingProblem[],
): ImageCheck | undefined {
  try {
    const raw = decodeImage(bytes, {
      name: display,
      ...(maxPixels ? { maxPixels } : {}),
    });
    const [first, ...rest] = toImages(raw);
    if (!first) throw new ImageError('empty-image', `${display}: holds no image plane`);
    if (rest.length > 0) {
      throw new ImageError(
        'bad-argument',
        `${display}: holds ${rest.length + 1} planes (Z/T stack, axes '${raw.axes}'); a training image must be one 2-D image`,
      );
    }
    return { height: first.height, width: first.width, channels: first.channels };
  } catch (err) {
    if (!(err instanceof ImageError)) throw err;
    problems.push({ file: display, code: 'not-an-image', message: err.message });
    return undefined;
  }
}

function checkLabels(
  display: string,
  bytes: Uint8Array,
  maxPixels: number | undefined,
  problems: TrainingProblem[],
): LabelsCheck | undefined {
  let raw;
  try {
    raw = decodeImage(bytes, { name: display, ...(maxPixels ? { maxPixels } : {}) });
  } catch (err) {
    if (!(err instanceof ImageError)) throw err;
    problems.push({ file: display, code: 'not-an-image', message: err.message });
    return undefined;
  }
  try {
    const labels = labelsFromRaw(raw, display);
    const ids = new Set<number>();
    for (const v of labels.data) if (v !== 0) ids.add(v);
    return { height: labels.height, width: labels.width, objects: ids.size };
  } catch (err) {
    if (!(err instanceof ImageError)) throw err;
    const float = raw.dtype === 'float32' || raw.dtype === 'float64';
    const fractional = /must be integers/.test(err.message);
    problems.push({
      file: display,
      code: float && fractional ? 'float-labels' : 'bad-labels',
      message:
        float && fractional
          ? `${err.message}: labels must be an instance label image of integers (0 = background, one id per nucleus), not a probability or distance map`
          : err.message,
    });
    return undefined;
  }
}

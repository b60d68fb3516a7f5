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
 * problem of the whole set (file `''` or the archive's name). Pure: bytes in, a report out.
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
export interface TrainingPair {
  readonly split: Split;
  /** `[A-Za-z0-9._-]` stem: folders joined with `_`, e.g. `plate1_a01`. */
  readonly name: string;
  readonly image: TrainingFile;
  readonly labels: TrainingFile;
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

export interface TrainingDataReport {
  /** True when there are no problems (then `pairs` is the whole, usable set). */
  readonly ok: boolean;
  readonly problems: readonly TrainingProblem[];
  readonly pairs: readonly TrainingPair[];
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

interface Side {
  file: TrainingFile;
  display: string;
}

/**
 * Checks a training set (see the module doc). `setName` names the set in set-wide problems (the zip's
 * file name). `maxPixels` bounds each decoded image (values).
 */
export function validateTrainingFiles(
  files: readonly TrainingFile[],
  opts: { readonly setName?: string; readonly maxPixels?: number } = {},
): TrainingDataReport {
  const problems: TrainingProblem[] = [];
  const ignored: string[] = [];
  const kept = files.filter((f) => !skipped(f.path));
  const rel = stripCommonRoot(kept.map((f) => f.path));
  // Group by folder + stem.
  const groups = new Map<string, { dir: string; stem: string; image: Side[]; labels: Side[] }>();
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
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { dir, stem: m[1]!, image: [], labels: [] }));
    (m[2]!.toLowerCase() === 'image' ? g.image : g.labels).push({ file: f, display: f.path });
  }
  const setName = opts.setName ?? '';
  if (kept.length === 0) {
    problems.push({
      file: setName,
      code: 'empty',
      message: `${setName || 'the training data'} holds no files`,
    });
  }
  const pairs: TrainingPair[] = [];
  const usedNames = new Set<string>();
  for (const g of [...groups.values()].sort((a, b) =>
    `${a.dir}/${a.stem}`.localeCompare(`${b.dir}/${b.stem}`),
  )) {
    for (const [side, list] of [
      ['image', g.image],
      ['labels', g.labels],
    ] as const) {
      if (list.length > 1) {
        problems.push({
          file: list[1]!.display,
          code: 'duplicate-name',
          message: `${list.map((s) => s.display).join(' and ')} are two ${side} files of one pair; keep one`,
        });
      }
    }
    const [image] = g.image;
    const [labels] = g.labels;
    if (image && !labels) {
      problems.push({
        file: image.display,
        code: 'missing-labels',
        message: `${image.display} has no ${g.stem}.labels.(png|tif) beside it`,
      });
    }
    if (labels && !image) {
      problems.push({
        file: labels.display,
        code: 'missing-image',
        message: `${labels.display} has no ${g.stem}.image.(png|tif) beside it`,
      });
    }
    const img = image ? checkImage(image, opts.maxPixels, problems) : undefined;
    const lab = labels ? checkLabels(labels, opts.maxPixels, problems) : undefined;
    if (!img || !lab || !image || !labels) continue;
    if (img.height !== lab.height || img.width !== lab.width) {
      problems.push({
        file: labels.display,
        code: 'shape-mismatch',
        message: `${image.display} is ${img.height}x${img.width} (HxW) but ${labels.display} is ${lab.height}x${lab.width}`,
      });
      continue;
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
      image: image.file,
      labels: labels.file,
      height: img.height,
      width: img.width,
      channels: img.channels,
      objects: lab.objects,
    });
  }
  const train = pairs.filter((p) => p.split === 'train');
  const val = pairs.filter((p) => p.split === 'val');
  if (kept.length > 0 && groups.size === 0) {
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
  const sum = (ps: TrainingPair[]) => ps.reduce((a, p) => a + p.objects, 0);
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
      ignored,
    },
  };
}

function checkImage(
  side: Side,
  maxPixels: number | undefined,
  problems: TrainingProblem[],
): { height: number; width: number; channels: number } | undefined {
  try {
    const raw = decodeImage(side.file.bytes, {
      name: side.display,
      ...(maxPixels ? { maxPixels } : {}),
    });
    const [first, ...rest] = toImages(raw);
    if (!first) throw new ImageError('empty-image', `${side.display}: holds no image plane`);
    if (rest.length > 0) {
      throw new ImageError(
        'bad-argument',
        `${side.display}: holds ${rest.length + 1} planes (Z/T stack, axes '${raw.axes}'); a training image must be one 2-D image`,
      );
    }
    return { height: first.height, width: first.width, channels: first.channels };
  } catch (err) {
    if (!(err instanceof ImageError)) throw err;
    problems.push({ file: side.display, code: 'not-an-image', message: err.message });
    return undefined;
  }
}

function checkLabels(
  side: Side,
  maxPixels: number | undefined,
  problems: TrainingProblem[],
): { height: number; width: number; objects: number } | undefined {
  let raw;
  try {
    raw = decodeImage(side.file.bytes, { name: side.display, ...(maxPixels ? { maxPixels } : {}) });
  } catch (err) {
    if (!(err instanceof ImageError)) throw err;
    problems.push({ file: side.display, code: 'not-an-image', message: err.message });
    return undefined;
  }
  try {
    const labels = labelsFromRaw(raw, side.display);
    const ids = new Set<number>();
    for (const v of labels.data) if (v !== 0) ids.add(v);
    return { height: labels.height, width: labels.width, objects: ids.size };
  } catch (err) {
    if (!(err instanceof ImageError)) throw err;
    const float = raw.dtype === 'float32' || raw.dtype === 'float64';
    const fractional = /must be integers/.test(err.message);
    problems.push({
      file: side.display,
      code: float && fractional ? 'float-labels' : 'bad-labels',
      message:
        float && fractional
          ? `${err.message}: labels must be an instance label image of integers (0 = background, one id per nucleus), not a probability or distance map`
          : err.message,
    });
    return undefined;
  }
}

import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError, type Command } from '../command.js';
import { readLabelsFile } from '../../workers/image/files.js';
import { keySafe, pairingName } from '../../workers/image/label-names.js';
import {
  poolScores,
  scoreImage,
  type PooledScores,
  type Scores,
  type ThresholdScore,
} from '../../workers/image/metrics.js';
import type { Labels } from '../../workers/image/types.js';

const usage = `Usage: kiosk eval --pred DIR --truth DIR [--json]

Scores predicted label images against ground-truth label images (instance segmentation): objects are
matched one-to-one by IoU (optimal assignment, StarDist semantics), at IoU 0.5, 0.55, ..., 0.95.

Files pair up by NAME (README "Label files"): NAME.labels.tif (what kiosk segment, kiosk predict, the
API and the web UI write; also .png/.tiff), NAME_feature_0.tif (DeepCell zip entries), the older
NAME.image.labels.tif, and plain NAME.png/.tif all count as NAME; NAME.image.png/.tif (the raw image next
to its labels, as in the training data) is skipped. Names that differ only where the API's file names
replace characters by _ (folders, spaces, non-ASCII) pair too. Every NAME must exist on both sides, once.

Prints one row per image and the pooled figures: precision, recall and F1 at IoU 0.5, and DSB = the mean
over thresholds of TP / (TP + FP + FN) (Data Science Bowl 2018). "pooled" sums TP/FP/FN over all images
before dividing; "mean per image" averages each image's own figure (Kaggle's DSB score is the latter).
An image with no objects on either side scores 1.

Options:
  --pred DIR    predicted label images                  (required)
  --truth DIR   ground-truth label images               (required)
  --json        print one JSON object instead of a table: pooled f1_50, precision_50, recall_50, dsb,
                n_images, counts, mean_per_image, by_threshold, and images (one entry per image)

Exit status: 0 when scored; 1 for missing or unreadable files or mismatched shapes; 2 for bad usage.`;

/**
 * The label files of a folder by NAME ({@link pairingName}: every name the project writes; raw images
 * NAME.image.png/.tif are skipped). Throws (a message, not a stack) for a folder that is missing, holds no
 * label file, or has two files with one NAME.
 */
export async function labelFilesByStem(dir: string, role: string): Promise<Map<string, string>> {
  let names: string[];
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error(`--${role} ${dir} is not a folder`);
    names = (await readdir(dir)).sort();
  } catch (e) {
    if (e instanceof Error && e.message.startsWith(`--${role}`)) throw e;
    throw new Error(
      `--${role} folder ${dir} cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
  const byStem = new Map<string, string>();
  for (const name of names) {
    const stem = pairingName(name);
    if (stem === undefined) continue;
    const other = byStem.get(stem);
    if (other) throw new Error(`--${role} ${dir}: ${other} and ${name} both have stem '${stem}'; keep one`);
    byStem.set(stem, name);
  }
  if (byStem.size === 0) {
    throw new Error(
      `--${role} ${dir} holds no label images (NAME.labels.tif/.png, NAME_feature_0.tif or NAME.png/.tif)`,
    );
  }
  return byStem;
}

/**
 * Pairs the NAMEs of two folders: equal NAMEs first; then, among those left on both sides, NAMEs equal once
 * made key-safe (the API's result names replace folders, spaces and non-ASCII by _), where that is unique
 * on both sides. Returns truth NAME → prediction NAME, and what stays unpaired.
 */
export function pairStems(
  pred: ReadonlySet<string>,
  truth: ReadonlySet<string>,
): { pairs: Map<string, string>; noPred: string[]; noTruth: string[] } {
  const pairs = new Map<string, string>();
  for (const t of truth) if (pred.has(t)) pairs.set(t, t);
  const byKey = (names: Iterable<string>) => {
    const m = new Map<string, string[]>();
    for (const n of names) m.set(keySafe(n), [...(m.get(keySafe(n)) ?? []), n]);
    return m;
  };
  const leftPred = byKey([...pred].filter((p) => !truth.has(p)));
  const leftTruth = byKey([...truth].filter((t) => !pred.has(t)));
  for (const [key, ts] of leftTruth) {
    const ps = leftPred.get(key);
    if (ts.length === 1 && ps?.length === 1) pairs.set(ts[0]!, ps[0]!);
  }
  const paired = new Set(pairs.values());
  return {
    pairs,
    noPred: [...truth].filter((t) => !pairs.has(t)),
    noTruth: [...pred].filter((p) => !paired.has(p)),
  };
}

async function readLabels(dir: string, file: string): Promise<Labels> {
  const path = join(dir, file);
  try {
    return await readLabelsFile(path);
  } catch (e) {
    throw new Error(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

const listSome = (names: string[]): string =>
  names.slice(0, 5).join(', ') + (names.length > 5 ? ` and ${names.length - 5} more` : '');

interface ImageRow {
  readonly name: string;
  readonly scores: Scores;
}

/** Reads and scores every pair; throws a plain message for the first problem found. */
export async function evaluateFolders(
  predDir: string,
  truthDir: string,
): Promise<{ rows: ImageRow[]; pooled: PooledScores }> {
  const pred = await labelFilesByStem(predDir, 'pred');
  const truth = await labelFilesByStem(truthDir, 'truth');
  const { pairs, noPred, noTruth } = pairStems(new Set(pred.keys()), new Set(truth.keys()));
  if (noPred.length || noTruth.length) {
    const parts = [];
    if (noPred.length) parts.push(`no prediction in ${predDir} for ${listSome(noPred)}`);
    if (noTruth.length) parts.push(`no ground truth in ${truthDir} for ${listSome(noTruth)}`);
    throw new Error(`${parts.join('; ')} (files pair up by stem, see kiosk eval --help)`);
  }
  const rows: ImageRow[] = [];
  for (const [stem, truthFile] of truth) {
    const predFile = pred.get(pairs.get(stem)!)!;
    const [p, t] = await Promise.all([readLabels(predDir, predFile), readLabels(truthDir, truthFile)]);
    try {
      rows.push({ name: stem, scores: scoreImage(p, t) });
    } catch (e) {
      throw new Error(`${stem}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return { rows, pooled: poolScores(rows.map((r) => r.scores)) };
}

const f3 = (v: number): string => v.toFixed(3);

function table(rows: ImageRow[], pooled: PooledScores): string {
  const width = Math.max(14, ...rows.map((r) => r.name.length));
  const header = `${'image'.padEnd(width)}  ${['truth', 'pred', 'TP@.5', 'FP@.5', 'FN@.5'].map((h) => h.padStart(6)).join('')}  ${['prec@.5', 'rec@.5', 'F1@.5', 'DSB'].map((h) => h.padStart(8)).join('')}`;
  const line = (name: string, s: Scores): string =>
    `${name.padEnd(width)}  ${[s.nTruth, s.nPred, s.at50.tp, s.at50.fp, s.at50.fn].map((v) => String(v).padStart(6)).join('')}  ${[s.precision_50, s.recall_50, s.f1_50, s.dsb].map((v) => f3(v).padStart(8)).join('')}`;
  const m = pooled.meanPerImage;
  return [
    header,
    ...rows.map((r) => line(r.name, r.scores)),
    '-'.repeat(header.length),
    line(`pooled (${pooled.nImages})`, pooled),
    `${'mean per image'.padEnd(width)}  ${' '.repeat(30)}  ${[m.precision_50, m.recall_50, m.f1_50, m.dsb].map((v) => f3(v).padStart(8)).join('')}`,
    '',
    `DSB by IoU threshold (pooled): ${pooled.byThreshold.map((t) => `${t.threshold.toFixed(2)}:${f3(t.accuracy)}`).join(' ')}`,
    '',
  ].join('\n');
}

const thresholdJson = (t: ThresholdScore) => ({ ...t });

function json(rows: ImageRow[], pooled: PooledScores): string {
  return `${JSON.stringify({
    n_images: pooled.nImages,
    f1_50: pooled.f1_50,
    precision_50: pooled.precision_50,
    recall_50: pooled.recall_50,
    dsb: pooled.dsb,
    n_truth: pooled.nTruth,
    n_pred: pooled.nPred,
    tp_50: pooled.at50.tp,
    fp_50: pooled.at50.fp,
    fn_50: pooled.at50.fn,
    mean_per_image: pooled.meanPerImage,
    by_threshold: pooled.byThreshold.map(thresholdJson),
    images: rows.map(({ name, scores: s }) => ({
      name,
      n_truth: s.nTruth,
      n_pred: s.nPred,
      tp_50: s.at50.tp,
      fp_50: s.at50.fp,
      fn_50: s.at50.fn,
      precision_50: s.precision_50,
      recall_50: s.recall_50,
      f1_50: s.f1_50,
      dsb: s.dsb,
    })),
  })}\n`;
}

export const command: Command = {
  name: 'eval',
  summary: 'score predicted label images against ground truth (F1@0.5, DSB)',
  usage,
  async run(args) {
    let values: { pred?: string; truth?: string; json?: boolean };
    try {
      ({ values } = parseArgs({
        args,
        options: { pred: { type: 'string' }, truth: { type: 'string' }, json: { type: 'boolean' } },
        allowPositionals: false,
      }));
    } catch (e) {
      throw new UsageError(e instanceof Error ? e.message : String(e));
    }
    if (!values.pred || !values.truth) throw new UsageError('both --pred DIR and --truth DIR are required');
    const { rows, pooled } = await evaluateFolders(values.pred, values.truth);
    process.stdout.write(values.json ? json(rows, pooled) : table(rows, pooled));
    return 0;
  },
};

/**
 * Instance-segmentation metrics: object matching by IoU with an optimal one-to-one assignment (StarDist's
 * `matching` semantics), per-image scores over IoU thresholds (precision, recall, F1, and the Data Science
 * Bowl 2018 score), and pooling over images.
 *
 * Conventions. An object is one non-zero id of a `Labels` image (axes [H, W]; ids need not be sequential;
 * pixels of one id need not be connected). IoU = |A ∩ B| / |A ∪ B| in pixels. Every ratio whose
 * denominator is 0 is defined as 1 ("nothing to find, nothing found wrongly"): so an image with no truth
 * and no prediction scores 1 everywhere; no truth but k predictions: precision 0, recall 1, F1 0, DSB 0;
 * truth but no prediction: precision 1, recall 0, F1 0, DSB 0.
 */
import { assertSameShape } from './array-checks.js';
import { minCostAssignment } from './assignment.js';
import { rankLabels } from './labels.js';
import { ImageError, type Labels } from './types.js';

/** The IoU thresholds of the DSB 2018 score: 0.5, 0.55, ..., 0.95. */
export const DSB_THRESHOLDS: readonly number[] = Array.from({ length: 10 }, (_, k) => (50 + 5 * k) / 100);

/** Every overlapping (truth, pred) pair of two label images, computed in one pass over the pixels. */
export interface InstanceOverlaps {
  /** Distinct ids, ascending. */
  readonly truthIds: Uint32Array;
  readonly predIds: Uint32Array;
  /** Pairs with at least one common pixel: indices into truthIds / predIds, and their IoU. */
  readonly pairs: readonly { readonly truth: number; readonly pred: number; readonly iou: number }[];
}

/** One matched (or overlapping) pair, by id. */
export interface Match {
  readonly truth: number;
  readonly pred: number;
  readonly iou: number;
}

/** Result of matching at one IoU threshold. tp = matches.length, fp = nPred - tp, fn = nTruth - tp. */
export interface Matching {
  readonly threshold: number;
  readonly nTruth: number;
  readonly nPred: number;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  /** The one-to-one matches, each with IoU >= threshold, sorted by truth id. */
  readonly matches: readonly Match[];
}

/**
 * Counts intersections of every overlapping (truth, pred) pair and the IoU of each.
 * Throws ImageError 'shape-mismatch' when the two images differ in shape (message shows both).
 */
export function instanceOverlaps(pred: Labels, truth: Labels): InstanceOverlaps {
  assertSameShape('pred', pred, 'truth', truth);
  const t = rankLabels(truth.data);
  const p = rankLabels(pred.data);
  const tArea = new Float64Array(t.ids.length + 1);
  const pArea = new Float64Array(p.ids.length + 1);
  // Intersections per truth rank, keyed by pred rank; runs of equal pairs are added in one step.
  const inter = new Map<number, Map<number, number>>();
  const add = (a: number, b: number, count: number): void => {
    if (a === 0 || b === 0) return;
    let row = inter.get(a);
    if (!row) inter.set(a, (row = new Map()));
    row.set(b, (row.get(b) ?? 0) + count);
  };
  let runT = 0;
  let runP = 0;
  let run = 0;
  const n = t.ranks.length;
  for (let i = 0; i < n; i++) {
    const a = t.ranks[i]!;
    const b = p.ranks[i]!;
    tArea[a]!++;
    pArea[b]!++;
    if (a === runT && b === runP) run++;
    else {
      add(runT, runP, run);
      runT = a;
      runP = b;
      run = 1;
    }
  }
  add(runT, runP, run);
  const pairs: { truth: number; pred: number; iou: number }[] = [];
  for (const [a, row] of [...inter].sort((x, y) => x[0] - y[0])) {
    for (const [b, c] of [...row].sort((x, y) => x[0] - y[0])) {
      pairs.push({ truth: a - 1, pred: b - 1, iou: c / (tArea[a]! + pArea[b]! - c) });
    }
  }
  return { truthIds: t.ids, predIds: p.ids, pairs };
}

/**
 * The optimal one-to-one matching at one IoU threshold (StarDist `matching`): among pairs with
 * IoU >= threshold, the most matches possible; among those, the largest total IoU. Solved per connected
 * group of candidate pairs with the Hungarian algorithm (groups are tiny at IoU >= 0.5, where an object
 * has at most one partner above 0.5; at low thresholds a group of k objects costs O(k^3)). StarDist also lets pairs below the threshold break ties between
 * equally large matchings; that changes which pairs are reported, never tp/fp/fn.
 * Throws ImageError 'bad-argument' unless 0 < threshold <= 1.
 */
export function matchAt(overlaps: InstanceOverlaps, threshold: number): Matching {
  assertThreshold(threshold);
  const { truthIds, predIds } = overlaps;
  const nT = truthIds.length;
  const edges = overlaps.pairs.filter((e) => e.iou >= threshold);
  // Union-find over nodes: truth k → k, pred k → nT + k.
  const parent = Int32Array.from({ length: nT + predIds.length }, (_, i) => i);
  const find = (x: number): number => {
    while (parent[x] !== x) x = parent[x] = parent[parent[x]!]!;
    return x;
  };
  for (const e of edges) parent[find(e.truth)] = find(nT + e.pred);
  const groups = new Map<number, (typeof edges)[number][]>();
  for (const e of edges) {
    const g = find(e.truth);
    const list = groups.get(g);
    if (list) list.push(e);
    else groups.set(g, [e]);
  }
  const matches: Match[] = [];
  for (const group of groups.values()) {
    if (group.length === 1) {
      const e = group[0]!;
      matches.push({ truth: truthIds[e.truth]!, pred: predIds[e.pred]!, iou: e.iou });
      continue;
    }
    const rows = [...new Set(group.map((e) => e.truth))];
    const cols = [...new Set(group.map((e) => e.pred))];
    const rowAt = new Map(rows.map((t, r) => [t, r]));
    const colAt = new Map(cols.map((p, c) => [p, c]));
    const k = Math.min(rows.length, cols.length);
    // Cost -(1 + iou / 2k) per candidate pair, 0 otherwise: the count of matches dominates (the IoU bonus
    // sums to at most 1/2), total IoU breaks ties.
    const cost = new Float64Array(rows.length * cols.length);
    const iouAt = new Float64Array(rows.length * cols.length).fill(-1);
    for (const e of group) {
      const at = rowAt.get(e.truth)! * cols.length + colAt.get(e.pred)!;
      cost[at] = -(1 + e.iou / (2 * k));
      iouAt[at] = e.iou;
    }
    minCostAssignment(cost, rows.length, cols.length).forEach((c, r) => {
      if (c < 0) return;
      const iou = iouAt[r * cols.length + c]!;
      if (iou >= 0) matches.push({ truth: truthIds[rows[r]!]!, pred: predIds[cols[c]!]!, iou });
    });
  }
  matches.sort((a, b) => a.truth - b.truth);
  const tp = matches.length;
  return { threshold, nTruth: nT, nPred: predIds.length, tp, fp: predIds.length - tp, fn: nT - tp, matches };
}

/**
 * Matches `pred` to `truth` at one IoU threshold (default 0.5) and also lists every overlapping pair.
 * Throws ImageError 'shape-mismatch' for different shapes, 'bad-argument' for a threshold outside (0, 1].
 */
export function matchInstances(pred: Labels, truth: Labels, threshold = 0.5): Matching & { pairs: Match[] } {
  assertThreshold(threshold);
  const overlaps = instanceOverlaps(pred, truth);
  const pairs = overlaps.pairs.map((e) => ({
    truth: overlaps.truthIds[e.truth]!,
    pred: overlaps.predIds[e.pred]!,
    iou: e.iou,
  }));
  return { ...matchAt(overlaps, threshold), pairs };
}

/** Counts and scores at one IoU threshold (ratios with a zero denominator are 1, see the module doc). */
export interface ThresholdScore {
  readonly threshold: number;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  /** tp / (tp + fp) */
  readonly precision: number;
  /** tp / (tp + fn) */
  readonly recall: number;
  /** 2 tp / (2 tp + fp + fn) */
  readonly f1: number;
  /** tp / (tp + fp + fn), the DSB 2018 per-threshold score (StarDist calls it accuracy) */
  readonly accuracy: number;
}

/** Scores of one image, or pooled over images (then `nImages` > 1 is possible). */
export interface Scores {
  readonly nTruth: number;
  readonly nPred: number;
  readonly byThreshold: readonly ThresholdScore[];
  /** Mean of `accuracy` over `byThreshold`. */
  readonly dsb: number;
  /** Figures at IoU 0.5, whatever the threshold list. */
  readonly at50: ThresholdScore;
  readonly precision_50: number;
  readonly recall_50: number;
  readonly f1_50: number;
}

const ratio = (a: number, b: number): number => (b === 0 ? 1 : a / b);

function thresholdScore(threshold: number, tp: number, fp: number, fn: number): ThresholdScore {
  return {
    threshold,
    tp,
    fp,
    fn,
    precision: ratio(tp, tp + fp),
    recall: ratio(tp, tp + fn),
    f1: ratio(2 * tp, 2 * tp + fp + fn),
    accuracy: ratio(tp, tp + fp + fn),
  };
}

function summarize(
  nTruth: number,
  nPred: number,
  byThreshold: ThresholdScore[],
  at50: ThresholdScore,
): Scores {
  const dsb = byThreshold.reduce((s, x) => s + x.accuracy, 0) / byThreshold.length;
  return {
    nTruth,
    nPred,
    byThreshold,
    dsb,
    at50,
    precision_50: at50.precision,
    recall_50: at50.recall,
    f1_50: at50.f1,
  };
}

/**
 * Scores `pred` against `truth` at each IoU threshold (default 0.5, 0.55, ..., 0.95), plus the figures
 * at 0.5. Throws ImageError 'shape-mismatch' for different shapes, 'bad-argument' for an empty threshold
 * list or a threshold outside (0, 1].
 */
export function scoreImage(
  pred: Labels,
  truth: Labels,
  thresholds: readonly number[] = DSB_THRESHOLDS,
): Scores {
  if (!Array.isArray(thresholds) || thresholds.length === 0) {
    throw new ImageError('bad-argument', 'thresholds must be a non-empty list of IoU values in (0, 1]');
  }
  thresholds.forEach(assertThreshold);
  const overlaps = instanceOverlaps(pred, truth);
  const score = (t: number): ThresholdScore => {
    const m = matchAt(overlaps, t);
    return thresholdScore(t, m.tp, m.fp, m.fn);
  };
  const byThreshold = thresholds.map(score);
  const at50 = byThreshold.find((s) => s.threshold === 0.5) ?? score(0.5);
  return summarize(overlaps.truthIds.length, overlaps.predIds.length, byThreshold, at50);
}

/** Pooled figures over several images, and the plain mean of the per-image figures. */
export interface PooledScores extends Scores {
  readonly nImages: number;
  /** Means over images of each image's own dsb / precision_50 / recall_50 / f1_50 (DSB 2018 = `dsb`). */
  readonly meanPerImage: {
    readonly dsb: number;
    readonly precision_50: number;
    readonly recall_50: number;
    readonly f1_50: number;
  };
}

/**
 * Pools per-image scores: tp, fp, fn are summed over images per threshold, then the same formulas apply
 * (so big images weigh more); `meanPerImage` averages each image's own figures instead.
 * Throws ImageError 'bad-argument' for an empty list or images scored at different thresholds.
 */
export function poolScores(perImage: readonly Scores[]): PooledScores {
  if (perImage.length === 0)
    throw new ImageError('bad-argument', 'poolScores needs at least one image score');
  const ts = perImage[0]!.byThreshold.map((s) => s.threshold);
  perImage.forEach((img, k) => {
    const mine = img.byThreshold.map((s) => s.threshold);
    if (mine.length !== ts.length || mine.some((t, j) => t !== ts[j])) {
      throw new ImageError(
        'bad-argument',
        `image ${k} was scored at thresholds [${mine.join(', ')}] but image 0 at [${ts.join(', ')}]`,
      );
    }
  });
  const sum = (f: (s: Scores) => number): number => perImage.reduce((a, s) => a + f(s), 0);
  const byThreshold = ts.map((t, j) =>
    thresholdScore(
      t,
      sum((s) => s.byThreshold[j]!.tp),
      sum((s) => s.byThreshold[j]!.fp),
      sum((s) => s.byThreshold[j]!.fn),
    ),
  );
  const at50 = thresholdScore(
    0.5,
    sum((s) => s.at50.tp),
    sum((s) => s.at50.fp),
    sum((s) => s.at50.fn),
  );
  const mean = (f: (s: Scores) => number): number => sum(f) / perImage.length;
  return {
    ...summarize(
      sum((s) => s.nTruth),
      sum((s) => s.nPred),
      byThreshold,
      at50,
    ),
    nImages: perImage.length,
    meanPerImage: {
      dsb: mean((s) => s.dsb),
      precision_50: mean((s) => s.precision_50),
      recall_50: mean((s) => s.recall_50),
      f1_50: mean((s) => s.f1_50),
    },
  };
}

function assertThreshold(t: number): void {
  if (typeof t !== 'number' || !(t > 0 && t <= 1)) {
    throw new ImageError('bad-argument', `IoU threshold must be in (0, 1], got ${String(t)}`);
  }
}

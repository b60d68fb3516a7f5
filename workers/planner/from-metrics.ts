/**
 * Stage costs from the live metrics: the mean of `kiosk_stage_duration_seconds` (sum / count of completed
 * stage jobs) per stage, read from the Prometheus text of one or more processes (`/metrics` of the workers,
 * concatenated). The kiosk's images of the period had `megapixels` on average, so each stage's mean becomes
 * `secondsPerMegapixel = mean / megapixels` (`secondsPerImage` 0) and scales with the planned image size.
 */
import { COSTS_FORMAT, CostsFormatError, type StageCosts } from './costs.js';

/** Pools of the kiosk's stages (workers/queues/names.ts). */
const STAGES = [
  { queue: 'preprocess', pool: 'cpu' },
  { queue: 'predict', pool: 'gpu' },
  { queue: 'postprocess', pool: 'cpu' },
] as const;

const SAMPLE = /^kiosk_stage_duration_seconds_(sum|count)\{([^}]*)\}\s+([-+0-9.eE]+|NaN|\+Inf)\s*$/;

function labels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

/** Sum and count of completed jobs per stage over every sample in `text` (all processes). */
export function stageTotals(text: string): Map<string, { sum: number; count: number }> {
  const totals = new Map<string, { sum: number; count: number }>();
  for (const line of text.split('\n')) {
    const m = SAMPLE.exec(line.trim());
    if (!m) continue;
    const l = labels(m[2]!);
    if (l.outcome !== 'completed' || !l.stage) continue;
    const t = totals.get(l.stage) ?? { sum: 0, count: 0 };
    const v = Number(m[3]);
    if (!Number.isFinite(v)) continue;
    if (m[1] === 'sum') t.sum += v;
    else t.count += v;
    totals.set(l.stage, t);
  }
  return totals;
}

export interface FromMetricsOptions {
  /** Mean megapixels of the images behind the metrics. */
  readonly megapixels: number;
  /** Where the text came from (URLs), for the file's `measured.by`. */
  readonly source: string;
  /** Worker start-up per pool (the metrics do not say). */
  readonly workerStartupSeconds: Readonly<Record<string, number>>;
  /** @default - now */
  readonly at?: string;
}

/** Builds a cost file; throws CostsFormatError naming the stages with no completed jobs in the metrics. */
export function costsFromMetrics(text: string, o: FromMetricsOptions): StageCosts {
  if (!(o.megapixels > 0) || !Number.isFinite(o.megapixels))
    throw new CostsFormatError(`megapixels must be a finite number > 0; got ${o.megapixels}`);
  const totals = stageTotals(text);
  const missing = STAGES.filter((s) => !(totals.get(s.queue)?.count ?? 0)).map((s) => s.queue);
  if (missing.length)
    throw new CostsFormatError(
      `the metrics have no completed ${missing.join(', ')} jobs (kiosk_stage_duration_seconds{stage, outcome="completed"}); scrape the workers that ran them`,
    );
  return {
    format: COSTS_FORMAT,
    measured: {
      at: o.at ?? new Date().toISOString(),
      by: `live metrics: ${o.source}`,
      notes:
        STAGES.map((s) => {
          const t = totals.get(s.queue)!;
          return `${s.queue}: ${t.count} jobs, mean ${(t.sum / t.count).toFixed(3)} s`;
        }).join('; ') + `; images of ${o.megapixels} MP on average`,
    },
    stages: STAGES.map((s) => {
      const t = totals.get(s.queue)!;
      return {
        queue: s.queue,
        pool: s.pool,
        secondsPerImage: 0,
        secondsPerMegapixel: t.sum / t.count / o.megapixels,
      };
    }),
    workerStartupSeconds: { ...o.workerStartupSeconds },
  };
}

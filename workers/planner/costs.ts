/**
 * Measured per-stage costs: the planner's input, in a JSON file (format `cellkiosk-stage-costs/1`) written by
 * `kiosk plan --measure` (the real stages timed on this machine), by bench/planner.bench.ts (the trivial
 * stage), or by hand from the live metrics (`kiosk_stage_duration_seconds` sum/count per stage).
 *
 * ```json
 * {
 *   "format": "cellkiosk-stage-costs/1",
 *   "measured": { "at": "2026-11-25T17:40:00Z", "by": "kiosk plan --measure", "machine": "...", "notes": "..." },
 *   "stages": [
 *     { "queue": "preprocess", "pool": "cpu", "secondsPerImage": 0.004, "secondsPerMegapixel": 0.21 },
 *     { "queue": "predict", "pool": "gpu", "secondsPerImage": 0.01, "secondsPerMegapixel": 2.9 },
 *     { "queue": "postprocess", "pool": "cpu", "secondsPerImage": 0.003, "secondsPerMegapixel": 0.35 }
 *   ],
 *   "workerStartupSeconds": { "cpu": 1.6, "gpu": 1.6 }
 * }
 * ```
 * A stage of an image of M megapixels takes `secondsPerImage + secondsPerMegapixel × M` on one worker slot
 * (queue hops included). Stages run in the listed order, each on its pool. `workerStartupSeconds` is a worker
 * process's start → ready time (a pod's container start; node start-up is a separate planner input).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export const COSTS_FORMAT = 'cellkiosk-stage-costs/1';

export interface StageCost {
  /** BullMQ queue of the stage. */
  readonly queue: string;
  /** Pool whose workers run it. */
  readonly pool: string;
  readonly secondsPerImage: number;
  readonly secondsPerMegapixel: number;
  /** Jobs of this stage one worker runs at once. @default 1 */
  readonly concurrency?: number;
}

export interface StageCosts {
  readonly format: typeof COSTS_FORMAT;
  readonly measured: {
    readonly at: string;
    readonly by: string;
    readonly machine?: string;
    readonly notes?: string;
  };
  readonly stages: readonly StageCost[];
  /** pool → seconds from starting a worker process to its first job. */
  readonly workerStartupSeconds: Readonly<Record<string, number>>;
}

/** A cost file that does not fit the format; the message says which field and what was found. */
export class CostsFormatError extends Error {
  override readonly name = 'CostsFormatError';
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function nonNegative(where: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    throw new CostsFormatError(`${where} must be a finite number >= 0; got ${JSON.stringify(v)}`);
  return v;
}

/** Validates parsed JSON as StageCosts (throws CostsFormatError naming the bad field). */
export function parseStageCosts(json: unknown, source = 'costs'): StageCosts {
  if (!isObj(json)) throw new CostsFormatError(`${source}: expected a JSON object`);
  if (json.format !== COSTS_FORMAT)
    throw new CostsFormatError(
      `${source}: 'format' must be "${COSTS_FORMAT}"; got ${JSON.stringify(json.format)}`,
    );
  if (!isObj(json.measured) || typeof json.measured.at !== 'string' || typeof json.measured.by !== 'string')
    throw new CostsFormatError(
      `${source}: 'measured' must be an object with string 'at' and 'by' (when and how it was measured)`,
    );
  if (!Array.isArray(json.stages) || json.stages.length === 0)
    throw new CostsFormatError(`${source}: 'stages' must be a non-empty array`);
  const stages = json.stages.map((s: unknown, i: number): StageCost => {
    const at = `${source}: stages[${i}]`;
    if (!isObj(s) || typeof s.queue !== 'string' || typeof s.pool !== 'string')
      throw new CostsFormatError(`${at} must have string 'queue' and 'pool'`);
    const concurrency = s.concurrency === undefined ? 1 : s.concurrency;
    if (typeof concurrency !== 'number' || !Number.isInteger(concurrency) || concurrency < 1)
      throw new CostsFormatError(
        `${at}.concurrency must be an integer >= 1; got ${JSON.stringify(s.concurrency)}`,
      );
    return {
      queue: s.queue,
      pool: s.pool,
      secondsPerImage: nonNegative(`${at}.secondsPerImage`, s.secondsPerImage),
      secondsPerMegapixel: nonNegative(`${at}.secondsPerMegapixel`, s.secondsPerMegapixel),
      concurrency,
    };
  });
  if (!isObj(json.workerStartupSeconds))
    throw new CostsFormatError(`${source}: 'workerStartupSeconds' must be an object pool → seconds`);
  const workerStartupSeconds: Record<string, number> = {};
  for (const [k, v] of Object.entries(json.workerStartupSeconds))
    workerStartupSeconds[k] = nonNegative(`${source}: workerStartupSeconds.${k}`, v);
  for (const s of stages)
    if (!(s.pool in workerStartupSeconds))
      throw new CostsFormatError(
        `${source}: workerStartupSeconds has no entry for pool '${s.pool}' (stage ${s.queue})`,
      );
  return {
    format: COSTS_FORMAT,
    measured: {
      at: json.measured.at,
      by: json.measured.by,
      ...(typeof json.measured.machine === 'string' ? { machine: json.measured.machine } : {}),
      ...(typeof json.measured.notes === 'string' ? { notes: json.measured.notes } : {}),
    },
    stages,
    workerStartupSeconds,
  };
}

/** Reads and validates a cost file. */
export async function loadStageCosts(path: string): Promise<StageCosts> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CostsFormatError(`cannot read cost file ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CostsFormatError(`${path} is not JSON: ${(err as Error).message}`);
  }
  return parseStageCosts(json, path);
}

/** The costs shipped with the project (measured on the development machine; see the file's `measured`). */
export const DEFAULT_COSTS_FILE = fileURLToPath(new URL('./default-costs.json', import.meta.url));

/** Seconds one stage takes for an image of `megapixels`. */
export function stageSeconds(s: StageCost, megapixels: number): number {
  return s.secondsPerImage + s.secondsPerMegapixel * megapixels;
}

/** Costs with one pool's stages sped up `factor`× (e.g. a GPU's speed-up over the CPU the costs came from). */
export function withSpeedup(c: StageCosts, pool: string, factor: number): StageCosts {
  if (!(factor > 0) || !Number.isFinite(factor))
    throw new RangeError(`speed-up must be a finite number > 0; got ${factor}`);
  return {
    ...c,
    stages: c.stages.map((s) =>
      s.pool === pool
        ? {
            ...s,
            secondsPerImage: s.secondsPerImage / factor,
            secondsPerMegapixel: s.secondsPerMegapixel / factor,
          }
        : s,
    ),
  };
}

/**
 * Autoscaler configuration: the pools, their queues and limits, and the timing knobs, from environment
 * variables (the cluster's autoscaler pod) or flags (`kiosk autoscale`).
 *
 * Pool specs use the format the KioskChart writes (constructs/k8s/kiosk-chart.ts):
 *   `KIOSK_SCALE_CPU=preprocess,postprocess=kiosk-cpu-worker:0..8`
 *   `KIOSK_SCALE_GPU=predict,train=kiosk-gpu-worker:0..4`
 * i.e. `<queue>[,<queue>...]=<target>:<min>..<max>`; the target is the Deployment name (kubernetes driver)
 * and is ignored by the local driver.
 */
import type { PoolPolicy } from './policy.js';
import { validatePolicy } from './policy.js';

/** A pool to scale: its policy plus what the driver resizes. */
export interface ScaledPool extends PoolPolicy {
  /** Deployment name (kubernetes driver); the local driver starts `--pool <pool>` workers instead. */
  readonly target: string;
}

/** Timing knobs shared by all pools. */
export interface ScaleTiming {
  /** Time between decisions. @default 5000 */
  readonly intervalMs: number;
  /** No-work time before a pool goes to its minimum. @default 120000 (2 min) */
  readonly idleGraceMs: number;
  /** Scale-down stabilization window. @default 60000 (1 min) */
  readonly scaleDownStabilizationMs: number;
}

export const DEFAULT_TIMING: ScaleTiming = {
  intervalMs: 5000,
  idleGraceMs: 120_000,
  scaleDownStabilizationMs: 60_000,
};

/**
 * Default jobs per replica: a CPU worker runs one preprocess/postprocess at a time, so 2 queued jobs per
 * worker keeps it busy without over-scaling; a GPU worker batches tiles of several jobs (predict
 * concurrency 4), so it is given 8.
 */
export const DEFAULT_JOBS_PER_REPLICA = { cpu: 2, gpu: 8 } as const;

/** Most CPU worker processes of the local kiosk by default: half the cores, at least 1, at most 4. */
export const localCpuMax = (cores: number): number => Math.max(1, Math.min(4, Math.floor(cores / 2)));

/** Thrown for a malformed pool spec or timing value; the message quotes the bad text. */
export class AutoscalerConfigError extends Error {
  override readonly name = 'AutoscalerConfigError';
}

/** Parses `<queue>[,<queue>...]=<target>:<min>..<max>` (see the module comment). */
export function parsePoolSpec(
  pool: string,
  spec: string,
  timing: ScaleTiming = DEFAULT_TIMING,
  jobsPerReplica?: number,
): ScaledPool {
  const m =
    /^\s*([A-Za-z0-9_.-]+(?:\s*,\s*[A-Za-z0-9_.-]+)*)\s*=\s*([a-z0-9]([-a-z0-9]*[a-z0-9])?)\s*:\s*(\d+)\s*\.\.\s*(\d+)\s*$/.exec(
      spec,
    );
  if (!m)
    throw new AutoscalerConfigError(
      `pool '${pool}': spec ${JSON.stringify(spec)} is not '<queue>[,<queue>...]=<deployment>:<min>..<max>' (e.g. 'predict=kiosk-gpu-worker:0..4')`,
    );
  const queues = m[1]!.split(',').map((q) => q.trim());
  const policy: ScaledPool = {
    pool,
    target: m[2]!,
    queues,
    min: Number(m[4]),
    max: Number(m[5]),
    jobsPerReplica:
      jobsPerReplica ?? (pool === 'gpu' ? DEFAULT_JOBS_PER_REPLICA.gpu : DEFAULT_JOBS_PER_REPLICA.cpu),
    idleGraceMs: timing.idleGraceMs,
    scaleDownStabilizationMs: timing.scaleDownStabilizationMs,
  };
  try {
    validatePolicy(policy);
  } catch (err) {
    throw new AutoscalerConfigError(`${(err as Error).message} (spec ${JSON.stringify(spec)})`);
  }
  return policy;
}

/**
 * Adds the cross-pool look-ahead: a pool whose queue is fed by another pool's queue counts that queue's
 * jobs as upstream work. In the kiosk pipeline only the GPU pool looks ahead (preprocess → predict): GPU
 * nodes take minutes to start, so they are asked for while the CPU pool is still preprocessing. The CPU pool
 * does not count the predict backlog as future postprocess work: postprocess jobs arrive at the GPUs'
 * pace, and counting the whole backlog would hold every CPU worker up, mostly idle, for the whole run.
 */
export function withPipelineUpstream(
  pools: readonly ScaledPool[],
  feeds: Readonly<Record<string, string>> = PIPELINE_FEEDS,
): ScaledPool[] {
  return pools.map((p) => {
    const upstream = Object.entries(feeds)
      .filter(([, to]) => p.queues.includes(to))
      .map(([from]) => from)
      .filter((from) => !p.queues.includes(from))
      .map((queue) => ({ queue }));
    return upstream.length ? { ...p, upstream } : p;
  });
}

/** queue → the queue its jobs continue in, where the look-ahead applies (see withPipelineUpstream). */
export const PIPELINE_FEEDS: Readonly<Record<string, string>> = { preprocess: 'predict' };

function msFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, unit: 's' | 'ms'): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0)
    throw new AutoscalerConfigError(
      `${name} must be a number >= 0 (${unit === 's' ? 'seconds' : 'milliseconds'}); got ${JSON.stringify(raw)}`,
    );
  return unit === 's' ? v * 1000 : v;
}

/** The timing knobs from `KIOSK_SCALE_INTERVAL_S`, `KIOSK_SCALE_IDLE_GRACE_S`, `KIOSK_SCALE_DOWN_WINDOW_S`. */
export function timingFromEnv(env: NodeJS.ProcessEnv = process.env): ScaleTiming {
  const timing: ScaleTiming = {
    intervalMs: msFromEnv(env, 'KIOSK_SCALE_INTERVAL_S', DEFAULT_TIMING.intervalMs, 's'),
    idleGraceMs: msFromEnv(env, 'KIOSK_SCALE_IDLE_GRACE_S', DEFAULT_TIMING.idleGraceMs, 's'),
    scaleDownStabilizationMs: msFromEnv(
      env,
      'KIOSK_SCALE_DOWN_WINDOW_S',
      DEFAULT_TIMING.scaleDownStabilizationMs,
      's',
    ),
  };
  if (timing.intervalMs < 100)
    throw new AutoscalerConfigError(`KIOSK_SCALE_INTERVAL_S must be >= 0.1; got ${timing.intervalMs / 1000}`);
  return timing;
}

/**
 * Reads the pools from `KIOSK_SCALE_CPU` / `KIOSK_SCALE_GPU` (at least one must be set) and the timing from
 * `KIOSK_SCALE_INTERVAL_S`, `KIOSK_SCALE_IDLE_GRACE_S`, `KIOSK_SCALE_DOWN_WINDOW_S`.
 */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): {
  pools: ScaledPool[];
  timing: ScaleTiming;
} {
  const timing = timingFromEnv(env);
  const pools: ScaledPool[] = [];
  for (const [pool, name] of [
    ['cpu', 'KIOSK_SCALE_CPU'],
    ['gpu', 'KIOSK_SCALE_GPU'],
  ] as const) {
    const spec = env[name];
    if (spec) pools.push(parsePoolSpec(pool, spec, timing));
  }
  if (pools.length === 0)
    throw new AutoscalerConfigError(
      'no pools to scale: set KIOSK_SCALE_CPU and/or KIOSK_SCALE_GPU (e.g. KIOSK_SCALE_GPU=predict=kiosk-gpu-worker:0..4)',
    );
  return { pools: withPipelineUpstream(pools), timing };
}

/**
 * A cloud plan: the kiosk pipeline (preprocess and postprocess on the CPU pool, predict on the GPU pool)
 * with the autoscaler's defaults, measured stage costs, node start-up and release delays and a price table,
 * simulated by simulate.ts.
 */
import {
  DEFAULT_JOBS_PER_REPLICA,
  DEFAULT_TIMING,
  withPipelineUpstream,
  type ScaledPool,
} from '../autoscaler/config.js';
import { withSpeedup, type StageCosts } from './costs.js';
import type { ChosenPrices } from './prices.js';
import { simulate, type SimResult } from './simulate.js';

export interface PlanOptions {
  readonly images: number;
  readonly megapixels: number;
  readonly maxGpus: number;
  /** @default 8 (the KioskChart's default ceiling) */
  readonly maxCpuWorkers?: number;
  readonly costs: StageCosts;
  readonly prices: ChosenPrices;
  /** GPU pool stages run this many times faster than in the cost file (e.g. CPU-measured costs). @default 1 */
  readonly gpuSpeedup?: number;
  /** New GPU node → pods schedulable (VM boot, GPU driver install, image pull). @default 300 (assumed) */
  readonly gpuNodeStartupSeconds?: number;
  /** New CPU node → pods schedulable. @default 120 (assumed) */
  readonly cpuNodeStartupSeconds?: number;
  /** Empty node → removed: the cluster autoscaler's scale-down-unneeded-time. @default 600 (its default) */
  readonly nodeReleaseSeconds?: number;
  /** @default DEFAULT_TIMING (5 s interval, 120 s idle grace, 60 s scale-down window) */
  readonly intervalSeconds?: number;
  readonly idleGraceSeconds?: number;
  readonly scaleDownWindowSeconds?: number;
}

export interface PlanResult extends SimResult {
  readonly options: Required<Omit<PlanOptions, 'costs' | 'prices'>>;
}

export function planRun(o: PlanOptions): PlanResult {
  const opts = {
    images: o.images,
    megapixels: o.megapixels,
    maxGpus: o.maxGpus,
    maxCpuWorkers: o.maxCpuWorkers ?? 8,
    gpuSpeedup: o.gpuSpeedup ?? 1,
    gpuNodeStartupSeconds: o.gpuNodeStartupSeconds ?? 300,
    cpuNodeStartupSeconds: o.cpuNodeStartupSeconds ?? 120,
    nodeReleaseSeconds: o.nodeReleaseSeconds ?? 600,
    intervalSeconds: o.intervalSeconds ?? DEFAULT_TIMING.intervalMs / 1000,
    idleGraceSeconds: o.idleGraceSeconds ?? DEFAULT_TIMING.idleGraceMs / 1000,
    scaleDownWindowSeconds: o.scaleDownWindowSeconds ?? DEFAULT_TIMING.scaleDownStabilizationMs / 1000,
  };
  const costs = opts.gpuSpeedup === 1 ? o.costs : withSpeedup(o.costs, 'gpu', opts.gpuSpeedup);
  const common = {
    min: 0,
    idleGraceMs: opts.idleGraceSeconds * 1000,
    scaleDownStabilizationMs: opts.scaleDownWindowSeconds * 1000,
  };
  const [cpu, gpu] = withPipelineUpstream([
    {
      pool: 'cpu',
      target: 'kiosk-cpu-worker',
      queues: ['preprocess', 'postprocess'],
      max: opts.maxCpuWorkers,
      jobsPerReplica: DEFAULT_JOBS_PER_REPLICA.cpu,
      ...common,
    },
    {
      pool: 'gpu',
      target: 'kiosk-gpu-worker',
      queues: ['predict'],
      max: opts.maxGpus,
      jobsPerReplica: DEFAULT_JOBS_PER_REPLICA.gpu,
      ...common,
    },
  ] satisfies ScaledPool[]);
  const startup = (pool: string) => costs.workerStartupSeconds[pool] ?? 0;
  const result = simulate({
    images: opts.images,
    megapixels: opts.megapixels,
    stages: costs.stages,
    intervalSeconds: opts.intervalSeconds,
    fixedPricePerHour: o.prices.fixedPerHour,
    pools: [
      {
        policy: cpu!,
        nodeStartupSeconds: opts.cpuNodeStartupSeconds,
        workerStartupSeconds: startup('cpu'),
        nodeReleaseSeconds: opts.nodeReleaseSeconds,
        pricePerNodeHour: o.prices.cpuNode.price,
      },
      {
        policy: gpu!,
        nodeStartupSeconds: opts.gpuNodeStartupSeconds,
        workerStartupSeconds: startup('gpu'),
        nodeReleaseSeconds: opts.nodeReleaseSeconds,
        pricePerNodeHour: o.prices.gpuNode.price,
      },
    ],
  });
  return { ...result, options: opts };
}

/** "5 h 31 min", "12 min 5 s", "42 s". */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds - m * 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m - h * 60} min`;
  return `${(seconds / 86_400).toFixed(1)} days`;
}

/**
 * The Prometheus metrics of every kiosk process (API, workers, autoscaler), on one prom-client registry per
 * process. Names follow Prometheus conventions (`_seconds`, `_total`, base units); the label sets are
 * closed (queue names, stage names, pool names, Kiosk statuses) so cardinality stays bounded.
 *
 * | metric | type | labels | filled by |
 * |---|---|---|---|
 * | `kiosk_queue_jobs` | gauge | queue, state | `trackQueues` (read from BullMQ at scrape time) |
 * | `kiosk_jobs` | gauge | status | `trackJobStatuses` (user-visible Kiosk jobs, read at scrape time) |
 * | `kiosk_stage_duration_seconds` | histogram | stage, outcome | `instrumentWorker` / `observeStage` |
 * | `kiosk_stage_jobs_total` | counter | stage, outcome | same (throughput = rate of outcome="completed") |
 * | `kiosk_inference_seconds` | histogram | model | `observeInference` (one model call) |
 * | `kiosk_inference_batch_tiles` | histogram | model | `observeInference` (tiles in that call) |
 * | `kiosk_autoscaler_replicas` | gauge | pool, kind=desired/actual | `recordScaleDecision` or `trackAutoscaler` |
 * | `kiosk_autoscaler_decisions_total` | counter | pool, action | `recordScaleDecision` or `trackAutoscaler` |
 * | `kiosk_autoscaler_work` | gauge | pool | same (jobs the policy counted) |
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** BullMQ job states counted per queue (the autoscaler reads the same ones). */
export const QUEUE_STATES = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'completed',
  'failed',
] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/** How a stage job ended: `completed`; `failed` (final, no retry left); `retried` (failed, will run again). */
export type StageOutcome = 'completed' | 'failed' | 'retried';

/** Buckets of stage durations (s): 5 ms .. 30 min, for trivial test stages up to huge images. */
export const STAGE_BUCKETS_S = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800,
];
/** Buckets of one model call (s). */
export const INFERENCE_BUCKETS_S = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Buckets of tiles per model call. */
export const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128];

/** A queue (or anything) that can report BullMQ job counts by state — `bullmq.Queue` fits. */
export interface CountSource {
  readonly name: string;
  getJobCounts(...states: QueueState[]): Promise<Record<string, number>>;
}

export interface KioskMetrics {
  readonly registry: Registry;
  readonly queueJobs: Gauge<'queue' | 'state'>;
  readonly jobs: Gauge<'status'>;
  readonly stageDuration: Histogram<'stage' | 'outcome'>;
  readonly stageJobs: Counter<'stage' | 'outcome'>;
  readonly inferenceSeconds: Histogram<'model'>;
  readonly inferenceBatchTiles: Histogram<'model'>;
  readonly autoscalerReplicas: Gauge<'pool' | 'kind'>;
  readonly autoscalerDecisions: Counter<'pool' | 'action'>;
  readonly autoscalerWork: Gauge<'pool'>;
  /** Sources read at each scrape (see `trackQueues`, `trackJobStatuses`). */
  readonly sources: {
    queues: CountSource[];
    statuses: (() => Promise<Record<string, number>>)[];
    autoscaler: (() => Promise<AutoscalerPools | undefined>)[];
  };
}

/**
 * An autoscaler's last state per pool as another process reads it (e.g. the API from Redis, see
 * workers/autoscaler/decision-store.ts): replicas, work counted and decisions so far by action.
 */
export type AutoscalerPools = readonly {
  readonly pool: string;
  readonly desired: number;
  readonly actual: number;
  readonly work: number;
  readonly decisions: Readonly<Record<'up' | 'down' | 'hold', number>>;
}[];

export interface KioskMetricsOptions {
  /** Registry to register on. @default - a new Registry */
  readonly registry?: Registry;
  /** Also collect Node's default process metrics (CPU, memory, event loop lag). @default false */
  readonly defaultMetrics?: boolean;
  /** Label added to every metric, e.g. `{ process: 'gpu-worker' }`. @default - none */
  readonly defaultLabels?: Record<string, string>;
  /** Where scrape-time read failures go (a down Redis must not fail the scrape). @default - ignored */
  readonly onError?: (err: unknown) => void;
}

/** Creates the kiosk metrics on a registry (a fresh one unless given). */
export function createKioskMetrics(o: KioskMetricsOptions = {}): KioskMetrics {
  const registry = o.registry ?? new Registry();
  if (o.defaultLabels) registry.setDefaultLabels(o.defaultLabels);
  if (o.defaultMetrics) collectDefaultMetrics({ register: registry });
  const onError = o.onError ?? (() => undefined);
  const sources: KioskMetrics['sources'] = { queues: [], statuses: [], autoscaler: [] };
  // Autoscaler state read at scrape time (only where trackAutoscaler was called; the autoscaler's own
  // process sets these metrics directly through recordScaleDecision). One read per scrape, shared by the
  // three metrics.
  let autoscalerRead: Promise<AutoscalerPools> | undefined;
  const readAutoscaler = (): Promise<AutoscalerPools> => {
    autoscalerRead ??= Promise.all(
      sources.autoscaler.map((read) =>
        read().catch((err: unknown) => {
          onError(err);
          return undefined;
        }),
      ),
    )
      .then((all) => all.flatMap((pools) => pools ?? []))
      .finally(() => setImmediate(() => (autoscalerRead = undefined)));
    return autoscalerRead;
  };
  const registers = [registry];

  const queueJobs = new Gauge({
    name: 'kiosk_queue_jobs',
    help: 'BullMQ jobs per queue and state, read at scrape time',
    labelNames: ['queue', 'state'] as const,
    registers,
    async collect() {
      await Promise.all(
        sources.queues.map(async (q) => {
          try {
            const counts = await q.getJobCounts(...QUEUE_STATES);
            for (const state of QUEUE_STATES) this.set({ queue: q.name, state }, counts[state] ?? 0);
          } catch (err) {
            onError(err);
          }
        }),
      );
    },
  });
  const jobs = new Gauge({
    name: 'kiosk_jobs',
    help: 'User-visible Kiosk jobs by status, read at scrape time',
    labelNames: ['status'] as const,
    registers,
    async collect() {
      for (const read of sources.statuses) {
        try {
          for (const [status, n] of Object.entries(await read())) this.set({ status }, n);
        } catch (err) {
          onError(err);
        }
      }
    },
  });
  return {
    registry,
    sources,
    queueJobs,
    jobs,
    stageDuration: new Histogram({
      name: 'kiosk_stage_duration_seconds',
      help: 'Time one pipeline stage job ran on a worker (processedOn to finishedOn)',
      labelNames: ['stage', 'outcome'] as const,
      buckets: STAGE_BUCKETS_S,
      registers,
    }),
    stageJobs: new Counter({
      name: 'kiosk_stage_jobs_total',
      help: 'Stage jobs that ended, by outcome (completed / failed for good / retried)',
      labelNames: ['stage', 'outcome'] as const,
      registers,
    }),
    inferenceSeconds: new Histogram({
      name: 'kiosk_inference_seconds',
      help: 'Time of one model call',
      labelNames: ['model'] as const,
      buckets: INFERENCE_BUCKETS_S,
      registers,
    }),
    inferenceBatchTiles: new Histogram({
      name: 'kiosk_inference_batch_tiles',
      help: 'Tiles in one model call',
      labelNames: ['model'] as const,
      buckets: BATCH_BUCKETS,
      registers,
    }),
    autoscalerReplicas: new Gauge({
      name: 'kiosk_autoscaler_replicas',
      help: 'Worker replicas per pool: desired (the policy) and actual (the driver) at the last decision',
      labelNames: ['pool', 'kind'] as const,
      registers,
      async collect() {
        if (sources.autoscaler.length === 0) return;
        this.reset();
        for (const p of await readAutoscaler()) {
          this.set({ pool: p.pool, kind: 'desired' }, p.desired);
          this.set({ pool: p.pool, kind: 'actual' }, p.actual);
        }
      },
    }),
    autoscalerDecisions: new Counter({
      name: 'kiosk_autoscaler_decisions_total',
      help: 'Autoscaler decisions per pool by action (up / down / hold)',
      labelNames: ['pool', 'action'] as const,
      registers,
      async collect() {
        if (sources.autoscaler.length === 0) return;
        this.reset();
        for (const p of await readAutoscaler())
          for (const [action, n] of Object.entries(p.decisions)) this.inc({ pool: p.pool, action }, n);
      },
    }),
    autoscalerWork: new Gauge({
      name: 'kiosk_autoscaler_work',
      help: 'Jobs the autoscaler policy counted as work for a pool at the last decision',
      labelNames: ['pool'] as const,
      registers,
      async collect() {
        if (sources.autoscaler.length === 0) return;
        this.reset();
        for (const p of await readAutoscaler()) this.set({ pool: p.pool }, p.work);
      },
    }),
  };
}

let processMetrics: KioskMetrics | undefined;

/**
 * The metrics of this process: created on first use (with Node's default metrics), shared by everything
 * running in it, so the API's `/metrics` also shows an autoscaler or worker running in the same process.
 */
export function kioskMetrics(): KioskMetrics {
  processMetrics ??= createKioskMetrics({ defaultMetrics: true });
  return processMetrics;
}

/** Reports these queues' job counts on `kiosk_queue_jobs` at every scrape. */
export function trackQueues(m: KioskMetrics, queues: readonly CountSource[]): void {
  for (const q of queues) if (!m.sources.queues.includes(q)) m.sources.queues.push(q);
}

/** Reports user job counts by status (e.g. from the job records) on `kiosk_jobs` at every scrape. */
export function trackJobStatuses(m: KioskMetrics, read: () => Promise<Record<string, number>>): void {
  m.sources.statuses.push(read);
}

/**
 * Reports an autoscaler that runs elsewhere (its state read at every scrape, e.g. from Redis) on
 * `kiosk_autoscaler_replicas`, `kiosk_autoscaler_work` and `kiosk_autoscaler_decisions_total`. Nothing
 * read (no autoscaler running): the three metrics have no samples.
 */
export function trackAutoscaler(m: KioskMetrics, read: () => Promise<AutoscalerPools | undefined>): void {
  m.sources.autoscaler.push(read);
}

/** Records one ended stage job. `seconds` < 0 or NaN is ignored for the histogram (the count still goes up). */
export function observeStage(m: KioskMetrics, stage: string, outcome: StageOutcome, seconds: number): void {
  m.stageJobs.inc({ stage, outcome });
  if (Number.isFinite(seconds) && seconds >= 0) m.stageDuration.observe({ stage, outcome }, seconds);
}

/** Records one model call: its time and the tiles in it. */
export function observeInference(m: KioskMetrics, model: string, seconds: number, tiles: number): void {
  if (Number.isFinite(seconds) && seconds >= 0) m.inferenceSeconds.observe({ model }, seconds);
  if (Number.isFinite(tiles) && tiles > 0) m.inferenceBatchTiles.observe({ model }, tiles);
}

/** What the autoscaler reports per pool and decision (see workers/autoscaler/policy.ts). */
export interface ScaleDecisionSample {
  readonly pool: string;
  readonly desired: number;
  readonly actual: number;
  readonly work: number;
  readonly action: 'up' | 'down' | 'hold';
}

export function recordScaleDecision(m: KioskMetrics, d: ScaleDecisionSample): void {
  m.autoscalerReplicas.set({ pool: d.pool, kind: 'desired' }, d.desired);
  m.autoscalerReplicas.set({ pool: d.pool, kind: 'actual' }, d.actual);
  m.autoscalerWork.set({ pool: d.pool }, d.work);
  m.autoscalerDecisions.inc({ pool: d.pool, action: d.action });
}

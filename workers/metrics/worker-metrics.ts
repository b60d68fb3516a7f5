/**
 * Hooks a BullMQ worker's events to the stage metrics: every ended job observes
 * `kiosk_stage_duration_seconds` (processedOn → finishedOn, or → now for a failed attempt that will be
 * retried) and counts `kiosk_stage_jobs_total{stage, outcome}`. The stage label is the job's name
 * (`preprocess`, `predict`, `postprocess`, `pack`), so one worker serving two job names reports both.
 */
import type { Job, Worker } from 'bullmq';
import { observeStage, type KioskMetrics, type StageOutcome } from './kiosk-metrics.js';

/** What of a BullMQ job the metrics read (so tests can pass plain objects). */
export type EndedJob = Pick<Job, 'name' | 'processedOn' | 'finishedOn'>;

/**
 * Seconds a job ran and how it ended. A failed job without `finishedOn` is going to be retried (BullMQ
 * sets `finishedOn` only when a job reaches its final state). A job with no `processedOn` → NaN seconds.
 */
export function stageSample(
  job: EndedJob,
  failed: boolean,
  nowMs = Date.now(),
): { outcome: StageOutcome; seconds: number } {
  const outcome: StageOutcome = !failed ? 'completed' : job.finishedOn ? 'failed' : 'retried';
  const end = job.finishedOn ?? nowMs;
  const seconds = job.processedOn ? (end - job.processedOn) / 1000 : Number.NaN;
  return { outcome, seconds };
}

/** Subscribes the metrics to `worker`'s `completed` and `failed` events; returns a function that unsubscribes. */
export function instrumentWorker(m: KioskMetrics, worker: Pick<Worker, 'on' | 'off'>): () => void {
  const completed = (job: Job) => {
    const s = stageSample(job, false);
    observeStage(m, job.name, s.outcome, s.seconds);
  };
  const failed = (job: Job | undefined) => {
    if (!job) return;
    const s = stageSample(job, true);
    observeStage(m, job.name, s.outcome, s.seconds);
  };
  worker.on('completed', completed);
  worker.on('failed', failed);
  return () => {
    worker.off('completed', completed);
    worker.off('failed', failed);
  };
}

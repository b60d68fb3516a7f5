import { WaitingChildrenError, type Job } from 'bullmq';
import type { ModelRegistry } from '../registry/registry.js';
import { BadInputError, classifyError, isFinalFailure } from '../queues/errors.js';
import type { ImageJobData } from '../queues/payloads.js';
import type { JobRecord, JobRecords } from '../queues/records.js';
import type { JobSubmitter } from '../queues/submit.js';
import type { Storage } from '../storage/storage.js';
import type { TileBatcher } from './batcher.js';
import type { ComputeSlot } from './compute-slot.js';
import type { SegmentationStages, StageOptions } from './stages.js';
import { jobTypeRegistry } from '../jobtypes/registry.js';
import type { JobStages, JobTypeDefinition } from '../jobtypes/types.js';

/** What every processor gets: where data lives, where state lives, the model registry and the stages. */
export interface WorkerContext {
  readonly storage: Storage;
  readonly records: JobRecords;
  readonly registry: ModelRegistry;
  readonly stages: SegmentationStages;
  /** Adds second-pass stages (autoscale) to a running postprocess job. */
  readonly submitter: JobSubmitter;
  /** Largest decoded image accepted, in values (H·W·C·Z...). */
  readonly maxPixels: number;
  /** Most pages (TIFF IFDs) in one image file. @default - the decoder's, 10,000 */
  readonly maxFrames?: number;
  /** Tiles per model call in the predict worker's batcher. */
  readonly maxBatchTiles: number;
  /** One batcher per loaded model in this process (the predict worker fills it). */
  readonly batchers: Map<string, TileBatcher>;
  /** Where processors report what they could not put on a job (background failures). */
  readonly log: (msg: string) => void;
  /**
   * The CPU stages' compute runs one job at a time in this process (startPool gives the cpu pool one).
   * @default - none: each job computes as soon as it runs
   */
  readonly computeSlot?: ComputeSlot;
}

/** Runs a stage's compute (its reads, math and writes) in the process's compute slot, if it has one. */
export function inComputeSlot<T>(ctx: WorkerContext, body: () => Promise<T>): Promise<T> {
  return ctx.computeSlot ? ctx.computeSlot.run(body) : body();
}

/** A typed BullMQ processor of one stage (`token` is the job's lock, for moveToWaitingChildren). */
export type Processor<Data, Result> = (job: Job<Data, Result>, token?: string) => Promise<Result>;

/**
 * The stages of `data`'s job type (workers/jobtypes) over this worker's model stages. A type no folder
 * defines (removed since the job was submitted) fails the job, naming the types there are.
 */
export async function jobTypeFor(
  ctx: WorkerContext,
  data: ImageJobData,
): Promise<{ readonly def: JobTypeDefinition; readonly stages: JobStages }> {
  const registry = await jobTypeRegistry();
  const def = registry.find(data.type ?? DEFAULT_JOB_TYPE);
  if (!def)
    throw new BadInputError(
      'unknown-job-type',
      `unknown job type ${JSON.stringify(data.type)}; available: ${registry.names().join(', ')}`,
    );
  return { def, stages: registry.stagesOf(def, ctx.stages) };
}

/** {@link jobTypeFor}'s stages. */
export const stagesFor = async (ctx: WorkerContext, data: ImageJobData): Promise<JobStages> =>
  (await jobTypeFor(ctx, data)).stages;

/** The type of a job whose stage data names none (queued before job types travelled with it). */
export const DEFAULT_JOB_TYPE = 'segmentation';

export function stageOptions(ctx: WorkerContext, data: ImageJobData): StageOptions {
  return {
    ...data.options,
    maxPixels: ctx.maxPixels,
    ...(ctx.maxFrames !== undefined ? { maxFrames: ctx.maxFrames } : {}),
  };
}

/**
 * Runs one stage of an image job with the shared rules: a cancelled job stops before its stage starts; an
 * error is classified (bad input → unrecoverable with a reason, anything else → retried with backoff);
 * when BullMQ will not retry, the job's record turns `failed` with the reason.
 */
export async function runStage<R>(
  ctx: WorkerContext,
  job: Job<{ readonly jobId: string }>,
  body: () => Promise<R>,
): Promise<R> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof WaitingChildrenError) throw err; // not a failure: the job runs again after its children
    const classified = modelRemoved(classifyError(err), job.data);
    if (isFinalFailure(classified, job.attemptsMade, job.opts.attempts ?? 1)) {
      const reason = `${job.name}: ${classified.message}`;
      await ctx.records
        .finish(job.data.jobId, 'failed', { reason })
        .catch((e: unknown) => ctx.log(`record ${job.data.jobId}: ${String(e)}`));
      await ctx.storage.deletePrefix(`scratch/${job.data.jobId}/`).catch(() => undefined);
      recorded.add(classified);
    }
    throw classified;
  }
}

/** Errors whose job record runStage already finished as failed (the pool's `failed` handler skips them). */
const recorded = new WeakSet<Error>();

/** True when runStage already recorded this final failure on the job's record. */
export const failureRecorded = (err: Error): boolean => recorded.has(err);

/**
 * The API checked the job's model when it accepted the job, so a model or version the registry no longer
 * knows was removed since: say so (the registry's message lists what is left).
 */
function modelRemoved(err: Error, jobData: { readonly jobId: string }): Error {
  const data = jobData as Partial<ImageJobData>;
  const code = (err as { code?: string }).code;
  if (
    !(err instanceof BadInputError) ||
    !data.model ||
    (code !== 'unknown-model' && code !== 'unknown-model-version')
  )
    return err;
  const { name, version } = data.model;
  return new BadInputError(
    'model-removed',
    `model ${name} version ${version} was removed after this job was submitted (${err.message})`,
  );
}

/**
 * Records that a stage starts (status, progress...; `via`: statuses passed on the way, see
 * JobRecords.update). Throws BadInputError('cancelled') when the job is already final — cancelled by the
 * user, or failed elsewhere — so the stage does no work for nothing.
 */
export async function enterStage(
  ctx: WorkerContext,
  jobId: string,
  fields: Partial<JobRecord>,
  via?: Parameters<JobRecords['update']>[2],
): Promise<void> {
  if (!(await ctx.records.update(jobId, fields, via))) {
    throw new BadInputError('cancelled', 'the job was cancelled or has failed already; stage skipped');
  }
}

/**
 * A promise to await later, whose rejection is caught at once: it must not count as unhandled while the
 * caller works on (Node stops the process on an unhandled rejection). `await later()` gives its result or
 * throws its error.
 */
export function awaitLater<T>(p: Promise<T>): () => Promise<T> {
  const outcome = p.then(
    (value) => ({ value }),
    (err: unknown) => ({ err }),
  );
  return async () => {
    const o = await outcome;
    if ('err' in o) throw o.err;
    return o.value;
  };
}

/**
 * enterStage started now and awaited later (`await entered()`), so the stage's first work — reading its
 * input, the math — runs while the record update is on its way to Redis instead of after its round trip
 * (the CPU worker is the pipeline's busiest process: every wait in it is time the whole pipeline loses).
 * Await it before the stage changes anything (a write, a record update): a cancelled job then stops there.
 */
export function enterStageSoon(
  ctx: WorkerContext,
  jobId: string,
  fields: Partial<JobRecord>,
  via?: Parameters<JobRecords['update']>[2],
): () => Promise<void> {
  return awaitLater(enterStage(ctx, jobId, fields, via));
}

export const seconds = (ms: number) => Math.round(ms) / 1000;

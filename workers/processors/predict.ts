import { keys } from '../queues/names.js';
import type { ImageJobData, StageResult } from '../queues/payloads.js';
import { TileBatcher } from './batcher.js';
import type { JobRecord } from '../queues/records.js';
import {
  enterStageSoon,
  runStage,
  seconds,
  stagesFor,
  type Processor,
  type WorkerContext,
} from './context.js';
import { BadInputError } from '../queues/errors.js';
import type { ModelVersion } from '../registry/registry.js';
import type { ModelAccess, PreparedImage } from './stages.js';
import { packTensorParts, unpackTensors } from './tensor-pack.js';

/** Stage times on their way to the record (postprocess writes them with its first record update). */
export type StageTimes = Partial<
  Pick<JobRecord, 'preprocess_time' | 'prediction_time' | 'download_time' | 'predict_retries'>
>;

/**
 * What predict leaves in scratch for postprocess: the model outputs, the tiles' untiling metadata, and the
 * times of preprocess and predict.
 */
export interface PredictedImage {
  readonly outputs: unknown;
  readonly meta: unknown;
  readonly times?: StageTimes;
}

/**
 * Stage 2 (gpu pool): tiles → model head maps in scratch. All predict jobs of this process share one
 * TileBatcher per model, so with worker concurrency > 1 the tiles of several jobs run in one model call.
 */
export function predictProcessor(ctx: WorkerContext): Processor<ImageJobData, StageResult> {
  return (job) =>
    runStage(ctx, job, async () => {
      const t0 = performance.now();
      const { jobId } = job.data;
      const pass = job.data.pass ?? 1;
      const entered = enterStageSoon(ctx, jobId, { status: 'predicting', progress: pass === 1 ? 30 : 85 });
      let model, tiles;
      try {
        model = await ctx.registry.resolve(job.data.model.name, job.data.model.version);
        tiles = await ctx.storage.get(keys.tiles(jobId, pass));
      } finally {
        await entered(); // a cancelled job stops here, before it loads a model (and says so)
      }
      const batcher = await batcherFor(ctx, model);
      // Views into the bytes read, not copies: they are read once, here.
      const prepared = unpackTensors<PreparedImage & { times?: StageTimes }>(tiles, { copy: false });
      const stages = await stagesFor(ctx, job.data);
      const outputs = await stages.predict(prepared, batcher.runner(), model.card, modelAccess(ctx));
      const key = keys.outputs(jobId, pass);
      const ms = performance.now() - t0;
      // attemptsMade: this stage's earlier attempts that failed (BullMQ counts them when it retries)
      const times = { ...prepared.times, prediction_time: seconds(ms), predict_retries: job.attemptsMade };
      await ctx.storage.put(
        key,
        packTensorParts({ outputs, meta: prepared.meta, times } satisfies PredictedImage),
      );
      return { key, ms };
    });
}

/** The process's TileBatcher of `model` (made on first use; concurrent first uses end up sharing one). */
async function batcherFor(ctx: WorkerContext, model: ModelVersion): Promise<TileBatcher> {
  const id = `${model.name}@${model.version}`;
  let batcher = ctx.batchers.get(id);
  if (!batcher) {
    batcher = new TileBatcher(await ctx.registry.runner(model), ctx.maxBatchTiles);
    if (!ctx.batchers.has(id)) ctx.batchers.set(id, batcher);
    batcher = ctx.batchers.get(id)!;
  }
  return batcher;
}

/**
 * Other models the stages may run in this stage (whole-cell's cellModel): resolved by the registry (which
 * the API checked when it accepted the job) and batched like the job's own model.
 */
function modelAccess(ctx: WorkerContext): ModelAccess {
  return {
    async load(name, version) {
      const model = await ctx.registry.resolve(name, version).catch((err: unknown) => {
        if (!(err instanceof BadInputError)) throw err;
        throw new BadInputError(
          'model-removed',
          `model ${name}${version ? `@${version}` : ''} (a second model of this job) was removed after the job was submitted (${err.message})`,
        );
      });
      return { runner: (await batcherFor(ctx, model)).runner(), card: model.card };
    },
  };
}

import { keys } from '../queues/names.js';
import type { ImageJobData, StageResult } from '../queues/payloads.js';
import {
  enterStageSoon,
  inComputeSlot,
  runStage,
  seconds,
  stageOptions,
  stagesFor,
  type Processor,
  type WorkerContext,
} from './context.js';
import { packTensorParts } from './tensor-pack.js';

/**
 * Stage 1 (cpu pool): input bytes → decoded, channel-selected, rescaled, normalized tiles (with their
 * untiling metadata) in scratch.
 */
export function preprocessProcessor(ctx: WorkerContext): Processor<ImageJobData, StageResult> {
  return (job) =>
    runStage(ctx, job, async () => {
      const { jobId, inputKey, name } = job.data;
      const pass = job.data.pass ?? 1;
      // The first pass starts the job: `started` then `pre-processing` in one record write (both events).
      const entered =
        pass === 1
          ? enterStageSoon(
              ctx,
              jobId,
              { status: 'pre-processing', started_at: new Date().toISOString(), progress: 5 },
              [{ status: 'started', progress: 1 }],
            )
          : enterStageSoon(ctx, jobId, { status: 'pre-processing', progress: 80 });
      // The compute — read, decode, tiles, write — takes its turn in this process's slot; the stage's time
      // counts from its turn, not from the wait for it.
      return inComputeSlot(ctx, async () => {
        const t0 = performance.now();
        let prepared;
        let downloadMs = 0;
        try {
          const model = await ctx.registry.resolve(job.data.model.name, job.data.model.version);
          const t1 = performance.now();
          const bytes = await ctx.storage.get(inputKey);
          downloadMs = performance.now() - t1;
          const stages = await stagesFor(ctx, job.data);
          prepared = await stages.preprocess(
            bytes,
            name,
            model.card,
            stageOptions(ctx, job.data),
            job.data.scale,
          );
        } catch (err) {
          await entered(); // a cancelled job says so, not why its input could not be read
          throw err;
        }
        await entered();
        // One scratch object: the tiles for predict and the untiling metadata, which predict passes on, and
        // this stage's time, which postprocess records with predict's (one record write for the three
        // stages' times instead of one per stage).
        const key = keys.tiles(jobId, pass);
        const ms = performance.now() - t0;
        await ctx.storage.put(
          key,
          packTensorParts({
            ...prepared,
            meta: prepared.meta ?? null,
            times: { preprocess_time: seconds(ms), download_time: seconds(downloadMs) },
          }),
        );
        return { key, ms };
      });
    });
}

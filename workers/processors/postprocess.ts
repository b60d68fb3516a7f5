import type { HeadMaps } from '../model/runners.js';
import { countObjects } from '../image/labels.js';
import { fileStem, keys } from '../queues/names.js';
import type { ImageJobData, StageResult } from '../queues/payloads.js';
import { zipFiles } from './archive.js';
import { runStage, seconds, stageOptions, type Processor, type WorkerContext } from './context.js';
import { unpackTensors } from './tensor-pack.js';

/**
 * Stage 3 (cpu pool): head maps → label image → `<stem>_feature_0.tif` and `<stem>.zip` (the Kiosk's result
 * layout) under results/<lab>/<job>/. Result keys depend only on the job, so a retry overwrites them.
 */
export function postprocessProcessor(ctx: WorkerContext): Processor<ImageJobData, StageResult> {
  return (job) =>
    runStage(ctx, job, async () => {
      const t0 = performance.now();
      const { jobId, lab, name } = job.data;
      await ctx.records.update(jobId, { status: 'post-processing', progress: 75 });
      const model = await ctx.registry.resolve(job.data.model.name, job.data.model.version);
      const [metaBytes, outBytes] = await Promise.all([
        ctx.storage.get(keys.meta(jobId)),
        ctx.storage.get(keys.outputs(jobId)),
      ]);
      const outputs = unpackTensors<HeadMaps>(outBytes);
      const labels = await ctx.stages.postprocess(
        outputs,
        unpackTensors(metaBytes),
        model.card,
        stageOptions(ctx, job.data),
      );
      await ctx.records.update(jobId, { status: 'saving-results', progress: 90 });
      const tif = ctx.stages.encodeLabels(labels);
      const stem = fileStem(name);
      const tifName = `${stem}_feature_0.tif`;
      const labelsKey = keys.result(lab, jobId, tifName);
      const outputKey = keys.result(lab, jobId, `${stem}.zip`);
      await ctx.storage.put(labelsKey, tif);
      await ctx.storage.put(outputKey, zipFiles([[tifName, tif]]));
      await ctx.storage.deletePrefix(keys.scratch(jobId));
      const ms = performance.now() - t0;
      await ctx.records.finish(jobId, 'done', {
        output_key: outputKey,
        labels_key: labelsKey,
        object_count: countObjects(labels),
        postprocess_time: seconds(ms),
      });
      return { key: outputKey, ms };
    });
}

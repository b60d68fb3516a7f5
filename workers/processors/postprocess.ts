import { WaitingChildrenError } from 'bullmq';
import type { HeadMaps } from '../model/runners.js';
import { deepCellEntryName, labelKeyName } from '../image/label-names.js';
import { countObjects } from '../image/labels.js';
import { fileStem, keys } from '../queues/names.js';
import type { ImageJobData, StageResult } from '../queues/payloads.js';
import { singleImageZip, zipFiles, zipsOnDownload } from './archive.js';
import { outputFileName } from '../jobtypes/outputs.js';
import { labelOutputs } from '../jobtypes/types.js';
import type { Labels } from '../image/types.js';
import {
  awaitLater,
  enterStage,
  enterStageSoon,
  inComputeSlot,
  runStage,
  seconds,
  stageOptions,
  jobTypeFor,
  type Processor,
  type WorkerContext,
} from './context.js';
import type { PredictedImage } from './predict.js';
import { unpackTensors } from './tensor-pack.js';

/**
 * Stage 3 (cpu pool): head maps → label image → `NAME.labels.tif` (the project's label-file name,
 * workers/image/label-names.ts) and `<stem>.zip` holding it as `<stem>_feature_0.tif` (the Kiosk's result
 * layout) under results/<lab>/<job>/; in a local folder bucket the zip is made on download instead
 * (zipsOnDownload). Result keys depend only on the job, so a retry overwrites them.
 *
 * When the stages ask for another pass (autoscale: the nuclei were far from the model's size), this job adds
 * preprocess → predict of pass 2 as its own children, waits for them, and runs again on their maps.
 */
export function postprocessProcessor(ctx: WorkerContext): Processor<ImageJobData, StageResult> {
  return (job, token) =>
    runStage(ctx, job, async () => {
      const { jobId, lab, name } = job.data;
      let pass = job.data.pass ?? 1;
      const model = await ctx.registry.resolve(job.data.model.name, job.data.model.version);
      const opts = stageOptions(ctx, job.data);
      const { def, stages } = await jobTypeFor(ctx, job.data);
      // The compute — maps in, labels and TIFF out (and the zip, where the bucket stores it) — takes its turn
      // in this process's slot (the stage's time counts from its turn); finishing the record (a Redis round
      // trip) is left outside, for the next job's compute to overlap.
      const { labelsKey, outputKey, objectCount, ms, uploadMs } = await inComputeSlot(ctx, async () => {
        const t0 = performance.now();
        let all: readonly Labels[];
        let meta: unknown;
        for (;;) {
          // The maps first: the record update that enters this stage also records the earlier stages' times.
          let bytes;
          try {
            bytes = await ctx.storage.get(keys.outputs(jobId, pass));
          } catch (err) {
            // no maps: say 'cancelled' if the job was cancelled (its scratch may be gone), else the read error
            await enterStage(ctx, jobId, { status: 'post-processing', progress: pass === 1 ? 75 : 90 });
            throw err;
          }
          const unpacked = unpackTensors<PredictedImage>(bytes, { copy: false });
          const { outputs, times } = unpacked;
          meta = unpacked.meta;
          const entered = enterStageSoon(ctx, jobId, {
            status: 'post-processing',
            progress: pass === 1 ? 75 : 90,
            ...(pass === 1 ? times : {}),
          });
          try {
            all = labelOutputs(await stages.postprocess(outputs as HeadMaps, meta, model.card, opts));
          } finally {
            await entered(); // a cancelled job says so, whatever the maps gave
          }
          const nextScale = stages.nextScale?.(all[0]!, meta, model.card, opts, pass, all);
          if (nextScale === undefined) break;
          const next: ImageJobData = { ...job.data, pass: pass + 1, scale: nextScale };
          await job.updateData(next);
          await ctx.submitter.addPass(job, next);
          if (!token) throw new Error('postprocess needs its lock token to wait for a second pass');
          if (await job.moveToWaitingChildren(token)) throw new WaitingChildrenError();
          pass = next.pass!; // the second pass already finished: use its maps now
        }
        // The status goes out while the labels are encoded.
        const saving = awaitLater(ctx.records.update(jobId, { status: 'saving-results', progress: 95 }));
        // each output states the pixel size (issue 23 #3)
        const tifs = all.map((labels) => stages.encodeLabels(labels, meta, opts));
        await saving();
        const stem = fileStem(name);
        const labelsKey = keys.result(lab, jobId, labelKeyName(name));
        const outputKey = keys.result(lab, jobId, `${stem}.zip`);
        const t1 = performance.now();
        const [tif] = tifs;
        await ctx.storage.put(labelsKey, tif!);
        if (tifs.length > 1) {
          // A job type with several outputs: output k > 0 is NAME.<output>.labels.tif, and the zip holds
          // them all as <stem>_feature_k.tif (as a DeepCell consumer with several outputs saves them).
          for (let k = 1; k < tifs.length; k++)
            await ctx.storage.put(keys.result(lab, jobId, outputFileName(name, def, k)), tifs[k]!);
          await ctx.storage.put(
            outputKey,
            zipFiles(tifs.map((t, k) => [deepCellEntryName(stem).replace(/_0\.tif$/, `_${k}.tif`), t])),
          );
        } else if (!zipsOnDownload(ctx.storage, tif!.byteLength))
          await ctx.storage.put(outputKey, singleImageZip(deepCellEntryName(stem), tif!));
        const uploadMs = performance.now() - t1;
        const objectCount = countObjects(all[0]!);
        return { labelsKey, outputKey, objectCount, ms: performance.now() - t0, uploadMs };
      });
      await ctx.records.finish(jobId, 'done', {
        output_key: outputKey,
        labels_key: labelsKey,
        object_count: objectCount,
        postprocess_time: seconds(ms),
        upload_time: seconds(uploadMs),
      });
      // Scratch goes only once the job is done: a worker killed between the two would otherwise leave a
      // re-run with no maps to read, and a job whose results exist would fail ("no object scratch/...").
      await ctx.storage
        .deletePrefix(keys.scratch(jobId))
        .catch((e: unknown) => ctx.log(`job ${jobId}: scratch not removed: ${String(e)}`));
      return { key: outputKey, ms };
    });
}

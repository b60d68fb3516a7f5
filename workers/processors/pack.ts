import { fileStem, keys } from '../queues/names.js';
import type { PackJobData, StageResult } from '../queues/payloads.js';
import type { ChildFailure } from '../queues/records.js';
import { jobTypeRegistry } from '../jobtypes/registry.js';
import { outputKeysOf } from '../jobtypes/outputs.js';
import { uniqueEntryName, zipFiles } from './archive.js';
import { enterStage, runStage, seconds, type Processor, type WorkerContext } from './context.js';

/**
 * The zip/multi-file parent (cpu pool, postprocess queue): runs once every child has finished or failed,
 * packs each done child's label TIFFs as `<stem>_feature_k.tif` (k: the output of its job type) into one zip and lists each failed child by
 * name with its reason. Done if at least one image succeeded; failed (with every reason) if none did.
 */
export function packProcessor(ctx: WorkerContext): Processor<PackJobData, StageResult> {
  return (job) =>
    runStage(ctx, job, async () => {
      const t0 = performance.now();
      const { jobId, lab, name, children } = job.data;
      await enterStage(ctx, jobId, { status: 'saving-results', progress: 99 });
      const entries: [string, Uint8Array][] = [];
      const failures: ChildFailure[] = [];
      const taken = new Set<string>();
      let objects = 0;
      for (const child of children) {
        const rec = await ctx.records.get(child.jobId);
        if (rec?.status === 'done' && rec.labels_key) {
          const first = uniqueEntryName(taken, fileStem(child.name), '_feature_0.tif');
          // every output of the image's job type (whole-cell: cells, nuclei) as <stem>_feature_k.tif
          const def = (await jobTypeRegistry()).find(rec.type);
          const outputs = def ? outputKeysOf(rec, def) : [{ key: rec.labels_key }];
          for (const [k, o] of outputs.entries())
            entries.push([
              first.replace(/_feature_0\.tif$/, `_feature_${k}.tif`),
              await ctx.storage.get(o.key),
            ]);
          objects += rec.object_count ?? 0;
        } else {
          const reason =
            rec?.status === 'failed' ? (rec.reason ?? 'failed') : 'did not finish (its worker was lost)';
          if (rec && rec.status !== 'failed') await ctx.records.finish(child.jobId, 'failed', { reason });
          failures.push({ name: child.name, reason });
        }
      }
      if (entries.length === 0) {
        const reason = `all ${children.length} images failed: ${failures.map((f) => `${f.name}: ${f.reason}`).join('; ')}`;
        await ctx.records.finish(jobId, 'failed', { reason, failures });
        return { key: '', ms: performance.now() - t0 };
      }
      const outputKey = keys.result(lab, jobId, `${fileStem(name)}.zip`);
      await ctx.storage.put(outputKey, zipFiles(entries));
      await ctx.records.finish(jobId, 'done', {
        output_key: outputKey,
        failures,
        object_count: objects,
        ...(failures.length ? { reason: `${failures.length} of ${children.length} images failed` } : {}),
        cleanup_time: seconds(performance.now() - t0),
      });
      return { key: outputKey, ms: performance.now() - t0 };
    });
}

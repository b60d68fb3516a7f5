/**
 * How fast a training job runs through the kiosk's own training path on this machine: a private Redis, a
 * local kiosk with a training worker (web/e2e/kiosk-harness.ts), one job fine-tuning `nuclear` with the
 * default batch (8) and crop (128 px) for BENCH_STEPS steps (default 4) in one epoch, on one training and
 * one validation pair of the nuclei data. Prints the backend, the epoch's seconds (steps + validation),
 * samples/s and what the page's defaults (10 epochs × 50 steps × 8 crops) would take at that speed.
 * The Train page (web/src/lib/training.ts MEASURED_SAMPLES_PER_S) quotes the figure this prints until the
 * kiosk has finished an epoch of its own.
 * Env: BENCH_STEPS (default 4), BENCH_BATCH (default 8), BENCH_CROP (default 128).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startPrivateRedis } from '../test/redis.js';
import { NUCLEI_DIR } from '../test/data.js';
import { startKiosk } from '../web/e2e/kiosk-harness.js';

const steps = Number(process.env['BENCH_STEPS'] ?? 4);
const batch = Number(process.env['BENCH_BATCH'] ?? 8);
const crop = Number(process.env['BENCH_CROP'] ?? 128);

const redis = await startPrivateRedis();
const kiosk = await startKiosk(redis.url, { trainer: true });
try {
  const form = new FormData();
  for (const [split, stem] of [
    ['train', 'dsb_00071198d059ba7f'],
    ['val', 'dsb_03398329ced0c23b'],
  ] as const)
    for (const kind of ['image', 'labels']) {
      const name = `${split}/${stem}.${kind}.png`;
      form.append('file', new Blob([await readFile(join(NUCLEI_DIR, name))]), name);
    }
  const fields = {
    modelName: 'bench-estimate',
    baseModel: kiosk.model,
    epochs: '1',
    stepsPerEpoch: String(steps),
    batchSize: String(batch),
    cropSize: String(crop),
  };
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  const created = await fetch(`${kiosk.url}/v1/trainings/upload`, { method: 'POST', body: form });
  if (created.status !== 201) throw new Error(`upload answered ${created.status}: ${await created.text()}`);
  const { id } = (await created.json()) as { id: string };
  const t0 = Date.now();
  for (;;) {
    const t = (await (await fetch(`${kiosk.url}/v1/trainings/${id}`)).json()) as {
      status: string;
      runtime?: string;
      reason?: string;
      history: { seconds: number }[];
    };
    if (t.status === 'failed') throw new Error(`training failed: ${t.reason}`);
    if (t.status === 'done') {
      const s = t.history[0]!.seconds;
      const perS = (steps * batch) / s;
      const defaults = (10 * 50 * 8) / perS;
      console.log(
        `training on ${t.runtime ?? '?'}: ${steps} steps × ${batch} crops of ${crop} px + validation of 1 image ` +
          `in ${s.toFixed(1)} s (job wall ${((Date.now() - t0) / 1000).toFixed(1)} s) → ${perS.toFixed(3)} samples/s; ` +
          `the defaults (10 × 50 × 8 at 128 px) would take ${(defaults / 3600).toFixed(2)} h`,
      );
      break;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
} finally {
  await kiosk.close();
  await redis.stop();
}

/**
 * The autoscaler service with the local driver running the kiosk's real worker entry
 * (`workers/main.ts --pool cpu|gpu`, as `kiosk start` runs it) on the private test Redis. The workers serve
 * the TRIVIAL threshold model (KIOSK_TRIVIAL_MODEL=1) so the test does not need the trained network; the
 * flows, queues, bucket and processes are the service's own.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { keys } from '../queues/names.js';
import type { SubmitOptions } from '../queues/submit.js';
import { createHarness, type Harness } from '../processors/service-harness.test-helpers.js';
import { localPools, startAutoscalerService, type AutoscalerService } from './service.js';
import { NUCLEI_VAL } from '../../test/data.js';

const VAL = NUCLEI_VAL;
const opts: SubmitOptions = {
  lab: 'default',
  type: 'segmentation',
  model: { name: 'trivial', version: '1' },
  options: { channels: [0] },
};

interface Line {
  event: string;
  pool?: string;
  desired?: number;
  actual?: number;
}

describe('autoscaler service, local driver, real kiosk workers (trivial model)', () => {
  let h: Harness | undefined;
  let svc: AutoscalerService | undefined;
  let cache: string | undefined;
  afterEach(async () => {
    await svc?.stop();
    await h?.close();
    if (cache) await rm(cache, { recursive: true, force: true });
    svc = undefined;
    h = undefined;
    cache = undefined;
  });

  it('starts a CPU and an inference worker for submitted images, finishes them, and scales both pools back to 0', async () => {
    h = await createHarness(inject('redisUrl'), { startPools: false });
    cache = await mkdtemp(join(tmpdir(), 'kiosk-as-cache-'));
    const lines: Line[] = [];
    svc = await startAutoscalerService({
      driver: 'local',
      env: {
        REDIS_URL: h.redisUrl,
        KIOSK_PREFIX: h.prefix,
        KIOSK_BUCKET: h.storage.root,
        KIOSK_MODEL_CACHE: cache,
        KIOSK_TRIVIAL_MODEL: '1',
        KIOSK_SCALE_CPU: 'preprocess,postprocess=local:0..1',
        KIOSK_SCALE_GPU: 'predict=local:0..1',
        KIOSK_SCALE_INTERVAL_S: '0.3',
        KIOSK_SCALE_IDLE_GRACE_S: '1',
        KIOSK_SCALE_DOWN_WINDOW_S: '1',
      },
      log: (l) => lines.push(JSON.parse(l) as Line),
    });
    expect(svc.pools.map((p) => [p.pool, p.min, p.max, p.upstream ?? []])).toEqual([
      ['cpu', 0, 1, []],
      ['gpu', 0, 1, [{ queue: 'preprocess' }]],
    ]);
    const ids: string[] = [];
    for (const stem of ['dsb_03398329ced0c23b', 'dsb_077f026f4ab0f0bc']) {
      const key = keys.upload('default', 'u', `${stem}.png`);
      await h.storage.put(key, await readFile(join(VAL, `${stem}.image.png`)));
      ids.push(await h.submitter.submitImage({ name: `${stem}.png`, inputKey: key }, opts));
    }
    for (const id of ids) expect((await h.wait(id, 90_000)).status).toBe('done');

    // Both pools back at zero workers after the grace period.
    await expect
      .poll(
        () => {
          const last = (pool: string) =>
            lines.findLast((l) => l.event === 'scale-decision' && l.pool === pool);
          return [last('cpu')?.actual, last('gpu')?.actual];
        },
        { timeout: 30_000, interval: 200 },
      )
      .toEqual([0, 0]);
    const desired = (pool: string) =>
      lines.filter((l) => l.event === 'scale-decision' && l.pool === pool).map((l) => l.desired);
    // The GPU pool was asked for while the images were still in preprocess (look-ahead), then released.
    for (const pool of ['cpu', 'gpu']) {
      expect(desired(pool)).toContain(1);
      expect(desired(pool).at(-1)).toBe(0);
    }
  }, 150_000);

  it('local defaults: one CPU worker always, up to min(4, cores/2); one inference worker', () => {
    expect(localPools(16).map((p) => [p.pool, p.min, p.max])).toEqual([
      ['cpu', 1, 4],
      ['gpu', 1, 1],
    ]);
    expect(localPools(2)[0]!.max).toBe(1);
  });

  it('needs REDIS_URL and a valid pool spec', async () => {
    await expect(startAutoscalerService({ driver: 'local', env: {} })).rejects.toThrow(
      /REDIS_URL is not set/,
    );
    await expect(
      startAutoscalerService({
        driver: 'kubernetes',
        env: { REDIS_URL: 'redis://127.0.0.1:1', KIOSK_SCALE_GPU: 'predict' },
      }),
    ).rejects.toThrow(/is not '<queue>/);
  });
});

/**
 * Test fixtures for the training service: a model folder to fine-tune (the shipped `nuclear` model when
 * models/nuclear/1 exists, else a small U-Net saved with a nuclear card in a temp registry), a zip of a
 * few real training pairs from shared/data/nuclei, and the whole service (API + segmentation pools + a
 * training worker) on the private test Redis.
 */
import { cp, mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestService, type TestService } from '../../api/service-harness.test-helpers.js';
import { packZip, type ZipEntry } from '../image/zip.js';
import { nuclearCard } from '../model/model-card.js';
import { saveModel } from '../model/model-io.js';
import { buildNetwork } from '../model/network.js';
import { initTfjs } from '../model/runtime.js';
import { exportModelDir } from '../model/export-model-dir.js';
import { pipelineStages } from '../processors/pipeline-stages.js';
import { connectRedis } from '../queues/connection.js';
import type { TrainingEvent } from './records.js';
import { startTrainingWorkerFor } from './services.js';
import type { RunningTrainingWorker } from './worker.js';
import { NUCLEI_DIR } from '../../test/data.js';

export const NUCLEI = NUCLEI_DIR;
const repoModels = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models');

/** True when the shipped model has landed (then the tests fine-tune it). */
export const shippedNuclear = existsSync(join(repoModels, 'nuclear', '1', 'card.json'));

/**
 * Fills `modelsDir/nuclear/1`: a copy of the shipped model, or a small U-Net (4 base filters, depth 2)
 * with a nuclear card and model.onnx.
 */
export async function prepareBaseModel(modelsDir: string): Promise<void> {
  const dir = join(modelsDir, 'nuclear', '1');
  await mkdir(dir, { recursive: true });
  if (shippedNuclear) {
    await cp(join(repoModels, 'nuclear', '1'), dir, { recursive: true });
    return;
  }
  await initTfjs({ prefer: 'wasm' });
  const network = { baseFilters: 4, depth: 2, maxFilters: 16 };
  const model = buildNetwork(network);
  await saveModel(
    model,
    dir,
    nuclearCard({ name: 'nuclear', version: 1, network, params: model.countParams(), targetDiameterPx: 14 }),
  );
  await exportModelDir(dir);
}

/** Bytes of a zip of real pairs: `train` training stems (+ `val` under val/), from the shared data. */
export async function nucleiZip(train: readonly string[], val: readonly string[] = []): Promise<Uint8Array> {
  const entries: ZipEntry[] = [];
  for (const [split, stems] of [
    ['train', train],
    ['val', val],
  ] as const) {
    for (const stem of stems) {
      for (const kind of ['image', 'labels']) {
        const data = new Uint8Array(await readFile(join(NUCLEI, split, `${stem}.${kind}.png`)));
        entries.push({ name: `${split}/${stem}.${kind}.png`, data });
      }
    }
  }
  return packZip(entries);
}

export const TRAIN_STEMS = ['dsb_00071198d059ba7f', 'dsb_003cee89357d9fe1', 'dsb_0280fa8f60f6bcae'];
export const VAL_STEM = 'dsb_03398329ced0c23b';

export interface TrainingService extends TestService {
  readonly trainer?: RunningTrainingWorker;
}

/**
 * The service with the real segmentation stages and the models in `modelsDir`; with `trainer`, a training
 * worker in this process too (its training runs in a child process, wasm backend), on the gpu worker's
 * services (the gpu worker trains). Every role's bucket calls are grant-checked (startTestService's
 * `grantCheck`): close() fails on a call outside the role's grants.
 */
export async function startTrainingService(
  redisUrl: string,
  modelsDir: string,
  o: { trainer?: boolean; listen?: boolean; scratchDir?: string; env?: Record<string, string> } = {},
): Promise<TrainingService> {
  const svc = await startTestService(redisUrl, {
    stages: pipelineStages,
    customModels: {},
    modelsDir,
    listen: o.listen ?? false,
    grantCheck: true,
    env: { KIOSK_BACKOFF_MS: '200', ...o.env },
  });
  if (!o.trainer) return svc;
  const trainer = startTrainingWorkerFor(await svc.servicesFor('gpu-worker'), {
    scratchDir: o.scratchDir ?? join(modelsDir, '..', 'train-scratch'),
    tfjsPrefer: 'wasm',
    log: () => undefined,
  });
  await trainer.worker.waitUntilReady();
  return {
    ...svc,
    trainer,
    async close() {
      await trainer.close(true);
      await svc.close();
    },
  };
}

/** Resolves with the first event of training `id` that `pred` accepts (over the records' event channel). */
export async function nextTrainingEvent(
  svc: TestService,
  id: string,
  pred: (ev: TrainingEvent) => boolean,
  timeoutMs: number,
): Promise<TrainingEvent> {
  const sub = connectRedis(svc.services.config.redisUrl);
  const channel = `${svc.services.config.prefix}:training-events`;
  try {
    return await new Promise<TrainingEvent>((resolveEv, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no matching event of ${id} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      sub.on('message', (_ch: string, msg: string) => {
        const ev = JSON.parse(msg) as TrainingEvent;
        if (ev.id === id && pred(ev)) {
          clearTimeout(timer);
          resolveEv(ev);
        }
      });
      sub.subscribe(channel).catch(reject);
    });
  } finally {
    sub.disconnect();
  }
}

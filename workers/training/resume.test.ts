import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { multipart } from '../../api/service-harness.test-helpers.js';
import type { TrainingRecord } from './records.js';
import {
  nextTrainingEvent,
  nucleiZip,
  prepareBaseModel,
  startTrainingService,
  TRAIN_STEMS,
  VAL_STEM,
  type TrainingService,
} from './training-harness.test-helpers.js';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

let dir: string;
let svc: TrainingService;
const workers: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiosk-train-resume-'));
  await prepareBaseModel(join(dir, 'models'));
  svc = await startTrainingService(inject('redisUrl'), join(dir, 'models'), { trainer: false });
});
afterAll(async () => {
  for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
  await svc?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Where the training worker processes log bucket calls outside the trainer's grants (JSON lines). */
const violationLog = () => join(dir, 'grant-violations.jsonl');

/** Starts `workers/training/main.ts` as a real process on the test's Redis prefix and bucket; resolves once ready. */
async function startWorkerProcess(): Promise<ChildProcess> {
  const c = svc.services.config;
  const w = spawn(process.execPath, ['--import', 'tsx', join(root, 'workers/training/main.ts')], {
    cwd: root,
    env: {
      ...process.env,
      REDIS_URL: c.redisUrl,
      KIOSK_PREFIX: c.prefix,
      KIOSK_BUCKET: c.bucket,
      KIOSK_MODELS_DIR: c.modelsDir,
      KIOSK_MODEL_CACHE: join(dir, 'worker-cache'),
      KIOSK_TRAIN_LOCK_MS: '2000',
      KIOSK_TRAIN_STALLED_MS: '1000',
      KIOSK_TRAIN_SCRATCH: join(dir, 'scratch'),
      KIOSK_TFJS_BACKEND: 'wasm',
      // the process may do only what the trainer role's grants allow; each call outside them is logged
      KIOSK_GRANT_CHECK: 'trainer',
      KIOSK_GRANT_CHECK_LOG: violationLog(),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  workers.push(w);
  let err = '';
  w.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((ready, fail) => {
    w.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('worker train ready')) ready();
    });
    w.once('exit', (code) => fail(new Error(`training worker exited (${code}) before it was ready: ${err}`)));
  });
  return w;
}

describe('a killed training worker', () => {
  it(
    'is replaced by another that resumes from the bucket checkpoint, not from zero',
    { timeout: 180_000 },
    async () => {
      const zip = await nucleiZip(TRAIN_STEMS.slice(0, 2), [VAL_STEM]);
      const fields = { epochs: '3', stepsPerEpoch: '4', batchSize: '2', cropSize: '32' };
      const created = await svc.app.inject({
        method: 'POST',
        url: '/v1/trainings/upload',
        ...(await multipart([['data', 'd.zip', zip]], fields)),
      });
      expect(created.statusCode, created.body).toBe(201);
      const id = created.json<{ id: string }>().id;
      const get = async () =>
        (await svc.app.inject({ method: 'GET', url: `/v1/trainings/${id}` })).json<TrainingRecord>();

      // Worker A trains until its first checkpoint is in the bucket, then dies without warning.
      const firstCheckpoint = nextTrainingEvent(svc, id, (ev) => ev.epochRecord !== undefined, 120_000);
      const a = await startWorkerProcess();
      const ev = await firstCheckpoint;
      a.kill('SIGKILL');
      await new Promise((r) => a.once('exit', r));
      const atKill = await get();
      expect(atKill.status).toBe('training');
      expect(atKill.checkpointEpoch).toBe(ev.epochRecord!.epoch);
      expect(atKill.checkpointEpoch).toBeLessThan(3);
      expect(await svc.bucket.exists(`training/${id}/checkpoint/latest.json`)).toBe(true);

      // Worker B finds the stalled job and finishes it from that checkpoint.
      const finished = nextTrainingEvent(
        svc,
        id,
        (e) => e.status === 'done' || e.status === 'failed',
        150_000,
      );
      await startWorkerProcess();
      await finished;
      const rec = await get();
      expect(rec.status, rec.reason).toBe('done');
      expect(rec.resumedFrom).toBeDefined();
      expect(rec.resumedFrom!.epoch).toBeGreaterThanOrEqual(atKill.checkpointEpoch!);
      expect(rec.resumedFrom!.step).toBe(4 * rec.resumedFrom!.epoch);
      expect(rec.resumedFrom!.step).toBeGreaterThan(0);
      expect(rec.attempts).toBe(2);
      expect(rec.history.map((h) => h.epoch)).toEqual([1, 2, 3]);
      expect(rec.history.map((h) => h.step)).toEqual([4, 8, 12]);
      expect(rec.model).toEqual({ name: 'nuclear', version: '2' });
      const card = JSON.parse(Buffer.from(await svc.bucket.get('models/nuclear/2/card.json')).toString()) as {
        training: { epochsRun: number; steps: number };
      };
      expect(card.training).toMatchObject({ epochsRun: 3, steps: 12 });
      // both processes kept to the trainer's grants
      expect(await readFile(violationLog(), 'utf8').catch(() => '')).toBe('');
    },
  );
});

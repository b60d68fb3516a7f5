/**
 * `kiosk train --host` when the user cancels the training (issue 23 #4): the cancel is said once and the
 * command exits with its own code (EXIT_CANCELLED, 3), not twice "failed: cancelled by the user" and 1.
 * A real kiosk (listening API, training worker in this process, private Redis) trains from scratch; the
 * test cancels it through the API, as the web UI's Cancel button does.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  nucleiZip,
  prepareBaseModel,
  startTrainingService,
  TRAIN_STEMS,
  VAL_STEM,
  type TrainingService,
} from '../workers/training/training-harness.test-helpers.js';
import { EXIT_CANCELLED, runRemoteTraining } from './train-remote.js';

let dir: string;
let svc: TrainingService;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiosk-train-remote-'));
  await prepareBaseModel(join(dir, 'models'));
  svc = await startTrainingService(inject('redisUrl'), join(dir, 'models'), { trainer: true, listen: true });
}, 120_000);
afterAll(async () => {
  await svc?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('kiosk train --host, cancelled by the user', () => {
  it(
    'issue 23 #4: says "cancelled by the user" once and exits 3 (EXIT_CANCELLED)',
    { timeout: 240_000 },
    async () => {
      const zipPath = join(dir, 'data.zip');
      await writeFile(zipPath, await nucleiZip(TRAIN_STEMS.slice(0, 1), [VAL_STEM]));
      const lines: string[] = [];
      let cancelled: Promise<Response> | undefined;
      const code = await runRemoteTraining(
        [
          '--host',
          svc.url,
          '--data',
          zipPath,
          '--scratch',
          '--name',
          'to-cancel',
          '--epochs',
          '50',
          '--steps',
          '20',
          '--batch',
          '1',
          '--crop',
          '32',
        ],
        {
          out: (l) => {
            lines.push(l);
            // Once it trains (its first step line), the user cancels it.
            const id = /^training (\S+):/.exec(lines[1] ?? '')?.[1];
            if (!cancelled && id && /^ {2}step \d+\/1000/.test(l))
              cancelled = fetch(`${svc.url}/v1/trainings/${id}/cancel`, { method: 'POST' });
          },
        },
      );
      expect(cancelled, lines.join('\n')).toBeDefined();
      expect((await cancelled!).status).toBe(200);
      expect(code, lines.join('\n')).toBe(EXIT_CANCELLED);
      expect(EXIT_CANCELLED).toBe(3);
      expect(lines.filter((l) => /cancelled by the user/.test(l))).toHaveLength(1);
      expect(lines.at(-1)).toMatch(/^cancelled by the user: training \S+ stopped, no model was written$/);
      expect(lines.filter((l) => /^failed/.test(l))).toEqual([]);
    },
  );
});

import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readModelCard } from '../../workers/model/model-io.js';
import { writeDiskPair } from '../../workers/model/testing/nuclei-folder.js';
import { UsageError } from '../command.js';
import { command } from './train.js';

let dir: string;
beforeAll(async () => {
  process.env.KIOSK_TFJS_BACKEND = 'wasm';
  dir = await mkdtemp(join(tmpdir(), 'kiosk-train-'));
  await mkdir(join(dir, 'data', 'train'), { recursive: true });
  await mkdir(join(dir, 'data', 'val'), { recursive: true });
  await writeDiskPair(join(dir, 'data', 'train'), 'a', 48, 4, 1);
  await writeDiskPair(join(dir, 'data', 'train'), 'b', 48, 5, 2);
  await writeDiskPair(join(dir, 'data', 'val'), 'c', 48, 4, 3);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('kiosk train', () => {
  it('trains a new version, then fine-tunes it into the next one', async () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const models = join(dir, 'models');
    const common = [
      '--data',
      join(dir, 'data'),
      '--epochs',
      '1',
      '--steps',
      '2',
      '--batch',
      '2',
      '--crop',
      '32',
    ];
    try {
      expect(await command.run([...common, '--models', models, '--diameter', '12'])).toBe(0);
      const card = await readModelCard(join(models, 'nuclear', '1'));
      expect(card.input.targetDiameterPx).toBe(12);
      expect(card.validation?.images).toBe(1);
      expect(card.training?.steps).toBe(2);
      expect(await command.run([...common, '--models', models, '--from', 'nuclear'])).toBe(0);
      const tuned = await readModelCard(join(models, 'nuclear', '2'));
      expect(tuned.version).toBe(2);
      expect(tuned.training?.fineTunedFrom).toBe(join(models, 'nuclear', '1'));
      expect(tuned.input.targetDiameterPx).toBe(12);
      const lines = out.mock.calls.map((c) => String(c[0])).join('');
      expect(lines).toMatch(/epoch 1\/1: train loss \d+\.\d+ val F1@0\.5 \d\.\d{3} DSB \d\.\d{3}/);
      expect(lines).toMatch(/wrote .*nuclear\/2 \(nuclear v2/);
    } finally {
      out.mockRestore();
    }
  });

  it.each([
    [[], /--data DIR is required/],
    [['--data', '/nonexistent/x'], /--data \/nonexistent\/x does not exist/],
    [['--data', '.', '--epochs', '0'], /--epochs must be a positive integer; got '0'/],
    [['--data', '.', '--crop', '40'], /--crop must be a multiple of 16; got 40/],
    [['--data', '.', '--lr', 'fast'], /--lr must be a positive number; got 'fast'/],
    [['--data', '.', '--bogus'], /Unknown option '--bogus'/],
  ])('rejects %j', async (args, message) => {
    await expect(command.run(args)).rejects.toThrow(UsageError);
    await expect(command.run(args)).rejects.toThrow(message);
  });

  it('rejects --from a model that does not exist', async () => {
    const args = ['--data', join(dir, 'data'), '--models', join(dir, 'none'), '--from', 'ghost'];
    await expect(command.run(args)).rejects.toThrow(
      /--from ghost: no such model version .* \(versions: none\)/,
    );
    expect(existsSync(join(dir, 'none'))).toBe(false);
  });
});

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalFolderStorage } from '../storage/local.js';
import { TRIVIAL_CARD, TrivialThresholdRunner } from '../processors/trivial-stages.js';
import { ModelRegistry } from './registry.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), 'kiosk-reg-'));
  dirs.push(dir);
  const builtin = join(dir, 'models');
  for (const v of ['1', '2']) {
    await mkdir(join(builtin, 'nuclear', v), { recursive: true });
    await writeFile(
      join(builtin, 'nuclear', v, 'card.json'),
      JSON.stringify({ name: 'nuclear', version: Number(v), input: { mpp: 0.65 } }),
    );
  }
  await mkdir(join(builtin, 'nuclear', 'draft'), { recursive: true }); // not a version: ignored
  const storage = new LocalFolderStorage(join(dir, 'bucket'));
  const runner = new TrivialThresholdRunner();
  const registry = new ModelRegistry({
    storage,
    builtinDir: builtin,
    cacheDir: join(dir, 'cache'),
    custom: { 'trivial@1': { card: TRIVIAL_CARD, createRunner: async () => runner } },
    listCacheMs: 0,
  });
  return { storage, registry, runner, dir };
}

describe('ModelRegistry', () => {
  it('lists built-in, bucket and custom models; a model trained into the bucket appears at once', async () => {
    const { storage, registry } = await setup();
    expect(await registry.catalog()).toEqual({ nuclear: ['1', '2'], trivial: ['1'] });
    await storage.put(
      'models/nuclear/10/card.json',
      Buffer.from(JSON.stringify({ name: 'nuclear', version: 10 })),
    );
    await storage.put('models/mine/3/card.json', Buffer.from(JSON.stringify({ name: 'mine', version: 3 })));
    await storage.put('models/broken/1/card.json', Buffer.from('{not json'));
    expect(await registry.catalog()).toEqual({ mine: ['3'], nuclear: ['1', '2', '10'], trivial: ['1'] });
    expect((await registry.resolve('nuclear')).version).toBe('10'); // newest, numerically
    expect((await registry.resolve('nuclear', '2')).source).toBe('builtin');
    expect((await registry.resolve('mine', '3')).source).toBe('bucket');
  });

  it('resolves from a recent listing, and looks afresh for a name or version it does not know', async () => {
    const { storage } = await setup();
    const registry = new ModelRegistry({ storage, listCacheMs: 60_000 });
    await storage.put('models/late/1/card.json', Buffer.from('{}'));
    expect((await registry.resolve('late')).version).toBe('1');
    await storage.put('models/late/2/card.json', Buffer.from('{}'));
    expect((await registry.resolve('late')).version).toBe('1'); // "newest" from the cached listing
    expect((await registry.resolve('late', '2')).version).toBe('2'); // an unknown version: read afresh
    expect(await registry.catalog()).toEqual({ late: ['1', '2'] });
  });

  it('names what exists when a model or version is unknown', async () => {
    const { registry } = await setup();
    await expect(registry.resolve('cyto')).rejects.toMatchObject({
      code: 'unknown-model',
      message: 'unknown model "cyto"; available: nuclear, trivial',
    });
    await expect(registry.resolve('nuclear', '9')).rejects.toThrow(
      'model nuclear has no version "9"; available: 1, 2',
    );
  });

  it("shows a lab's trained models to that lab only; shipped, code and lab-less bucket models to all", async () => {
    const { storage, registry } = await setup();
    const put = (key: string, card: object) => storage.put(key, Buffer.from(JSON.stringify(card)));
    await put('models/mine/3/card.json', { name: 'mine', version: 3, lab: 'lab-a' });
    await put('models/nuclear/3/card.json', { name: 'nuclear', version: 3, lab: 'lab-a' });
    // lab B's version 2 of the shipped model shadows it for lab B only
    await put('models/nuclear/2/card.json', { name: 'nuclear', version: 2, lab: 'lab-b', tuned: true });
    await put('models/shared/1/card.json', { name: 'shared', version: 1 });
    expect(await registry.catalog('lab-a')).toEqual({
      mine: ['3'],
      nuclear: ['1', '2', '3'],
      shared: ['1'],
      trivial: ['1'],
    });
    expect(await registry.catalog('lab-b')).toEqual({ nuclear: ['1', '2'], shared: ['1'], trivial: ['1'] });
    expect(await registry.catalog('lab-c')).toEqual({ nuclear: ['1', '2'], shared: ['1'], trivial: ['1'] });
    expect((await registry.resolve('nuclear', '2', 'lab-b')).card.tuned).toBe(true);
    expect((await registry.resolve('nuclear', '2', 'lab-a')).source).toBe('builtin');
    expect((await registry.resolve('nuclear', undefined, 'lab-b')).version).toBe('2');
    expect((await registry.resolve('nuclear', undefined, 'lab-a')).version).toBe('3');
    await expect(registry.resolve('mine', undefined, 'lab-b')).rejects.toMatchObject({
      code: 'unknown-model',
      message: 'unknown model "mine"; available: nuclear, shared, trivial',
    });
    await expect(registry.resolve('nuclear', '3', 'lab-b')).rejects.toThrow(
      'model nuclear has no version "3"; available: 1, 2',
    );
    // without a lab (workers, version numbering) every model is seen
    expect((await registry.resolve('mine')).lab).toBe('lab-a');
    expect((await registry.list()).map((m) => `${m.name}@${m.version}`)).toEqual([
      'mine@3',
      'nuclear@1',
      'nuclear@2',
      'nuclear@3',
      'shared@1',
      'trivial@1',
    ]);
  });

  it('loads a runner once per version and shares it', async () => {
    const { registry, runner } = await setup();
    const m = await registry.resolve('trivial', '1');
    const [a, b] = await Promise.all([registry.runner(m), registry.runner(m)]);
    expect(a).toBe(runner);
    expect(b).toBe(runner);
  });

  it('copies a bucket model into the cache before loading it (and reports a broken one as a typed error)', async () => {
    const { storage, registry, dir } = await setup();
    await storage.put('models/mine/3/card.json', Buffer.from(JSON.stringify({ name: 'mine', version: 3 })));
    const m = await registry.resolve('mine', '3');
    await expect(registry.runner(m)).rejects.toThrow(/model\.json|model\.onnx|not found|missing/i);
    const { existsSync } = await import('node:fs');
    expect(existsSync(join(dir, 'cache', 'mine', '3', 'card.json'))).toBe(true);
  });
});

import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStorage } from '../storage/local.js';
import { readPointer, restoreCheckpoint, uploadCheckpoint } from './checkpoint-store.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ckpt-store-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A fake snapshot folder: last/ (and best/) holding a file that names the epoch. */
async function snapshot(epoch: number, best: boolean): Promise<string> {
  const s = join(dir, `snap-${epoch}`);
  for (const kind of best ? ['last', 'best'] : ['last']) {
    await mkdir(join(s, kind, 'sub'), { recursive: true });
    await writeFile(join(s, kind, 'state.json'), `{"epoch":${epoch}}`);
    await writeFile(join(s, kind, 'sub', 'w.bin'), `${kind}-${epoch}`);
  }
  return s;
}

describe('bucket checkpoints', () => {
  it('keep the newest last/ and the best best/, move the pointer after the files, and restore both', async () => {
    const storage = new LocalFolderStorage(join(dir, 'bucket'));
    expect(await readPointer(storage, 'j')).toBeUndefined();
    let p = await uploadCheckpoint(storage, 'j', await snapshot(1, true), 1, 5, true, undefined);
    expect(p).toEqual({
      epoch: 1,
      step: 5,
      last: 'training/j/checkpoint/epoch-1/last/',
      best: 'training/j/checkpoint/epoch-1/best/',
    });
    p = await uploadCheckpoint(storage, 'j', await snapshot(2, false), 2, 10, false, p);
    p = await uploadCheckpoint(storage, 'j', await snapshot(3, false), 3, 15, false, p);
    expect(p).toEqual({
      epoch: 3,
      step: 15,
      last: 'training/j/checkpoint/epoch-3/last/',
      best: 'training/j/checkpoint/epoch-1/best/',
    });
    expect(await readPointer(storage, 'j')).toEqual(p);
    expect(await storage.list('training/j/checkpoint/')).toEqual([
      'training/j/checkpoint/epoch-1/best/state.json',
      'training/j/checkpoint/epoch-1/best/sub/w.bin',
      'training/j/checkpoint/epoch-3/last/state.json',
      'training/j/checkpoint/epoch-3/last/sub/w.bin',
      'training/j/checkpoint/latest.json',
    ]);
    const local = join(dir, 'restored');
    await restoreCheckpoint(storage, p, local);
    expect(await readFile(join(local, 'last', 'sub', 'w.bin'), 'utf8')).toBe('last-3');
    expect(await readFile(join(local, 'best', 'sub', 'w.bin'), 'utf8')).toBe('best-1');
  });
});

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { connectRedis } from '../queues/connection.js';
import { keys } from '../queues/names.js';
import { JobRecords } from '../queues/records.js';
import { checkpointPrefix } from '../training/checkpoint-store.js';
import {
  GrantAudit,
  GrantCheckedStorage,
  GrantViolationError,
  localFolderUnder,
  withGrantCheck,
  type GrantViolation,
} from './grant-check.js';
import { LocalFolderStorage } from './local.js';
import { StorageError } from './storage.js';
import { ExpiredObjectSweeper } from './sweep.js';

let dir: string;
let bucket: LocalFolderStorage;
let audit: GrantAudit;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiosk-grant-check-'));
  bucket = new LocalFolderStorage(join(dir, 'bucket'));
  audit = new GrantAudit(bucket);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('GrantCheckedStorage on a real folder bucket', () => {
  it("passes every call its role's grants allow through to the bucket, with the bucket's answers", async () => {
    const cpu = audit.storageFor('cpu-worker');
    const api = audit.storageFor('api');
    expect(cpu.kind).toBe('local');
    // the API stores an upload; the CPU worker reads it, writes tiles, a result, and removes its scratch
    const upload = keys.upload('default', 'u1', 'a.png');
    expect(await api.putStream(upload, Readable.from([Buffer.from('png!')]))).toBe(4);
    expect(text(await cpu.get(upload))).toBe('png!');
    await cpu.put(keys.tiles('j1'), [bytes('ti'), bytes('les')]);
    expect(await bucket.list('scratch/j1/')).toEqual([keys.tiles('j1')]);
    await cpu.put(keys.result('default', 'j1', 'a_feature_0.tif'), bytes('tif'));
    expect(await api.size(keys.result('default', 'j1', 'a_feature_0.tif'))).toBe(3);
    expect(await api.exists(keys.result('default', 'j1', 'nothing.tif'))).toBe(false);
    expect(text(await readAllStream(await api.getStream(upload)))).toBe('png!');
    expect(await api.signedUrl(upload, 60)).toBeUndefined(); // a folder has no signed URLs
    await cpu.deletePrefix(keys.scratch('j1'));
    expect(await bucket.list('scratch/')).toEqual([]);
    await api.delete(upload);
    expect(await bucket.exists(upload)).toBe(false);
    // the bucket's own errors come through unchanged
    await expect(cpu.get(keys.tiles('missing'))).rejects.toMatchObject({ code: 'not-found' });
    expect(audit.violations).toEqual([]);
    audit.assertNone();
  });

  it('refuses a call outside the grants like a 403, before the bucket is touched, and records it', async () => {
    const gpu = audit.storageFor('gpu-worker');
    const key = keys.upload('default', 'u1', 'a.png');
    await bucket.put(key, bytes('png!'));
    const err = await gpu.get(key).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GrantViolationError);
    expect(err).not.toBeInstanceOf(StorageError); // never mistaken for a missing object
    expect((err as Error).message).toMatch(
      /^bucket access denied \(grant check\): get: role gpu-worker may not read "uploads\/default\/u1\/a\.png": no grant covers it \(grants of gpu-worker: /,
    );
    const before = await bucket.list('');
    await expect(gpu.put(keys.result('default', 'j1', 'x.tif'), bytes('x'))).rejects.toThrow(
      GrantViolationError,
    );
    expect(await bucket.list('')).toEqual(before);
    expect(audit.violations.map((v) => [v.role, v.call, v.op, v.key])).toEqual([
      ['gpu-worker', 'get', 'read', key],
      ['gpu-worker', 'put', 'write', 'results/default/j1/x.tif'],
    ]);
    // where the call came from: this test file
    expect(audit.violations[0]!.at).toMatch(/grant-check\.test\.ts/);
  });

  it('records a violation even when the caller swallows the error, and assertNone fails listing it', async () => {
    const trainer = audit.storageFor('trainer');
    // as workers/processors/context.ts does with a failed job's scratch
    await trainer.deletePrefix('scratch/j1/').catch(() => undefined);
    expect(audit.violations).toHaveLength(1);
    expect(() => audit.assertNone()).toThrow(
      /1 bucket call\(s\) outside their role's grants[\s\S]*trainer deletePrefix scratch\/j1\/: role trainer may not list "scratch\/j1\/"/,
    );
  });

  it('judges signedUrl as a read, deletePrefix as a listing and a delete, list by its prefix', async () => {
    const api = audit.storageFor('api');
    // the API may store a training set but never read it back or delete it
    await api.put('training/t1/data/train/a.image.png', bytes('a'));
    await expect(api.signedUrl('training/t1/data/train/a.image.png', 60)).rejects.toThrow(/may not read/);
    await expect(api.deletePrefix('training/t1/')).rejects.toThrow(/may not list "training\/t1\/"/);
    await expect(api.list('training/')).rejects.toThrow(/may not list/);
    await expect(api.list('')).rejects.toThrow(/a listing must lie inside one granted prefix/);
    expect(await api.list('models/')).toEqual([]);
    // results: read and delete, never write
    await bucket.put(keys.result('default', 'j1', 'a.tif'), bytes('t'));
    expect(await api.list(keys.results('default', 'j1'))).toEqual([keys.result('default', 'j1', 'a.tif')]);
    await api.deletePrefix(keys.results('default', 'j1'));
    await expect(api.put(keys.result('default', 'j1', 'a.tif'), bytes('t'))).rejects.toThrow(/may not write/);
    expect(audit.violations.map((v) => `${v.call}:${v.op}`)).toEqual([
      'signedUrl:read',
      'deletePrefix:list',
      'list:list',
      'list:list',
      'put:write',
    ]);
    expect(await bucket.exists('training/t1/data/train/a.image.png')).toBe(true);
  });

  it('a put that would replace an existing object needs delete too (GCS), so a write-only grant refuses it', async () => {
    const api = audit.storageFor('api');
    const key = 'training/t1/data/train/a.image.png';
    await api.put(key, bytes('first'));
    await expect(api.put(key, bytes('again'))).rejects.toThrow(
      /put: role api may not replace the existing object "training\/t1\/data\/train\/a\.image\.png": GCS replaces an object only with delete/,
    );
    const body = Readable.from([Buffer.from('again')]);
    await expect(api.putStream(key, body)).rejects.toThrow(GrantViolationError);
    expect(text(await bucket.get(key))).toBe('first');
    // a role that may delete the key replaces it (a retried postprocess)
    const cpu = audit.storageFor('cpu-worker');
    await cpu.put(keys.result('default', 'j1', 'a.tif'), bytes('1'));
    await cpu.put(keys.result('default', 'j1', 'a.tif'), bytes('2'));
    expect(text(await bucket.get(keys.result('default', 'j1', 'a.tif')))).toBe('2');
    expect(audit.violations.map((v) => `${v.role} ${v.call}:${v.op}`)).toEqual([
      'api put:delete',
      'api putStream:delete',
    ]);
  });

  it('the training part of the gpu worker and the trainer: data, checkpoints, a published model', async () => {
    for (const role of ['gpu-worker', 'trainer'] as const) {
      const s = audit.storageFor(role);
      await bucket.put(`training/${role}/data/train/a.image.png`, bytes('a'));
      expect(await s.list(`training/${role}/data/`)).toEqual([`training/${role}/data/train/a.image.png`]);
      await s.put(`${checkpointPrefix(role)}epoch-1/last/w.bin`, bytes('w'));
      await s.put(`${checkpointPrefix(role)}latest.json`, bytes('{}'));
      await s.put(`${checkpointPrefix(role)}latest.json`, bytes('{"epoch":2}'));
      expect(await s.exists(`${checkpointPrefix(role)}latest.json`)).toBe(true);
      await s.delete(`${checkpointPrefix(role)}epoch-1/last/w.bin`);
      await s.deletePrefix(checkpointPrefix(role));
      await s.put(`models/${role}/1/card.json`, bytes('{}'));
      expect(await s.list('models/')).toContain(`models/${role}/1/card.json`);
      // never the uploads or the results
      await expect(s.get(keys.upload('default', 'u1', 'a.png'))).rejects.toThrow(/may not read/);
      await expect(s.list('results/')).rejects.toThrow(/may not list/);
    }
    expect(audit.violations.map((v) => `${v.role} ${v.call}`)).toEqual([
      'gpu-worker get',
      'gpu-worker list',
      'trainer get',
      'trainer list',
    ]);
  });

  it('a refused upload stream is drained, so its sender is not left waiting', async () => {
    const body = Readable.from([Buffer.alloc(1024), Buffer.alloc(1024)]);
    const ended = new Promise((r) => body.once('end', r));
    await expect(audit.storageFor('cpu-worker').putStream('uploads/x/y/z.png', body)).rejects.toThrow(
      GrantViolationError,
    );
    await ended;
  });

  it('one view per role over one bucket; an unknown role is refused when the view is made', () => {
    expect(audit.storageFor('api')).toBe(audit.storageFor('api'));
    expect(audit.storageFor('api')).not.toBe(audit.storageFor('cpu-worker'));
    expect(() => new GrantCheckedStorage(bucket, 'admin' as 'api', () => undefined)).toThrow(
      /unknown kiosk role "admin"/,
    );
  });

  it('localFolderUnder finds the folder bucket through grant-checked views', () => {
    expect(localFolderUnder(bucket)).toBe(bucket);
    expect(localFolderUnder(audit.storageFor('api'))).toBe(bucket);
    expect(localFolderUnder({ ...bucket, kind: 's3' } as never)).toBeUndefined();
  });
});

describe("the local bucket's sweeper runs with the API's grants", () => {
  it('removes the results, scratch and uploads of expired jobs through the API role view', async () => {
    const prefix = `test-${randomUUID()}`;
    const redis = connectRedis(inject('redisUrl'));
    try {
      await bucket.put(keys.result('default', 'gone', 'a_feature_0.tif'), bytes('t'));
      await bucket.put(keys.tiles('gone'), bytes('s'));
      await bucket.put(keys.upload('default', 'u1', 'a.png'), bytes('p'));
      const sweeper = new ExpiredObjectSweeper({
        storage: bucket,
        via: audit.storageFor('api'),
        records: new JobRecords(redis, prefix, 3600),
        unusedUploadTtlS: 1,
        log: () => undefined,
      });
      expect(await sweeper.sweep(Date.now() + 5000)).toEqual({ results: 1, scratch: 1, uploads: 1 });
      expect(await bucket.list('')).toEqual([]);
      expect(audit.lines()).toEqual([]);
    } finally {
      const left = await redis.keys(`${prefix}:*`);
      if (left.length) await redis.del(...left);
      redis.disconnect();
    }
  });
});

describe('withGrantCheck (KIOSK_GRANT_CHECK, for kiosk processes)', () => {
  it('is off unless set', () => {
    expect(withGrantCheck(bucket, {})).toBe(bucket);
    expect(withGrantCheck(bucket, { KIOSK_GRANT_CHECK: '' })).toBe(bucket);
  });

  it('a bad role names the variable', () => {
    expect(() => withGrantCheck(bucket, { KIOSK_GRANT_CHECK: 'worker' })).toThrow(
      /'KIOSK_GRANT_CHECK' must be a kiosk role \(api, cpu-worker, gpu-worker, trainer, autoscaler\); got "worker"/,
    );
  });

  it('checks calls as that role; each violation goes to stderr and, as a JSON line, to KIOSK_GRANT_CHECK_LOG', async () => {
    const log = join(dir, 'violations.jsonl');
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const s = withGrantCheck(bucket, { KIOSK_GRANT_CHECK: 'cpu-worker', KIOSK_GRANT_CHECK_LOG: log });
      expect(s).toBeInstanceOf(GrantCheckedStorage);
      await s.put(keys.tiles('j1'), bytes('t'));
      await expect(s.delete(keys.upload('default', 'u1', 'a.png'))).rejects.toThrow(GrantViolationError);
      await expect(s.put('training/t1/data/a.png', bytes('{}'))).rejects.toThrow(GrantViolationError);
      expect(stderr.mock.calls.map((c) => String(c[0]))).toEqual([
        expect.stringMatching(
          /^grant violation: cpu-worker delete uploads\/default\/u1\/a\.png: role cpu-worker/,
        ),
        expect.stringMatching(/^grant violation: cpu-worker put training\/t1\/data\/a\.png: /),
      ]);
    } finally {
      stderr.mockRestore();
    }
    const lines = (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as GrantViolation);
    expect(lines.map((v) => [v.role, v.call, v.op, v.key])).toEqual([
      ['cpu-worker', 'delete', 'delete', 'uploads/default/u1/a.png'],
      ['cpu-worker', 'put', 'write', 'training/t1/data/a.png'],
    ]);
  });
});

async function readAllStream(r: Readable): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { BadInputError, classifyError } from '../queues/errors.js';
import { FlakyStorage, withStorageFaults } from './flaky.js';
import { LocalFolderStorage } from './local.js';
import { StorageError } from './storage.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function folder(): Promise<LocalFolderStorage> {
  dir = await mkdtemp(join(tmpdir(), 'kiosk-flaky-'));
  return new LocalFolderStorage(dir);
}

/** Which of `n` puts fail (true = failed), and checks each outcome against the bucket. */
async function pattern(
  s: FlakyStorage,
  inner: LocalFolderStorage,
  n: number,
  tag: string,
): Promise<boolean[]> {
  const out: boolean[] = [];
  for (let i = 0; i < n; i++) {
    const key = `t/${tag}/${i}`;
    const err = await s.put(key, new Uint8Array([i & 255])).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (err === undefined) expect([...(await inner.get(key))]).toEqual([i & 255]);
    else {
      expect(err).toBeInstanceOf(StorageError);
      expect((err as StorageError).code).toBe('unavailable');
      expect(await inner.exists(key)).toBe(false);
    }
    out.push(err !== undefined);
  }
  return out;
}

describe('FlakyStorage (fault-suite test aid)', () => {
  it('fails about the given share of writes, the same ones for the same seed, and never a read', async () => {
    const inner = await folder();
    const a = new FlakyStorage(inner, 0.3, 42);
    const first = await pattern(a, inner, 300, 'a');
    const failed = first.filter(Boolean).length;
    expect(a.failures).toBe(failed);
    expect(failed).toBeGreaterThan(60); // 90 expected; binomial sd ≈ 8
    expect(failed).toBeLessThan(120);
    const again = await pattern(new FlakyStorage(inner, 0.3, 42), inner, 300, 'b');
    expect(again).toEqual(first);
    const other = await pattern(new FlakyStorage(inner, 0.3, 43), inner, 300, 'c');
    expect(other).not.toEqual(first);
    for (let i = 0; i < 50; i++)
      await a.get('t/c/0').catch((e: unknown) => expect(e).toBeInstanceOf(StorageError));
    expect(a.failures).toBe(failed); // reads do not draw faults
  });

  it('drains a streamed write it fails, and the failure is a transient error (retried, not a bad input)', async () => {
    const inner = await folder();
    const s = new FlakyStorage(inner, 0.999999, 1);
    const body = Readable.from([Buffer.alloc(1 << 16, 1), Buffer.alloc(1 << 16, 2)]);
    const err = await s.putStream('t/stream', body).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect(classifyError(err)).not.toBeInstanceOf(BadInputError);
    await new Promise((r) => body.once('end', r));
    expect(body.readableEnded).toBe(true);
    expect(await inner.exists('t/stream')).toBe(false);
  });

  it('is off unless KIOSK_FAULT_STORAGE_WRITE_FAIL_RATE is set above 0, and names a bad value', async () => {
    const inner = await folder();
    expect(withStorageFaults(inner, {})).toBe(inner);
    expect(withStorageFaults(inner, { KIOSK_FAULT_STORAGE_WRITE_FAIL_RATE: '0' })).toBe(inner);
    const flaky = withStorageFaults(inner, {
      KIOSK_FAULT_STORAGE_WRITE_FAIL_RATE: '0.05',
      KIOSK_FAULT_SEED: '3',
    });
    expect(flaky).toBeInstanceOf(FlakyStorage);
    expect((flaky as FlakyStorage).writeFailRate).toBe(0.05);
    expect(flaky.kind).toBe('local');
    expect(() => withStorageFaults(inner, { KIOSK_FAULT_STORAGE_WRITE_FAIL_RATE: '1' })).toThrow(
      /KIOSK_FAULT_STORAGE_WRITE_FAIL_RATE.*\[0, 1\)/,
    );
    expect(() => withStorageFaults(inner, { KIOSK_FAULT_STORAGE_WRITE_FAIL_RATE: 'lots' })).toThrow(
      /KIOSK_FAULT_STORAGE_WRITE_FAIL_RATE/,
    );
    expect(() =>
      withStorageFaults(inner, { KIOSK_FAULT_STORAGE_WRITE_FAIL_RATE: '0.1', KIOSK_FAULT_SEED: 'x' }),
    ).toThrow(/KIOSK_FAULT_SEED/);
  });
});

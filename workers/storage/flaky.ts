import type { Readable } from 'node:stream';
import { StorageError, type Bytes, type Storage } from './storage.js';

/**
 * TEST AID — never enable it in a deployment. A Storage wrapper whose writes (`put`, `putStream`) fail
 * transiently with StorageError('unavailable') at a given rate, from a seeded generator, so the fault
 * suite (`npm run test:faults`, docs/faults.md) can prove that workers retry a failed bucket write with
 * backoff and that no result is lost or written twice. Reads, listings and deletes pass through.
 *
 * Enabled only by the environment (see `withStorageFaults`):
 *   KIOSK_FAULT_STORAGE_WRITE_FAIL_RATE  probability in [0, 1) that one write fails (unset or 0: off)
 *   KIOSK_FAULT_SEED                     seed of the generator (integer; default 1)
 */
export class FlakyStorage implements Storage {
  /** Writes that failed on purpose so far. */
  failures = 0;
  private state: number;

  /**
   * @param writeFailRate probability in [0, 1) that one write fails
   * @param seed seed of the generator: the same seed fails the same writes (in the same order)
   * @param report told of each injected failure. @default - nothing
   */
  constructor(
    private readonly inner: Storage,
    readonly writeFailRate: number,
    seed = 1,
    private readonly report?: (msg: string) => void,
  ) {
    if (!(writeFailRate >= 0 && writeFailRate < 1))
      throw new RangeError(`write fail rate must be in [0, 1); got ${writeFailRate}`);
    this.state = seed >>> 0 || 1;
  }

  get kind(): Storage['kind'] {
    return this.inner.kind;
  }

  /** mulberry32: a small seeded generator in [0, 1). */
  private next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  private maybeFail(op: string, key: string): void {
    if (this.next() < this.writeFailRate) {
      this.failures++;
      const msg = `bucket ${op} of ${key} failed (injected fault, test aid)`;
      this.report?.(msg);
      throw new StorageError('unavailable', msg);
    }
  }

  async put(key: string, data: Bytes): Promise<void> {
    this.maybeFail('write', key);
    return this.inner.put(key, data);
  }

  async putStream(key: string, body: Readable): Promise<number> {
    try {
      this.maybeFail('write', key);
    } catch (err) {
      body.resume(); // drain the body so the sender is not left waiting
      throw err;
    }
    return this.inner.putStream(key, body);
  }

  get(key: string): Promise<Uint8Array> {
    return this.inner.get(key);
  }
  getStream(key: string): Promise<Readable> {
    return this.inner.getStream(key);
  }
  size(key: string): Promise<number | undefined> {
    return this.inner.size(key);
  }
  exists(key: string): Promise<boolean> {
    return this.inner.exists(key);
  }
  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  deletePrefix(prefix: string): Promise<void> {
    return this.inner.deletePrefix(prefix);
  }
  signedUrl(key: string, expiresInS: number): Promise<string | undefined> {
    return this.inner.signedUrl(key, expiresInS);
  }
  signedUrlOrigins(): Promise<readonly string[]> {
    return this.inner.signedUrlOrigins();
  }
}

/**
 * `storage` itself, or a FlakyStorage around it when KIOSK_FAULT_STORAGE_WRITE_FAIL_RATE is set above 0
 * (test aid; see FlakyStorage). A bad value throws, naming the variable.
 */
export function withStorageFaults(
  storage: Storage,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Storage {
  const raw = env.KIOSK_FAULT_STORAGE_WRITE_FAIL_RATE;
  if (raw === undefined || raw === '') return storage;
  const rate = Number(raw);
  if (!(rate >= 0 && rate < 1))
    throw new RangeError(
      `'KIOSK_FAULT_STORAGE_WRITE_FAIL_RATE' must be a number in [0, 1); got ${JSON.stringify(raw)}`,
    );
  const seedRaw = env.KIOSK_FAULT_SEED ?? '1';
  const seed = Number(seedRaw);
  if (!Number.isInteger(seed))
    throw new RangeError(`'KIOSK_FAULT_SEED' must be an integer; got ${JSON.stringify(seedRaw)}`);
  if (rate === 0) return storage;
  // one line per injected failure on stderr: the fault suite counts them
  return new FlakyStorage(storage, rate, seed, (msg) => process.stderr.write(`storage: ${msg}\n`));
}

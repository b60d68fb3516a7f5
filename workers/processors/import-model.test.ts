// The import-model processor on a real folder bucket, called directly (api/routes/models-import.test.ts runs it
// through the queue, behind the API): what it publishes, and how each refusal reaches the API.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnrecoverableError, type Job } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { foregroundPackage05, withRdf, type PackageFiles } from '../bioimageio/testing/third-party.js';
import { packZip } from '../image/zip.js';
import { keys } from '../queues/names.js';
import { ModelRegistry } from '../registry/registry.js';
import { GrantAudit } from '../storage/grant-check.js';
import { LocalFolderStorage } from '../storage/local.js';
import type { WorkerContext } from './context.js';
import {
  importModelProcessor,
  importRefusal,
  type ImportModelJobData,
  type ImportModelResult,
} from './import-model.js';

const zip = (files: PackageFiles): Uint8Array => packZip([...files].map(([name, data]) => ({ name, data })));

let dir: string;
let audit: GrantAudit;
let run: (data: ImportModelJobData) => Promise<ImportModelResult>;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'import-model-'));
  audit = new GrantAudit(new LocalFolderStorage(join(dir, 'bucket')));
  const storage = audit.storageFor('cpu-worker');
  const ctx = {
    storage,
    registry: new ModelRegistry({ storage, cacheDir: join(dir, 'cache') }),
    log: () => undefined,
  } as unknown as WorkerContext; // the processor uses only these
  const processor = importModelProcessor(ctx);
  run = (data) => processor({ id: 'i1', data } as Job<ImportModelJobData, ImportModelResult>);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function stage(bytes: Uint8Array, id = 'u1'): Promise<string> {
  const key = keys.upload('lab-a', id, 'package.zip');
  await audit.bucket.put(key, bytes);
  return key;
}

describe('import-model processor', () => {
  it("publishes the package as the lab's next version, card last, within the cpu worker's grants", async () => {
    const key = await stage(zip(foregroundPackage05().files));
    expect(await run({ lab: 'lab-a', key, name: 'fg' })).toMatchObject({
      name: 'fg',
      version: '1',
      labels: 'foreground-watershed',
      test: { passed: true },
    });
    // another lab's import of the same name: versions count over every lab
    expect(await run({ lab: 'lab-b', key, name: 'fg' })).toMatchObject({ version: '2' });
    const card = JSON.parse(Buffer.from(await audit.bucket.get('models/fg/2/card.json')).toString()) as {
      lab: string;
      version: number;
    };
    expect(card).toMatchObject({ lab: 'lab-b', version: 2 });
    expect(audit.lines()).toEqual([]);
  });

  it('refuses a bad package or a taken name for good, with a reason the API reads back', async () => {
    const broken = withRdf(foregroundPackage05().files, (r) => (r.inputs[0].axes[2] = { type: 'time' }));
    const bad = await run({ lab: 'lab-a', key: await stage(zip(broken)) }).catch((e: Error) => e);
    expect(bad).toBeInstanceOf(UnrecoverableError);
    expect(importRefusal((bad as Error).message)).toEqual({
      error: 'bad-model-package',
      message: expect.stringMatching(/'inputs\[0\]\.axes\[2\]\.type': axis type "time".*\[bad-axes\]/),
    });
    const notZip = await run({ lab: 'lab-a', key: await stage(new TextEncoder().encode('x'), 'u2') }).catch(
      (e: Error) => e,
    );
    expect(importRefusal((notZip as Error).message)?.message).toMatch(/not a zip archive/);

    // a model of our own (not an import) in the bucket holds the name
    await audit.bucket.put(
      'models/mine/1/card.json',
      new TextEncoder().encode('{"name":"mine","version":1}'),
    );
    const key = await stage(zip(foregroundPackage05().files), 'u3');
    const taken = await run({ lab: 'lab-a', key, name: 'mine' }).catch((e: Error) => e);
    expect(taken).toBeInstanceOf(UnrecoverableError);
    expect(importRefusal((taken as Error).message)).toEqual({
      error: 'model-name-taken',
      message: "model 'mine' exists and is not a bioimage.io import; send another name",
    });
    expect(await audit.bucket.list('models/mine/')).toEqual(['models/mine/1/card.json']);

    // a missing staged package is no refusal: the API answers it as its own (internal) error
    const gone = await run({ lab: 'lab-a', key: keys.upload('lab-a', 'none', 'package.zip') }).catch(
      (e: Error) => e,
    );
    expect(importRefusal((gone as Error).message)).toBeUndefined();
    expect(importRefusal('something else: x')).toBeUndefined();
  });
});

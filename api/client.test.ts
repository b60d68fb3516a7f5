import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { NUCLEI_VAL } from '../test/data.js';
import { KioskClient, KioskClientError } from './client.js';
import type { JobView } from './schemas.js';
import { startTestService, type TestService } from './service-harness.test-helpers.js';

describe('KioskClient (node:http, hand-built multipart) against a listening API', () => {
  let svc: TestService;
  let client: KioskClient;
  let png: Uint8Array;
  beforeAll(async () => {
    svc = await startTestService(inject('redisUrl'), { listen: true });
    client = new KioskClient(svc.url);
    const file = (await import('node:fs')).readdirSync(NUCLEI_VAL).find((f) => f.endsWith('.image.png'))!;
    png = await readFile(join(NUCLEI_VAL, file));
  });
  afterAll(async () => {
    client.close();
    await svc.close();
  });

  it('file names and fields arrive as a browser FormData sends them (quotes, non-ASCII)', async () => {
    const name = 'cells "1" é.png';
    const job = await client.submit([{ name, bytes: png }], { name: 'run "a"', options: { channels: [0] } });
    const fd = new FormData();
    fd.append('name', 'run "a"');
    fd.append('options', JSON.stringify({ channels: [0] }));
    fd.append('file', new Blob([new Uint8Array(png)]), name);
    const viaFetch = (await (
      await fetch(`${svc.url}/v1/jobs/upload`, { method: 'POST', body: fd })
    ).json()) as JobView;
    expect(job.name).toBe(viaFetch.name);
    expect(job.options).toEqual(viaFetch.options);
    expect((await svc.wait(job.id)).status).toBe('done');
    const done = await client.getJob(job.id);
    const tif = await client.download(done.labelsUrl!);
    expect([...tif.subarray(0, 2)]).toEqual([0x49, 0x49]); // a little-endian TIFF
  });

  it('upload then createJob make the same kind of job; several files make a batch', async () => {
    const keys = await client.upload([
      { name: 'a.png', bytes: png },
      { name: 'b.png', bytes: png },
    ]);
    expect(keys).toHaveLength(2);
    const job = await client.createJob({ inputs: keys });
    expect(job.kind).toBe('batch');
  });

  it('a refused request throws KioskClientError with the status, the code and the reason', async () => {
    const err = await client
      .submit([{ name: 'notes.png', bytes: new TextEncoder().encode('not an image') }])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KioskClientError);
    expect((err as KioskClientError).status).toBe(400);
    expect((err as KioskClientError).message).toMatch(/^HTTP 400 \S+: .*notes\.png/);
  });
});

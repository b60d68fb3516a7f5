import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { decodeImage } from '../workers/image/decode.js';
import { startTestService, type TestService } from './service-harness.test-helpers.js';
import { NUCLEI_VAL } from '../test/data.js';

const VAL = NUCLEI_VAL;
const STEM = 'dsb_03398329ced0c23b';

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.close();
  svc = undefined;
});

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Polls POST /api/redis {hash, key: 'status'} like kiosk-client's monitor(), until a final status. */
async function monitor(host: string, hash: string, timeoutMs = 30_000): Promise<string[]> {
  const seen: string[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { json } = await post(`${host}/api/redis`, { hash, key: 'status' });
    const status = json.value as string;
    if (seen.at(-1) !== status) seen.push(status);
    if (status === 'done' || status === 'failed') return seen;
    if (Date.now() > deadline) throw new Error(`still ${status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20)); // the client's update_interval, shortened
  }
}

describe('DeepCell kiosk-client compatibility (listening server)', () => {
  it("replays the client's sequence: upload → predict → poll status → summarize → download output_url → expire", async () => {
    svc = await startTestService(inject('redisUrl'), { listen: true });
    const host = svc.url;
    // upload_file(): multipart field 'file'
    const fd = new FormData();
    fd.append(
      'file',
      new Blob([new Uint8Array(await readFile(join(VAL, `${STEM}.image.png`)))]),
      `${STEM}.png`,
    );
    const up = await fetch(`${host}/api/upload/`, { method: 'POST', body: fd });
    expect(up.status).toBe(200);
    const { uploadedName, imageURL } = (await up.json()) as { uploadedName: string; imageURL: string };
    expect(uploadedName).toMatch(new RegExp(`^uploads/default/[0-9a-f-]+/${STEM}\\.png$`));
    expect((await fetch(imageURL)).status).toBe(200);
    // start(upload=True): filepath = relpath(uploadedName, 'uploads'); create() with the client's JSON body
    const filepath = uploadedName.slice('uploads/'.length);
    const created = await post(`${host}/api/predict`, {
      modelName: 'trivial',
      modelVersion: '1',
      preprocessFunction: '',
      postprocessFunction: '',
      imageName: filepath,
      jobType: 'segmentation',
      dataRescale: '',
      dataLabel: '',
      uploadedName: `uploads/${filepath}`,
    });
    expect(created.status).toBe(200);
    const hash = created.json.hash as string;
    expect(hash).toMatch(/^[0-9a-f-]{36}$/);
    const statuses = await monitor(host, hash);
    expect(statuses.at(-1)).toBe('done');
    // summarize(): string fields, then numeric fields (split on ',')
    const summary: Record<string, unknown> = {};
    for (const f of [
      'created_at',
      'finished_at',
      'reason',
      'output_url',
      'prediction_time',
      'postprocess_time',
      'upload_time',
      'total_jobs',
      'total_time',
    ]) {
      summary[f] = (await post(`${host}/api/redis`, { hash, key: f })).json.value;
    }
    expect(Date.parse(summary.created_at as string)).toBeLessThanOrEqual(
      Date.parse(summary.finished_at as string),
    );
    expect(summary.reason).toBeNull();
    expect(Number(summary.total_time)).toBeGreaterThan(0);
    expect(Number(summary.prediction_time)).toBeGreaterThanOrEqual(0);
    expect(Number(summary.postprocess_time)).toBeGreaterThanOrEqual(0);
    const outputUrl = summary.output_url as string;
    expect(outputUrl.startsWith(host)).toBe(true);
    expect(outputUrl.split('/').at(-1)).toBe(`${STEM}.zip`); // the client names the download after it
    // an array of keys gives an array of values
    expect((await post(`${host}/api/redis`, { hash, key: ['status', 'progress'] })).json.value).toEqual([
      'done',
      '100',
    ]);
    expect((await post(`${host}/api/status`, { hash })).json).toEqual({ status: 'done' });
    // download_output()
    const dl = await fetch(outputUrl);
    expect(dl.status).toBe(200);
    const zip = unzipSync(new Uint8Array(await dl.arrayBuffer()));
    expect(Object.keys(zip)).toEqual([`${STEM}_feature_0.tif`]);
    const labels = decodeImage(zip[`${STEM}_feature_0.tif`]!, { name: 'labels' });
    expect(labels.shape).toEqual([256, 256]);
    // expire()
    expect(await post(`${host}/api/redis/expire`, { hash, expireIn: 3600 })).toEqual({
      status: 200,
      json: { value: 1 },
    });
    expect(await svc.services.redis.ttl(svc.services.records.key(hash))).toBeLessThanOrEqual(3600);
    expect(await post(`${host}/api/redis/expire`, { hash: 'nope', expireIn: 10 })).toEqual({
      status: 404,
      json: { value: 0 },
    });
  });

  it('answers the catalog routes, with and without trailing slashes', async () => {
    svc = await startTestService(inject('redisUrl'), { listen: true, pools: false });
    for (const slash of ['', '/']) {
      expect(await (await fetch(`${svc.url}/api/jobtypes${slash}`)).json()).toEqual({
        jobTypes: ['segmentation'],
      });
      expect(await (await fetch(`${svc.url}/api/models${slash}`)).json()).toEqual({
        models: { trivial: ['1'] },
      });
      expect(await (await fetch(`${svc.url}/api/health-check${slash}`)).json()).toEqual({ message: 'OK' });
    }
    expect((await post(`${svc.url}/api/redis`, { hash: 'unknown', key: 'status' })).json).toEqual({
      value: null,
    });
  });

  it('maps jobForm and a .zip imageName onto a batch; rejects bad bodies with a message', async () => {
    svc = await startTestService(inject('redisUrl'), { listen: true });
    const png = new Uint8Array(await readFile(join(VAL, `${STEM}.image.png`)));
    const fd = new FormData();
    fd.append('file', new Blob([zipSync({ 'a.png': png, 'b.png': png })]), 'two.zip');
    const { uploadedName } = (await (
      await fetch(`${svc.url}/api/upload`, { method: 'POST', body: fd })
    ).json()) as { uploadedName: string };
    const created = await post(`${svc.url}/api/predict/`, {
      jobType: 'segmentation',
      imageName: 'two.zip',
      uploadedName,
      jobForm: { dimensionOrder: 'XY', selectedChannels: '0', scale: 1, segmentationType: 'nuclear' },
    });
    expect(created.status).toBe(200);
    const hash = created.json.hash as string;
    expect((await monitor(svc.url, hash)).at(-1)).toBe('done');
    expect((await post(`${svc.url}/api/redis`, { hash, key: 'total_jobs' })).json.value).toBe('2');
    const bad = [
      [{ imageName: 'x.png' }, /jobType/],
      [{ jobType: 'segmentation' }, /imageName/],
      [{ jobType: 'tracking', imageName: 'x.png' }, /unknown job type "tracking"; available: segmentation/],
      [
        { jobType: 'segmentation', imageName: 'x.png', uploadedName: uploadedName, modelName: 'mesmer' },
        /unknown model "mesmer"/,
      ],
      [
        {
          jobType: 'segmentation',
          imageName: 'x.png',
          uploadedName: uploadedName,
          modelName: 'trivial',
          modelVersion: '5',
        },
        /has no version "5"/,
      ],
      [
        { jobType: 'segmentation', imageName: 'missing.png' },
        /"uploads\/missing\.png" is not an upload of this lab/,
      ],
      [
        { jobType: 'segmentation', imageName: 'x.png', uploadedName, dataRescale: 'big' },
        /'dataRescale' must be a positive number; got "big"/,
      ],
    ] as const;
    for (const [body, why] of bad) {
      const r = await post(`${svc.url}/api/predict`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.message).toMatch(why);
    }
  });
});

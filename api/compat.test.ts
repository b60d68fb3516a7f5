import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { decodeImage } from '../workers/image/decode.js';
import { startTestService, type TestService } from './service-harness.test-helpers.js';
import { NUCLEI_VAL } from '../test/data.js';
import { trivialStages } from '../workers/processors/trivial-stages.js';

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
        jobTypes: ['segmentation', 'whole-cell', 'mesmer'],
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

/** kiosk-client's Job.summarize(): every field, read one /api/redis call each, numbers split on ','. */
const SUMMARY_STRINGS = ['created_at', 'finished_at', 'reason', 'output_url'] as const;
const SUMMARY_NUMBERS = [
  'prediction_time',
  'predict_retries',
  'postprocess_time',
  'upload_time',
  'download_time',
  'children_upload_time',
  'cleanup_time',
  'total_jobs',
  'total_time',
] as const;
async function summarize(host: string, hash: string): Promise<Record<string, string | string[]>> {
  const out: Record<string, string | string[]> = {};
  for (const f of [...SUMMARY_STRINGS, ...SUMMARY_NUMBERS]) {
    const value = (await post(`${host}/api/redis`, { hash, key: f })).json.value;
    // the client does str(value).split(','): None shows as 'None'
    const text = value === null ? 'None' : String(value as string);
    const parts = text.split(',');
    out[f] = (SUMMARY_NUMBERS as readonly string[]).includes(f) && parts.length > 1 ? parts : parts[0]!;
  }
  return out;
}

async function uploadAndPredict(host: string, name: string, bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const fd = new FormData();
  fd.append('file', new Blob([bytes]), name);
  const { uploadedName } = (await (
    await fetch(`${host}/api/upload`, { method: 'POST', body: fd })
  ).json()) as {
    uploadedName: string;
  };
  const created = await post(`${host}/api/predict`, {
    jobType: 'segmentation',
    imageName: name,
    uploadedName,
  });
  expect(created.status).toBe(200);
  return created.json.hash as string;
}

describe("the DeepCell client's summary (issue 23 #8)", () => {
  it('issue 23 #8: an image job reports upload_time, download_time and predict_retries (measured), not None', async () => {
    // The first predict attempt of the job fails with a transient error, so the retry count is 1, not 0.
    let predictCalls = 0;
    svc = await startTestService(inject('redisUrl'), {
      listen: true,
      stages: {
        ...trivialStages,
        predict(prepared, runner, card) {
          if (predictCalls++ === 0) throw new Error('model server went away (test)');
          return trivialStages.predict(prepared, runner, card);
        },
      },
    });
    const png = new Uint8Array(await readFile(join(VAL, `${STEM}.image.png`)));
    const hash = await uploadAndPredict(svc.url, `${STEM}.png`, png);
    expect((await monitor(svc.url, hash)).at(-1)).toBe('done');
    const summary = await summarize(svc.url, hash);
    for (const f of ['prediction_time', 'postprocess_time', 'upload_time', 'download_time', 'total_time']) {
      expect(summary[f], f).not.toBe('None');
      expect(Number(summary[f]), f).toBeGreaterThanOrEqual(0);
    }
    expect(summary.predict_retries).toBe('1');
    expect(predictCalls).toBe(2);
    // a single image has no children: the Kiosk leaves these unset for an image job too
    expect([summary.children_upload_time, summary.cleanup_time, summary.total_jobs]).toEqual([
      'None',
      'None',
      'None',
    ]);
  });

  it("issue 23 #8: a zip job answers its done images' timings joined by ',' and its cleanup_time, as the Kiosk's zip consumer", async () => {
    svc = await startTestService(inject('redisUrl'), { listen: true });
    const png = new Uint8Array(await readFile(join(VAL, `${STEM}.image.png`)));
    const hash = await uploadAndPredict(
      svc.url,
      'three.zip',
      zipSync({ 'a.png': png, 'b.png': png, 'broken.png': new TextEncoder().encode('not an image') }),
    );
    expect((await monitor(svc.url, hash)).at(-1)).toBe('done');
    const summary = await summarize(svc.url, hash);
    expect(summary.total_jobs).toBe('3');
    // two images were done, the broken one failed: two numbers per field, from the children's records
    const children = (await svc.services.records.get(hash))!.children!;
    const done = [];
    for (const id of children) {
      const rec = (await svc.services.records.get(id))!;
      if (rec.status === 'done') done.push(rec);
    }
    expect(done).toHaveLength(2);
    for (const f of [
      'prediction_time',
      'postprocess_time',
      'upload_time',
      'download_time',
      'total_time',
    ] as const) {
      expect(summary[f], f).toEqual(done.map((r) => String(r[f])));
    }
    expect(summary.predict_retries).toEqual(['0', '0']);
    expect(Number(summary.cleanup_time)).toBeGreaterThanOrEqual(0);
    expect(summary.cleanup_time).not.toBe('None');
  });
});

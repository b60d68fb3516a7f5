import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { decodeImage } from '../../workers/image/decode.js';
import { encodePng } from '../../workers/image/png.js';
import { jobTypeRegistry, JobTypeRegistry } from '../../workers/jobtypes/registry.js';
import segmentation from '../../workers/jobtypes/segmentation/job-type.js';
import type { JobTypeDefinition } from '../../workers/jobtypes/types.js';
import { trivialStages } from '../../workers/processors/trivial-stages.js';
import type { JobView } from '../schemas.js';
import { deepCellSubmit } from './deepcell-client.test-helpers.js';
import { multipart, startTestService, type TestService } from '../service-harness.test-helpers.js';

const TINY = join(dirname(fileURLToPath(import.meta.url)), '../../workers/jobtypes/testing/tiny');

/** 12×10 RGB: channel 0 has two bright squares, channel 1 one bright square elsewhere. */
function twoChannelPng(): Uint8Array {
  const h = 10;
  const w = 12;
  const data = new Uint8Array(h * w * 3);
  const set = (y0: number, x0: number, c: number) => {
    for (let y = y0; y < y0 + 3; y++) for (let x = x0; x < x0 + 3; x++) data[(y * w + x) * 3 + c] = 200;
  };
  set(1, 1, 0);
  set(6, 7, 0);
  set(1, 8, 1);
  return encodePng({ data, dtype: 'uint8', shape: [h, w, 3], axes: 'YXS' });
}

describe('job types as plug-ins: a type from one folder, through the real API, Redis and workers', () => {
  let svc: TestService;
  let tiny: JobTypeDefinition;
  beforeAll(async () => {
    // The folder is the whole type: nothing else names it. Loaded into this process's registry, which the
    // API's routes and the in-process workers both read.
    tiny = await (await jobTypeRegistry()).loadFolder(TINY);
    svc = await startTestService(inject('redisUrl'), { listen: true });
  });
  afterAll(async () => {
    await svc?.close();
    (await jobTypeRegistry()).unregister(tiny.name);
  });

  const upload = async (body: Record<string, string>) =>
    svc.app.inject({
      method: 'POST',
      url: '/v1/jobs/upload',
      ...(await multipart([['file', 'cells.png', twoChannelPng()]], body)),
    });

  it('GET /v1/job-types and /api/jobtypes list it with its channels and outputs', async () => {
    const v1 = (await svc.app.inject({ url: '/v1/job-types' })).json() as { jobTypes: { name: string }[] };
    expect(v1.jobTypes.find((t) => t.name === 'tiny-test')).toEqual({
      name: 'tiny-test',
      description: tiny.description,
      defaultModel: 'trivial',
      aliases: ['tiny-alias'],
      input: {
        channels: [
          { name: 'signal', description: 'bright objects' },
          { name: 'other', description: 'taken, not used' },
        ],
        channelsFromModel: false,
        axes: ['YX'],
        dtypes: ['uint8', 'uint16'],
      },
      outputs: [
        { name: 'objects', kind: 'labels', description: 'bright objects, ids 1..N' },
        { name: 'background', kind: 'labels', description: '1 where no object is' },
      ],
    });
    const compat = (await svc.app.inject({ url: '/api/jobtypes' })).json() as { jobTypes: string[] };
    expect(compat.jobTypes).toEqual(expect.arrayContaining(['segmentation', 'tiny-test', 'tiny-alias']));
  });

  it('runs a job of it: both outputs, ids as its stages made them, in the labels and the DeepCell zip', async () => {
    const res = await upload({ type: 'tiny-test', options: JSON.stringify({ channels: [0, 1] }) });
    expect(res.statusCode).toBe(201);
    const job = res.json() as JobView;
    expect(job.type).toBe('tiny-test');
    const rec = await svc.wait(job.id);
    expect(rec.status, rec.reason).toBe('done');
    expect(rec.object_count).toBe(2); // the primary output: channel 0's two squares, not channel 1's
    const view = (await svc.app.inject({ url: `/v1/jobs/${job.id}` })).json() as JobView;
    const get = async (url: string) => {
      const u = new URL(url);
      return new Uint8Array((await svc.app.inject({ url: u.pathname + u.search })).rawPayload);
    };
    const objects = decodeImage(await get(view.labelsUrl!), { name: 'l.tif' });
    expect(new Set(objects.data)).toEqual(new Set([0, 1, 2]));
    expect(view.outputs?.map((o) => o.name)).toEqual(['objects', 'background']);
    expect(view.outputs?.[0]?.url).toBe(view.labelsUrl);
    expect(view.outputs?.[1]?.url).toMatch(/\/files\/cells\.background\.labels\.tif$/);
    const background = decodeImage(await get(view.outputs![1]!.url), { name: 'bg.tif' });
    for (let i = 0; i < objects.data.length; i++)
      expect(background.data[i]).toBe(objects.data[i] === 0 ? 1 : 0);
    const zip = unzipSync(await get(view.resultUrl!));
    expect(Object.keys(zip).sort()).toEqual(['cells_feature_0.tif', 'cells_feature_1.tif']);
    expect([...decodeImage(zip['cells_feature_1.tif']!, { name: 'f1.tif' }).data]).toEqual([
      ...background.data,
    ]);
  });

  it("refuses channels that do not match the type's, and an unknown type, naming what there is (400)", async () => {
    const bad = await upload({ type: 'tiny-test', options: JSON.stringify({ channels: [0] }) });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/tiny-test takes 2 channel\(s\), in this order: signal, other/);
    const unknown = await upload({ type: 'tracking' });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json()).toEqual({
      error: 'unknown-job-type',
      message: `unknown job type "tracking"; available: ${(await jobTypeRegistry()).names().join(', ')}`,
    });
    expect(unknown.json().message).toMatch(/segmentation.*tiny-test/);
    // an alias is DeepCell's name: the compatible routes take it, v1 asks for the type's own name
    expect((await upload({ type: 'tiny-alias' })).statusCode).toBe(400);
  });

  it('the DeepCell route takes the alias', async () => {
    const hash = await deepCellSubmit(svc.url, 'c.png', twoChannelPng(), 'tiny-alias');
    const rec = await svc.wait(hash);
    expect([rec.status, rec.type]).toEqual(['done', 'tiny-test']);
  });
});

describe('JobTypeRegistry', () => {
  const def = (over: Partial<JobTypeDefinition>): JobTypeDefinition => ({ ...segmentation, ...over });

  it('finds the built-in types by their folders', async () => {
    expect((await jobTypeRegistry()).names()).toContain('segmentation');
  });

  it('refuses a definition that is not one, naming what is wrong', () => {
    const r = new JobTypeRegistry();
    r.register(def({ aliases: ['nuclear'] }));
    expect(() => r.register(def({ name: 'Seg mentation' }))).toThrow(/name must match/);
    expect(() => r.register(def({ name: 'other', aliases: ['nuclear'] }))).toThrow(
      /"nuclear" is taken by job type segmentation/,
    );
    expect(() => r.register(def({ name: 'x', outputs: [] }))).toThrow(/outputs lists no output/);
    expect(() => r.register(def({ name: 'x', input: { ...segmentation.input, channels: [] } }))).toThrow(
      /input.channels lists no channel/,
    );
    expect(r.find('nuclear')).toBeUndefined();
    expect(r.find('nuclear', { aliases: true })?.name).toBe('segmentation');
    expect(() => r.get('nope')).toThrow('unknown job type "nope"; available: segmentation');
  });

  it('makes the stages of a type once per model stages', () => {
    const r = new JobTypeRegistry();
    let made = 0;
    r.register(def({ stages: (b) => (made++, b) }));
    const base = trivialStages;
    const t = r.get('segmentation');
    expect(r.stagesOf(t, base)).toBe(r.stagesOf(t, base));
    expect(made).toBe(1);
  });
});

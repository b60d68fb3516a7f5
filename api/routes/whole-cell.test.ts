import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { checkPackage, writeImportedModel } from '../../workers/bioimageio/import.js';
import { decodeImage } from '../../workers/image/decode.js';
import { scoreImage } from '../../workers/image/metrics.js';
import { encodePng } from '../../workers/image/png.js';
import {
  syntheticCells,
  syntheticCellsPng,
  type SyntheticCells,
} from '../../workers/image/synthetic-cells.js';
import type { Labels } from '../../workers/image/types.js';
import { jobTypeRegistry } from '../../workers/jobtypes/registry.js';
import { modelsInFolder, runJobType } from '../../workers/jobtypes/run.js';
import { cellForegroundPackage } from '../../workers/jobtypes/whole-cell/cell-model-package.test-helpers.js';
import {
  TRIVIAL_CARD,
  TrivialThresholdRunner,
  trivialStages,
} from '../../workers/processors/trivial-stages.js';
import type { JobView } from '../schemas.js';
import { deepCellSubmit } from './deepcell-client.test-helpers.js';
import { multipart, startTestService, type TestService } from '../service-harness.test-helpers.js';

const asLabels = (bytes: Uint8Array): Labels => {
  const raw = decodeImage(bytes, { name: 'l.tif' });
  return { data: Uint32Array.from(raw.data), height: raw.shape[0]!, width: raw.shape[1]! };
};

/** Each nucleus pixel's id is its cell's, and the two hold the same ids. */
function expectMatched(cells: Labels, nuclei: Labels): void {
  for (let i = 0; i < nuclei.data.length; i++)
    if (nuclei.data[i] !== 0) expect(cells.data[i]).toBe(nuclei.data[i]);
  expect(new Set(cells.data)).toEqual(new Set(nuclei.data));
}

describe('whole-cell job type through the real API, Redis and workers (trivial nuclear stage)', () => {
  let svc: TestService;
  let truth: SyntheticCells;
  let png: Uint8Array;
  let modelsDir: string;
  beforeAll(async () => {
    // the kiosk's models folder holds a whole-cell foreground model imported from bioimage.io (a package
    // built from scratch, cell-model-package.test-helpers.ts)
    modelsDir = await mkdtemp(join(tmpdir(), 'whole-cell-api-models-'));
    await writeImportedModel(modelsDir, await checkPackage(cellForegroundPackage(), { name: 'cells-fg' }));
    svc = await startTestService(inject('redisUrl'), { listen: true, modelsDir });
    truth = syntheticCells(160, 160, { count: 30, minR: 12, maxR: 16, seed: 5 });
    png = syntheticCellsPng(truth);
  });
  afterAll(async () => {
    await svc?.close();
    if (modelsDir) await rm(modelsDir, { recursive: true, force: true });
  });

  const get = async (url: string) => {
    const u = new URL(url);
    return new Uint8Array((await svc.app.inject({ url: u.pathname + u.search })).rawPayload);
  };

  it('gives cells and nuclei with matched ids; both score against the known cells and nuclei', async () => {
    const res = await svc.app.inject({
      method: 'POST',
      url: '/v1/jobs/upload',
      ...(await multipart([['file', 'tissue.png', png]], {
        type: 'whole-cell',
        options: JSON.stringify({ channels: [0, 1] }),
      })),
    });
    expect(res.statusCode).toBe(201);
    const rec = await svc.wait((res.json() as JobView).id);
    expect(rec.status, rec.reason).toBe('done');
    const view = (await svc.app.inject({ url: `/v1/jobs/${rec.id}` })).json() as JobView;
    expect(view.outputs?.map((o) => o.name)).toEqual(['cells', 'nuclei']);
    const cells = asLabels(await get(view.outputs![0]!.url));
    const nuclei = asLabels(await get(view.outputs![1]!.url));
    expectMatched(cells, nuclei);
    const n = new Set(truth.cells.data).size - 1;
    const fc = scoreImage(cells, truth.cells).f1_50;
    const fn = scoreImage(nuclei, truth.nuclei).f1_50;
    process.stderr.write(
      `whole-cell (trivial nuclear stage), ${n} cells: F1@0.5 cells ${fc.toFixed(3)}, nuclei ${fn.toFixed(3)}\n`,
    );
    expect(fn).toBe(1);
    expect(fc).toBeGreaterThan(0.9);
    expect(rec.object_count).toBe(new Set(cells.data).size - 1);
  });

  it("the DeepCell client's -j mesmer: /api/jobtypes lists it, /api/predict runs whole-cell, the zip holds both", async () => {
    const types = (await (await fetch(`${svc.url}/api/jobtypes`)).json()) as { jobTypes: string[] };
    expect(types.jobTypes).toEqual(expect.arrayContaining(['segmentation', 'whole-cell', 'mesmer']));
    const hash = await deepCellSubmit(svc.url, 'tissue.png', png, 'mesmer');
    const rec = await svc.wait(hash);
    expect([rec.status, rec.type]).toEqual(['done', 'whole-cell']);
    const out = (await (
      await fetch(`${svc.url}/api/redis`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ hash, key: 'output_url' }),
      })
    ).json()) as { value: string };
    expect(out.value).toMatch(/tissue\.zip$/);
    const zip = unzipSync(new Uint8Array(await (await fetch(out.value)).arrayBuffer()));
    expect(Object.keys(zip).sort()).toEqual(['tissue_feature_0.tif', 'tissue_feature_1.tif']);
    expectMatched(asLabels(zip['tissue_feature_0.tif']!), asLabels(zip['tissue_feature_1.tif']!));
  });

  it('a batch (zip) of whole-cell images: its zip holds both outputs of each image', async () => {
    const res = await svc.app.inject({
      method: 'POST',
      url: '/v1/jobs/upload',
      ...(await multipart([['file', 'plate.zip', zipSync({ 'a.png': png, 'b.png': png })]], {
        type: 'whole-cell',
      })),
    });
    expect(res.statusCode).toBe(201);
    const rec = await svc.wait((res.json() as JobView).id);
    expect([rec.kind, rec.status]).toEqual(['batch', 'done']);
    const view = (await svc.app.inject({ url: `/v1/jobs/${rec.id}` })).json() as JobView;
    const zip = unzipSync(await get(view.resultUrl!));
    expect(Object.keys(zip).sort()).toEqual([
      'a_feature_0.tif',
      'a_feature_1.tif',
      'b_feature_0.tif',
      'b_feature_1.tif',
    ]);
    expectMatched(asLabels(zip['b_feature_0.tif']!), asLabels(zip['b_feature_1.tif']!));
  });

  it('refuses one channel, and an image with one channel fails naming the channel', async () => {
    const one = await svc.app.inject({
      method: 'POST',
      url: '/v1/jobs/upload',
      ...(await multipart([['file', 'tissue.png', png]], {
        type: 'whole-cell',
        options: JSON.stringify({ channels: [0] }),
      })),
    });
    expect(one.statusCode).toBe(400);
    expect(one.json().message).toMatch(/whole-cell takes 2 channel\(s\), in this order: nuclear, membrane/);
    const grey = encodePng({ data: new Uint8Array(64 * 64), dtype: 'uint8', shape: [64, 64], axes: 'YX' });
    const res = await svc.app.inject({
      method: 'POST',
      url: '/v1/jobs/upload',
      ...(await multipart([['file', 'grey.png', grey]], { type: 'whole-cell' })),
    });
    const rec = await svc.wait((res.json() as JobView).id);
    expect(rec.status).toBe('failed');
    expect(rec.reason).toMatch(/channel/);
  });

  it('cellModel: an imported whole-cell model gives, through the service, the labels of the in-process run', async () => {
    const res = await svc.app.inject({
      method: 'POST',
      url: '/v1/jobs/upload',
      ...(await multipart([['file', 'tissue.png', png]], {
        type: 'whole-cell',
        options: JSON.stringify({ channels: [0, 1], cellModel: 'cells-fg' }),
      })),
    });
    expect(res.statusCode, res.body).toBe(201);
    const rec = await svc.wait((res.json() as JobView).id);
    expect(rec.status, rec.reason).toBe('done');
    const view = (await svc.app.inject({ url: `/v1/jobs/${rec.id}` })).json() as JobView;
    expect(view.options).toMatchObject({ cellModel: 'cells-fg@1' }); // pinned when the job was accepted
    const cells = asLabels(await get(view.outputs![0]!.url));
    const nuclei = asLabels(await get(view.outputs![1]!.url));
    expectMatched(cells, nuclei);
    // in-process: the same stages over the same (trivial) nuclear model, the cell model from the folder
    const registry = await jobTypeRegistry();
    const models = modelsInFolder(modelsDir);
    try {
      const local = await runJobType(
        registry,
        registry.get('whole-cell'),
        trivialStages,
        png,
        'tissue.png',
        new TrivialThresholdRunner(),
        TRIVIAL_CARD,
        { channels: [0, 1], cellModel: 'cells-fg', maxPixels: 2 ** 24 },
        models,
      );
      expect(cells.data).toEqual(local.outputs[0]!.data);
      expect(nuclei.data).toEqual(local.outputs[1]!.data);
    } finally {
      await models.dispose();
    }
    const fc = scoreImage(cells, truth.cells).f1_50;
    process.stderr.write(
      `whole-cell + cellModel cells-fg through the service: cells F1@0.5 ${fc.toFixed(3)}\n`,
    );
    expect(fc).toBeGreaterThan(0.95);
  });

  it('cellModel is refused (400, naming it) when unknown, not an import, not a cell model, or on another job type', async () => {
    const cases: [string, object, RegExp][] = [
      ['whole-cell', { cellModel: 'nope' }, /'cellModel': unknown model "nope"; available: .*cells-fg/],
      [
        'whole-cell',
        { cellModel: 'cells-fg@7' },
        /'cellModel': model cells-fg has no version "7"; available: 1/,
      ],
      ['whole-cell', { cellModel: 'trivial' }, /'cellModel' trivial@1 is not a bioimage\.io import/],
      ['whole-cell', { cellModel: 'cells fg' }, /cellModel/],
      [
        'segmentation',
        { cellModel: 'cells-fg' },
        /'cellModel' .* is an option of job type whole-cell; segmentation/,
      ],
    ];
    for (const [type, options, message] of cases) {
      const res = await svc.app.inject({
        method: 'POST',
        url: '/v1/jobs/upload',
        ...(await multipart([['file', 'tissue.png', png]], { type, options: JSON.stringify(options) })),
      });
      expect([res.statusCode, res.json().message]).toEqual([400, expect.stringMatching(message)]);
    }
  });
});

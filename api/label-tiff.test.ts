// issue 23 #3 through the service: the label TIFF a job gives states the pixel size — the job's µm/px, else
// the uploaded file's own (an OME-TIFF's PhysicalSizeX/Y comes back as OME-XML) — read back by tifffile.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { NUCLEI_VAL } from '../test/data.js';
import { tifffilePixelSize } from '../workers/image/tiff-pixel-size.test-helpers.js';
import { multipart, startTestService, type TestService } from './service-harness.test-helpers.js';

describe('label TIFF pixel size through the API (trivial model)', () => {
  let svc: TestService;
  const dir = mkdtempSync(join(tmpdir(), 'kiosk-label-tiff-'));
  let png: Uint8Array;
  beforeAll(async () => {
    svc = await startTestService(inject('redisUrl'));
    png = await readFile(join(NUCLEI_VAL, 'dsb_03398329ced0c23b.image.png'));
  });
  afterAll(async () => {
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Submits one file with `options`, waits, and saves the job's label TIFF; returns its path. */
  async function labelsOf(name: string, bytes: Uint8Array, options: object = {}): Promise<string> {
    const res = await svc.app.inject({
      method: 'POST',
      url: '/v1/jobs/upload',
      ...(await multipart([['file', name, bytes]], { options: JSON.stringify(options) })),
    });
    expect(res.statusCode, res.body).toBe(201);
    const id = (res.json() as { id: string }).id;
    expect((await svc.wait(id)).status).toBe('done');
    const tif = await svc.app.inject({ url: `/v1/jobs/${id}/result?format=tif` });
    expect(tif.statusCode).toBe(200);
    const path = join(dir, `${id}.tif`);
    writeFileSync(path, tif.rawPayload);
    return path;
  }

  it('issue 23 #3: micronsPerPixel given → ImageJ unit=micron and resolution of 0.65 µm', async () => {
    const t = tifffilePixelSize(await labelsOf('cells.png', png, { micronsPerPixel: 0.65 }));
    expect(t).toMatchObject({ is_imagej: true, unit: 'micron', resunit: 1 });
    expect(t.xres![1]! / t.xres![0]!).toBeCloseTo(0.65, 9);
    expect(t.yres![1]! / t.yres![0]!).toBeCloseTo(0.65, 9);
    expect(t.labels_max).toBeGreaterThan(0);
  });

  it("issue 23 #3: an OME-TIFF's own PhysicalSizeX/Y (written by tifffile) come back as OME-XML", async () => {
    const input = join(dir, 'in.ome.tif');
    const py = [
      'import sys, tifffile, numpy as np',
      'from PIL import Image',
      'a = np.asarray(Image.open(sys.argv[1]).convert("L")).astype("uint16")',
      "tifffile.imwrite(sys.argv[2], a, ome=True, metadata={'axes': 'YX', 'PhysicalSizeX': 0.4, 'PhysicalSizeY': 0.5})",
    ].join('\n');
    const src = join(dir, 'in.png');
    writeFileSync(src, png);
    const r = spawnSync('/usr/bin/python3', ['-c', py, src, input], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const t = tifffilePixelSize(await labelsOf('in.ome.tif', readFileSync(input)));
    expect(t).toMatchObject({ is_ome: true, ome_x: 0.4, ome_y: 0.5, ome_unit: 'µm', resunit: 3 });
    // the job's µm/px wins over the file's
    const given = tifffilePixelSize(
      await labelsOf('in.ome.tif', readFileSync(input), { micronsPerPixel: 0.3 }),
    );
    expect(given).toMatchObject({ is_ome: true, ome_x: 0.3, ome_y: 0.3 });
  });

  it('no µm/px anywhere → no pixel size in the file', async () => {
    const t = tifffilePixelSize(await labelsOf('cells.png', png));
    expect(t).toMatchObject({ unit: null, xres: null, resunit: null, is_ome: false });
  });
});

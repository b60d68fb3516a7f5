import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestService, type TestService } from '../../api/service-harness.test-helpers.js';
import { NUCLEI_VAL } from '../../test/data.js';
import { command as predict } from './predict.js';
import { evaluateFolders } from './eval.js';

describe('kiosk predict against a listening kiosk (trivial model)', () => {
  let svc: TestService;
  let dir: string;
  let stems: string[];
  beforeAll(async () => {
    svc = await startTestService(inject('redisUrl'), { listen: true });
    dir = await mkdtemp(join(tmpdir(), 'kiosk-predict-'));
    stems = (await readdir(NUCLEI_VAL))
      .filter((n) => n.endsWith('.image.png'))
      .sort()
      .slice(0, 3)
      .map((n) => n.replace(/\.image\.png$/, ''));
  });
  afterAll(async () => {
    await svc?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('issue 23 #2: writes NAME.labels.tif, which kiosk eval pairs with the training layout it came from', async () => {
    // A folder laid out as the training data (NAME.image.png + NAME.labels.png), and a zip of one more image.
    const [a, b, c] = stems as [string, string, string];
    const folder = join(dir, 'val');
    await mkdir(folder);
    for (const s of [a, b]) {
      await copyFile(join(NUCLEI_VAL, `${s}.image.png`), join(folder, `${s}.image.png`));
      await copyFile(join(NUCLEI_VAL, `${s}.labels.png`), join(folder, `${s}.labels.png`));
    }
    const zip = join(dir, 'more.zip');
    await writeFile(zip, zipSync({ [`${c}.image.png`]: await readFile(join(NUCLEI_VAL, `${c}.image.png`)) }));
    const out = join(dir, 'labels');
    const code = await predict.run([folder, zip, '--host', svc.url, '--out', out, '--timeout', '120']);
    expect(code).toBe(0);
    // The labels beside the images were not sent as images; the batch zip's DeepCell entry is renamed.
    expect((await readdir(out)).sort()).toEqual([a, b, c].map((s) => `${s}.labels.tif`).sort());
    // kiosk eval --pred OUT --truth <the folder>: every prediction pairs (the trivial model's scores are
    // whatever they are; the pairing is what this checks). The truth of c is in NUCLEI_VAL.
    const truth = join(dir, 'truth');
    await mkdir(truth);
    for (const s of [a, b, c])
      await copyFile(join(NUCLEI_VAL, `${s}.labels.png`), join(truth, `${s}.labels.png`));
    const { rows } = await evaluateFolders(out, truth);
    expect(rows.map((r) => r.name).sort()).toEqual([a, b, c].sort());
    const inFolder = await evaluateFolders(join(out), folder).catch((e: Error) => e.message);
    expect(inFolder).toMatch(new RegExp(`no ground truth in .* for ${c}`)); // c's truth is not in that folder
  });

  it('refuses the second of two images whose labels would have one name, and says so', async () => {
    const [a] = stems as [string];
    const png = join(NUCLEI_VAL, `${a}.image.png`);
    const twin = join(dir, `${a}.png`);
    await copyFile(png, twin);
    const out = join(dir, 'labels-twins');
    const code = await predict.run([png, twin, '--host', svc.url, '--out', out, '--timeout', '120']);
    expect(code).toBe(1);
    expect(await readdir(out)).toEqual([`${a}.labels.tif`]);
  });
});

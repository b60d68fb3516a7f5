import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestService, type TestService } from '../../api/service-harness.test-helpers.js';
import { NUCLEI_VAL } from '../../test/data.js';
import { command as predict, summaryLines } from './predict.js';
import { runCaptured } from './run-captured.test-helpers.js';
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

  it('issue 23 #8: ends with a summary (images, done, failed with reasons, time, images/s) and exits 1 on a failure', async () => {
    const [a, b] = stems as [string, string];
    const folder = join(dir, 'mixed');
    await mkdir(folder);
    for (const s of [a, b])
      await copyFile(join(NUCLEI_VAL, `${s}.image.png`), join(folder, `${s}.image.png`));
    await writeFile(join(folder, 'broken.png'), 'not a png at all');
    const out = join(dir, 'labels-mixed');
    const { code, out: text } = await runCaptured(predict, [
      folder,
      '--host',
      svc.url,
      '--out',
      out,
      '--timeout',
      '120',
    ]);
    expect(code).toBe(1);
    const m = /summary: (\d+) image\(s\), (\d+) done, (\d+) failed in ([\d.]+) s \(([\d.]+) images\/s\)/.exec(
      text,
    );
    expect(m, text).not.toBeNull();
    const [, sent, done, failed, seconds, rate] = m!.map(Number) as number[];
    expect([sent, done, failed]).toEqual([3, 2, 1]);
    expect(seconds).toBeGreaterThan(0);
    // the time is printed to 0.1 s and the rate from the unrounded time: it lies within the rounding's bounds
    expect(rate).toBeGreaterThanOrEqual(2 / (seconds! + 0.05) - 0.01);
    expect(rate).toBeLessThanOrEqual(seconds! > 0.05 ? 2 / (seconds! - 0.05) + 0.01 : Infinity);
    // the failure is listed under the totals with the kiosk's reason
    expect(text).toMatch(
      new RegExp(
        `failed:\\n  ${join(folder, 'broken.png').replace(/[.\\/]/g, '\\$&')}: .*(PNG|TIFF|image)`,
        'i',
      ),
    );
    expect((await readdir(out)).sort()).toEqual([a, b].map((s) => `${s}.labels.tif`).sort());
  });

  it('issue 23 #8: a run with no failure ends with a summary and exits 0', async () => {
    const [a] = stems as [string];
    const { code, out } = await runCaptured(predict, [
      join(NUCLEI_VAL, `${a}.image.png`),
      '--host',
      svc.url,
      '--out',
      join(dir, 'one'),
      '--timeout',
      '120',
    ]);
    expect(code).toBe(0);
    expect(out).toMatch(/summary: 1 image\(s\), 1 done, 0 failed in [\d.]+ s/);
    expect(out).not.toMatch(/^failed:/m);
  });
});

describe('kiosk predict summary lines', () => {
  it('issue 23 #8: totals, unfinished jobs, each failure with its reason, and the rate of written labels', () => {
    expect(
      summaryLines({
        images: 5,
        done: 3,
        failures: [{ source: 'x.png', reason: 'not a TIFF or PNG' }],
        unfinished: 1,
        seconds: 2,
      }),
    ).toEqual([
      'summary: 5 image(s), 3 done, 1 failed, 1 unfinished in 2.0 s (1.50 images/s)',
      'failed:',
      '  x.png: not a TIFF or PNG',
    ]);
  });
});

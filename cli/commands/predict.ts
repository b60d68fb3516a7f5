import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { labelFileName, labelFileNameOfDeepCellEntry } from '../../workers/image/label-names.js';
import { unpackZip } from '../../workers/image/zip.js';
import { KioskClient } from '../../api/client.js';
import type { JobView } from '../../api/schemas.js';
import { UsageError, type Command } from '../command.js';

const usage = `Usage: kiosk predict FILE|DIR|ZIP... --out DIR [options]

Segments images on a running kiosk (npm start, or a cluster) over HTTP, with a progress bar, and writes
NAME.labels.tif per image into --out: NAME is the image's name less its extension and a .image before it
(NAME.image.png or NAME.png → NAME.labels.tif, as the training data pairs them; README "Label files"), so
\`kiosk eval --pred DIR\` pairs them with ground truth. A folder means its TIFF/PNG images (label files in
it, NAME.labels.png/.tif, are skipped); a zip becomes one batch job. It ends with a summary: images
given, done and failed (each failure with its reason), the time and images/s; the exit status is 1 when
any image failed or had not finished by --timeout.

Options:
  --host URL           the kiosk                                (default: $KIOSK_HOST or http://127.0.0.1:8080)
  --out DIR            where label images go                    (required)
  --model NAME         model                                    (default: the job type's, nuclear)
  --model-version V    model version                            (default: newest)
  --mpp X              µm per pixel of the images               (default: estimated)
  --channels I[,J]     channel indices                          (default: the model's)
  --dimension-order S  axis order, e.g. XY, CXY                 (default: the file's)
  --timeout S          give up waiting after S seconds          (default: 3600)`;

const IMAGE_EXT = new Set(['.png', '.tif', '.tiff']);

/** A label file (this project's or DeepCell's name), not an image to segment, when met in a folder. */
const isLabelFile = (name: string): boolean => /(\.labels\.(png|tiff?)|_feature_0\.tiff?)$/i.test(name);

async function collect(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  let labelFiles = 0;
  for (const p of paths) {
    const st = await stat(p).catch(() => undefined);
    if (!st) throw new UsageError(`no such file or folder: ${p}`);
    if (st.isDirectory()) {
      const names = (await readdir(p)).sort();
      const images = names.filter((n) => IMAGE_EXT.has(extname(n).toLowerCase()) && !isLabelFile(n));
      labelFiles += names.filter((n) => IMAGE_EXT.has(extname(n).toLowerCase()) && isLabelFile(n)).length;
      out.push(
        ...names.filter((n) => images.includes(n) || n.toLowerCase().endsWith('.zip')).map((n) => join(p, n)),
      );
    } else out.push(p);
  }
  if (labelFiles) process.stderr.write(`skipped ${labelFiles} label file(s) (NAME.labels.png/.tif)\n`);
  if (out.length === 0) throw new UsageError('no TIFF, PNG or zip files in the given paths');
  return out;
}

/** What a run of kiosk predict did, for its closing summary. */
export interface PredictSummary {
  /** images given: image files, and the images inside each zip (a zip refused whole counts as one) */
  readonly images: number;
  /** label images written */
  readonly done: number;
  readonly failures: readonly { readonly source: string; readonly reason: string }[];
  /** images whose jobs were still running when kiosk predict gave up (--timeout) */
  readonly unfinished: number;
  readonly seconds: number;
}

/** The closing summary: totals, each failure with its reason, the time and the rate of written labels. */
export function summaryLines(s: PredictSummary): string[] {
  const rate = s.seconds > 0 ? s.done / s.seconds : 0;
  const lines = [
    `summary: ${s.images} image(s), ${s.done} done, ${s.failures.length} failed` +
      `${s.unfinished ? `, ${s.unfinished} unfinished` : ''} in ${s.seconds.toFixed(1)} s ` +
      `(${rate.toFixed(2)} images/s)`,
  ];
  if (s.failures.length) lines.push('failed:', ...s.failures.map((f) => `  ${f.source}: ${f.reason}`));
  return lines;
}

function bar(done: number, failed: number, total: number, progress: number): string {
  const width = 30;
  const filled = Math.round((progress / 100) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${progress.toFixed(0).padStart(3)}%  ${done}/${total} done${failed ? `, ${failed} failed` : ''}`;
}

export const command: Command = {
  name: 'predict',
  summary: 'segment images on a running kiosk over HTTP (files, folders, zips)',
  usage,
  async run(args) {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        allowPositionals: true,
        options: {
          host: { type: 'string' },
          out: { type: 'string' },
          model: { type: 'string' },
          'model-version': { type: 'string' },
          mpp: { type: 'string' },
          channels: { type: 'string' },
          'dimension-order': { type: 'string' },
          timeout: { type: 'string', default: '3600' },
        },
      });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const v = parsed.values;
    if (parsed.positionals.length === 0) throw new UsageError('give at least one FILE, DIR or ZIP');
    if (!v.out) throw new UsageError('--out DIR is required');
    const mpp = v.mpp === undefined ? undefined : Number(v.mpp);
    if (mpp !== undefined && !(mpp > 0))
      throw new UsageError(`--mpp must be a positive number; got '${v.mpp}'`);
    if (v.channels !== undefined && !/^\d+(,\d+)*$/.test(v.channels))
      throw new UsageError(`--channels must be like 0 or 0,1; got '${v.channels}'`);
    const timeoutS = Number(v.timeout);
    if (!(timeoutS > 0))
      throw new UsageError(`--timeout must be a positive number of seconds; got '${v.timeout}'`);
    const t0 = performance.now();
    const client = new KioskClient(v.host ?? process.env.KIOSK_HOST ?? 'http://127.0.0.1:8080');
    const files = await collect(parsed.positionals);
    await mkdir(v.out, { recursive: true });
    const options = {
      ...(mpp !== undefined ? { micronsPerPixel: mpp } : {}),
      ...(v.channels ? { channels: v.channels.split(',').map(Number) } : {}),
      ...(v['dimension-order'] ? { dimensionOrder: v['dimension-order'] } : {}),
    };
    // Upload and submit: one job per file (a zip is one batch job). Two images whose labels would have
    // one name (a.png and a.tif) are refused, the second one, rather than one overwriting the other.
    const jobs: { file: string; job: JobView }[] = [];
    // Every failure, with its reason, for the closing summary (each is also reported when met).
    const failures: { source: string; reason: string }[] = [];
    const fail = (source: string, reason: string): void => {
      failures.push({ source, reason });
      process.stderr.write(`${source}: failed: ${reason}\n`);
    };
    let images = 0;
    let done = 0;
    const finish = (unfinished = 0): number => {
      const seconds = (performance.now() - t0) / 1000;
      for (const line of summaryLines({ images, done, failures, unfinished, seconds }))
        process.stdout.write(`${line}\n`);
      return failures.length || unfinished ? 1 : 0;
    };
    const writtenBy = new Map<string, string>();
    const claim = (name: string, source: string): boolean => {
      const earlier = writtenBy.get(name);
      if (earlier === undefined) writtenBy.set(name, source);
      else fail(source, `its output ${name} would overwrite the one of ${earlier}`);
      return earlier === undefined;
    };
    for (const file of files) {
      const isZip = file.toLowerCase().endsWith('.zip');
      if (!isZip) images++;
      if (!isZip && !claim(labelFileName(basename(file)), file)) continue;
      try {
        const job = await client.submit([{ name: basename(file), bytes: await readFile(file) }], {
          ...(v.model ? { model: v.model } : {}),
          ...(v['model-version'] ? { modelVersion: v['model-version'] } : {}),
          options,
        });
        jobs.push({ file, job });
      } catch (err) {
        if (isZip) images++; // a zip refused whole: one failure
        fail(file, (err as Error).message);
        if ((err as { status?: number }).status === undefined) return finish(); // kiosk unreachable: stop
      }
    }
    // Follow progress until every job is final.
    const tty = process.stderr.isTTY;
    const deadline = Date.now() + timeoutS * 1000;
    let last = '';
    for (;;) {
      for (const j of jobs)
        if (j.job.status !== 'done' && j.job.status !== 'failed') j.job = await client.getJob(j.job.id);
      const ok = jobs.filter((j) => j.job.status === 'done').length;
      const bad = jobs.filter((j) => j.job.status === 'failed').length;
      const progress = jobs.length ? jobs.reduce((s, j) => s + j.job.progress, 0) / jobs.length : 100;
      const line = bar(ok, bad, jobs.length, progress);
      if (tty) process.stderr.write(`\r${line}`);
      else if (line !== last) process.stderr.write(`${line}\n`);
      last = line;
      if (ok + bad === jobs.length) break;
      if (Date.now() > deadline) {
        process.stderr.write(
          `\ngave up after ${timeoutS} s; the jobs go on: kiosk jobs --host ${client.base}\n`,
        );
        const running = jobs.filter((j) => j.job.status !== 'done' && j.job.status !== 'failed');
        for (const j of jobs) if (j.job.kind === 'batch') images += j.job.children?.length ?? 0;
        return finish(
          running.reduce((n, j) => n + (j.job.kind === 'batch' ? (j.job.children?.length ?? 1) : 1), 0),
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    if (tty) process.stderr.write('\n');
    // Download and write NAME.labels.tif per image.
    for (const { file, job } of jobs) {
      if (job.kind === 'batch') images += Math.max(1, job.children?.length ?? 0);
      if (job.status === 'failed') {
        // a batch lists its images' failures; a batch failed before it had images (or an image) says why
        if (job.failures?.length) for (const f of job.failures) fail(`${file}: ${f.name}`, f.reason);
        else fail(file, job.reason ?? 'no reason given');
        continue;
      }
      if (job.kind === 'image') {
        const out = join(v.out, labelFileName(basename(file)));
        await writeFile(out, await client.download(job.labelsUrl!));
        done++;
        process.stdout.write(`${file}: ${job.objectCount ?? '?'} objects → ${out}\n`);
        continue;
      }
      const entries = unpackZip(await client.download(job.resultUrl!));
      for (const e of entries) {
        // The batch zip holds DeepCell's <stem>_feature_0.tif; the CLI writes the project's name.
        const name = labelFileNameOfDeepCellEntry(e.name) ?? labelFileName(e.name);
        if (!claim(name, `${file}: ${e.name}`)) continue;
        await writeFile(join(v.out, name), e.data);
        done++;
      }
      const ok = (job.children ?? []).filter((c) => c.status === 'done').length;
      process.stdout.write(`${file}: ${ok} images → ${v.out}\n`);
      for (const f of job.failures ?? []) fail(`${file}: ${f.name}`, f.reason);
    }
    return finish();
  },
};

/**
 * The long fuzz run of the decoders (the test suite runs a fixed-seed short one: workers/image/fuzz-decoders
 * .test.ts). For each of TIFF, PNG and zip: mutated real files and random bytes (workers/image/fuzz-harness.ts)
 * for a third of `--seconds`, in a worker thread watched from here: a case still running after 10 s of CPU
 * time (not wall time: a niced run on a busy machine waits for cores) is reported as a hang (with the seed and index that reproduce it) and the run goes on in a fresh thread.
 * Prints inputs tried, decoded, typed errors (ImageError), other failures, hangs, the slowest case and the
 * largest single allocation, per decoder.
 *
 *   npm run bench fuzz -- --seconds 300 [--seed 123]
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { CaseResult, Format, FuzzCase } from '../workers/image/fuzz-harness.js';

const FORMATS: readonly Format[] = ['tiff', 'png', 'zip'];
const HANG_MS = 10_000;
const BATCH = 250;
const LIMITS = { maxPixels: 1 << 20, maxFrames: 64 };
const ZIP_LIMITS = { maxEntries: 64, maxTotalBytes: 1 << 24 };

interface Job {
  readonly format: Format;
  readonly seed: number;
  /** First batch to run (a restart after a hang skips the batch that hung up to its case). */
  readonly batch: number;
  readonly skip: number;
  readonly until: number;
  /**
   * Shared with the watcher, Int32: [batch, index] of the current case, [tried, decoded, typed, other] so
   * far (kept when the thread is stopped for a hang), a case counter, 1 while a case runs, the thread's id.
   */
  readonly progress: SharedArrayBuffer;
}

interface Report {
  tried: number;
  decoded: number;
  typed: number;
  other: number;
  slowestMs: number;
  slowestCase: string;
  largestAllocation: number;
  failures: string[];
}

/** A worker thread's entry: Node 20 threads do not inherit `--import tsx`, so register it, then load us. */
const WORKER_BOOT =
  `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})` +
  `.then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;

/**
 * CPU milliseconds of one thread (Linux: /proc/self/task/<tid>/stat, 10 ms ticks), else of the whole process.
 * The thread's own time, because a finishing worker's teardown or GC threads also burn process CPU while the
 * fuzzing thread waits for a core on a busy machine (and wall time alone gave false hangs there).
 */
function cpuMs(tid: number): number {
  try {
    if (tid > 0) {
      const f = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(f[11]) + Number(f[12])) * 10;
    }
  } catch {
    // not Linux, or the thread is gone
  }
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** This thread's kernel id (Linux), else 0. */
function threadId(): number {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop()) || 0;
  } catch {
    return 0;
  }
}

const describe = (c: FuzzCase) =>
  c.kind === 'random' ? `random ${c.bytes.length} bytes (magic: ${c.magic})` : JSON.stringify(c);

async function fuzzInWorker(job: Job): Promise<void> {
  const h = await import('../workers/image/fuzz-harness.js');
  h.trackAllocations();
  const fc = (await import('fast-check')).default;
  const { fuzzFiles } = await import('../workers/image/fuzz-files.js');
  const { decodeImage, inspectImage } = await import('../workers/image/decode.js');
  const { unpackZip } = await import('../workers/image/zip.js');
  const files = fuzzFiles(job.format);
  const fields = files.map((f) => h.headerFields(job.format, f));
  const decode =
    job.format === 'zip'
      ? (b: Uint8Array) => unpackZip(b, ZIP_LIMITS)
      : (b: Uint8Array) => {
          try {
            inspectImage(b, LIMITS);
          } catch (err) {
            if (!(err instanceof Error) || err.name !== 'ImageError') throw err;
          }
          return decodeImage(b, LIMITS);
        };
  const codes = job.format === 'zip' ? ['bad-archive'] : undefined;
  const ints = new Int32Array(job.progress, 0, 9);
  Atomics.store(ints, 8, threadId());
  const r: Report = { tried: 0, decoded: 0, typed: 0, other: 0, slowestMs: 0, slowestCase: '', largestAllocation: 0, failures: [] }; // prettier-ignore
  for (let batch = job.batch; Date.now() < job.until; batch++) {
    const cases = fc.sample(h.fuzzCaseArb(files.length), { seed: job.seed + batch, numRuns: BATCH });
    for (let i = batch === job.batch ? job.skip : 0; i < cases.length && Date.now() < job.until; i++) {
      const c = cases[i]!;
      const bytes = h.caseBytes(c, job.format, files, fields);
      ints[0] = batch;
      ints[1] = i;
      Atomics.add(ints, 6, 1);
      Atomics.store(ints, 7, 1);
      const res: CaseResult = h.runCase(decode, bytes, codes);
      Atomics.store(ints, 7, 0);
      r.tried++;
      r[res.outcome]++;
      ints[2] = r.tried;
      ints[3] = r.decoded;
      ints[4] = r.typed;
      ints[5] = r.other;
      if (res.cpuMs > r.slowestMs) {
        r.slowestMs = res.cpuMs;
        r.slowestCase = `seed ${job.seed + batch} #${i}: ${describe(c)}`.slice(0, 300);
      }
      r.largestAllocation = Math.max(r.largestAllocation, res.largestAllocation);
      if (res.outcome === 'other' && r.failures.length < 5) {
        const e = res.error as Error;
        r.failures.push(`seed ${job.seed + batch} #${i}: ${e?.stack?.split('\n').slice(0, 3).join(' / ')} — ${describe(c).slice(0, 300)}`); // prettier-ignore
      }
    }
  }
  parentPort!.postMessage(r);
}

/** Runs one format until `until`, restarting the thread after a hang; returns the summed report and hangs. */
async function fuzzFormat(format: Format, seed: number, until: number) {
  const total: Report = { tried: 0, decoded: 0, typed: 0, other: 0, slowestMs: 0, slowestCase: '', largestAllocation: 0, failures: [] }; // prettier-ignore
  const hangs: string[] = [];
  let start = { batch: 0, skip: 0 };
  while (Date.now() < until) {
    const progress = new SharedArrayBuffer(36);
    const job: Job = { format, seed, ...start, until, progress };
    const worker = new Worker(WORKER_BOOT, { eval: true, workerData: job });
    const ints = new Int32Array(progress, 0, 9);
    // CPU time is read here only: a worker thread's process.cpuUsage() does not match the main thread's.
    let seen = { seq: -1, cpu: 0 };
    const cpu = () => cpuMs(Atomics.load(ints, 8));
    const outcome = await new Promise<Report | 'hang'>((resolve, reject) => {
      const watch = setInterval(() => {
        const seq = Atomics.load(ints, 6);
        if (Atomics.load(ints, 7) === 0 || seq !== seen.seq) seen = { seq, cpu: cpu() };
        else if (cpu() - seen.cpu > HANG_MS) {
          clearInterval(watch);
          void worker.terminate().then(() => resolve('hang'));
        }
      }, 250);
      worker.once('message', (m: Report) => {
        clearInterval(watch);
        resolve(m);
      });
      worker.once('error', (err) => {
        clearInterval(watch);
        reject(err);
      });
    });
    if (outcome === 'hang') {
      hangs.push(`seed ${seed + ints[0]!} #${ints[1]!} ran over ${HANG_MS / 1000} s of CPU`);
      total.tried += ints[2]! + 1;
      total.decoded += ints[3]!;
      total.typed += ints[4]!;
      total.other += ints[5]!;
      start = { batch: ints[0]!, skip: ints[1]! + 1 };
      continue;
    }
    total.tried += outcome.tried;
    total.decoded += outcome.decoded;
    total.typed += outcome.typed;
    total.other += outcome.other;
    if (outcome.slowestMs > total.slowestMs) {
      total.slowestMs = outcome.slowestMs;
      total.slowestCase = outcome.slowestCase;
    }
    total.largestAllocation = Math.max(total.largestAllocation, outcome.largestAllocation);
    total.failures.push(...outcome.failures);
    break;
  }
  return { ...total, hangs };
}

async function main(): Promise<void> {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
    if (!Number.isFinite(v) || v < 0)
      throw new Error(`--${name} must be a number; got ${process.argv[i + 1]}`);
    return v;
  };
  const seconds = arg('seconds', 60);
  const seed = arg('seed', Date.now() % 2 ** 31);
  console.log(
    `fuzz: ${seconds} s over ${FORMATS.join(', ')} (${(seconds / FORMATS.length).toFixed(0)} s each), seed ${seed}`,
  );
  console.log(`limits: ${LIMITS.maxPixels} values, ${LIMITS.maxFrames} pages; zip: ${ZIP_LIMITS.maxEntries} entries, ${ZIP_LIMITS.maxTotalBytes} bytes; a case over ${HANG_MS / 1000} s of CPU is a hang`); // prettier-ignore
  let bad = 0;
  for (const format of FORMATS) {
    const t0 = Date.now();
    const r = await fuzzFormat(format, seed, t0 + (seconds * 1000) / FORMATS.length);
    const s = (Date.now() - t0) / 1000;
    console.log(
      `${format.padEnd(4)}: ${r.tried} inputs in ${s.toFixed(0)} s (${(r.tried / s).toFixed(0)}/s): ${r.decoded} decoded, ` +
        `${r.typed} typed errors, ${r.other} other failures, ${r.hangs.length} hangs; slowest ${r.slowestMs.toFixed(1)} ms CPU, ` +
        `largest buffer ${(r.largestAllocation / 2 ** 20).toFixed(1)} MiB`,
    );
    console.log(`      slowest: ${r.slowestCase}`);
    for (const f of [...r.failures, ...r.hangs]) console.log(`      FAIL ${f}`);
    bad += r.other + r.hangs.length;
  }
  if (bad > 0) process.exitCode = 1;
}

if (isMainThread) await main();
else await fuzzInWorker(workerData as Job);

/**
 * Fair scheduling between labs (issue 18 #13): lab B's single-image latency (POST /v1/jobs → its record
 * done) alone, and sent right behind lab A's batch of --n images (default 2000, one zip), with fair
 * scheduling (KIOSK_FAIR_SCHEDULING=1, the default) and without (0: every stage queue first in, first out);
 * and the batch's own throughput both ways.
 *
 * The kiosk runs as `kiosk start` runs it: the API (KIOSK_AUTH=tokens: lab A and lab B each have a token, and
 * the lab of a job is its token's), one CPU worker and one inference worker as processes, a private
 * redis-server, a temporary bucket. The model is the TRIVIAL threshold model (KIOSK_TRIVIAL_MODEL=1, 32×32
 * PNGs): this measures the scheduling, not a network's cost; with a real model every stage is slower and
 * FIFO's wait grows with it (issue 18: ~40 min behind a 10,000-image zip).
 *
 * While the batch runs lab B sends one image at a time (up to --samples, 0.5 s apart), each after the last
 * finished, the first right after lab A's batch was accepted; a sample counts only if it was sent while the
 * batch was unfinished. First in, first out, the first waits for every preprocess job of the batch; later
 * ones are quicker once those are through (BullMQ puts a job whose children finished at the head of its
 * queue, so the later stages take the newest ready image first).
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { encode } from 'fast-png';
import { KioskClient } from '../api/client.js';
import { TokenStore } from '../core/tokens.js';
import { freePort, startPrivateRedis } from '../test/redis.js';
import { kioskNodeFlags } from '../workers/autoscaler/drivers/local.js';
import { packZip } from '../workers/image/zip.js';
import { connectRedis } from '../workers/queues/connection.js';
import { JobRecords } from '../workers/queues/records.js';
import { JobWatcher } from '../workers/queues/watcher.js';
import { waitLine } from './wait-line.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '2000' },
    samples: { type: 'string', default: '5' },
    // lab B's single images measured alone (one after another, after a warm-up)
    alone: { type: 'string', default: '10' },
    // which runs: fair, fifo or both
    modes: { type: 'string', default: 'fair,fifo' },
  },
});
const N = Number(values.n);
const SAMPLES = Number(values.samples);
const ALONE = Number(values.alone);

/** A 32×32 PNG with one bright square (one nucleus for the trivial model). */
function png(): Uint8Array {
  const data = new Uint8Array(32 * 32);
  for (let y = 8; y < 20; y++) for (let x = 8; x < 20; x++) data[y * 32 + x] = 220;
  return encode({ width: 32, height: 32, data, channels: 1, depth: 8 });
}

interface Kiosk {
  readonly a: KioskClient;
  readonly b: KioskClient;
  readonly watcher: JobWatcher;
  readonly records: JobRecords;
  stop(): Promise<void>;
}

async function startKiosk(env: NodeJS.ProcessEnv, prefix: string): Promise<Kiosk> {
  const redis = connectRedis(env.REDIS_URL!);
  const tokens = new TokenStore(redis, prefix);
  const [ta, tb] = [await tokens.create({ lab: 'lab-a' }), await tokens.create({ lab: 'lab-b' })];
  const port = await freePort();
  const full = { ...process.env, ...env, KIOSK_PREFIX: prefix, PORT: String(port), LOG_LEVEL: 'warn' };
  const run = (script: string, args: string[] = []) =>
    spawn(
      process.execPath,
      [...kioskNodeFlags(), '--import', import.meta.resolve('tsx'), resolve(script), ...args],
      { env: full, stdio: ['ignore', 'pipe', 'pipe'] },
    );
  const procs = [
    run('api/server.ts'),
    run('workers/main.ts', ['--pool', 'cpu']),
    run('workers/main.ts', ['--pool', 'gpu']),
  ];
  const [url] = await Promise.all([
    waitLine(procs[0]!, /api listening on (\S+)/, 'api'),
    waitLine(procs[1]!, /worker cpu ready/, 'cpu worker'),
    waitLine(procs[2]!, /worker gpu ready/, 'gpu worker'),
  ]);
  const records = new JobRecords(redis, prefix, 3600);
  const watcher = new JobWatcher(records, connectRedis(env.REDIS_URL!));
  await watcher.start();
  const a = new KioskClient(url!, ta.token);
  const b = new KioskClient(url!, tb.token);
  return {
    a,
    b,
    watcher,
    records,
    async stop() {
      a.close();
      b.close();
      await watcher.close();
      redis.disconnect();
      for (const c of procs) c.kill('SIGTERM');
      await Promise.all(
        procs.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))),
      );
    },
  };
}

/**
 * When jobs' records turned final (listening from before they are submitted), and the jobs that failed.
 */
function finals(watcher: JobWatcher) {
  const done = new Map<string, number>();
  const failed: string[] = [];
  const waiting = new Map<string, () => void>();
  const stop = watcher.listen((ev) => {
    if (ev.status !== 'done' && ev.status !== 'failed') return;
    if (ev.status === 'failed') failed.push(`${ev.id}: ${ev.reason}`);
    done.set(ev.id, performance.now());
    waiting.get(ev.id)?.();
  });
  return {
    done,
    failed,
    stop,
    async at(id: string): Promise<number> {
      if (!done.has(id)) await new Promise<void>((r) => waiting.set(id, r));
      return done.get(id)!;
    },
  };
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** Lab B sends one image and waits for it: its latency (ms) from the POST /v1/jobs. */
async function single(
  k: Kiosk,
  f: ReturnType<typeof finals>,
  key: string,
): Promise<{ ms: number; t: number }> {
  const t0 = performance.now();
  const { id } = await k.b.createJob({ inputs: [key], options: { channels: [0] } });
  const t = await f.at(id);
  return { ms: t - t0, t };
}

async function runMode(mode: 'fair' | 'fifo', common: NodeJS.ProcessEnv): Promise<void> {
  const k = await startKiosk(
    { ...common, KIOSK_FAIR_SCHEDULING: mode === 'fair' ? '1' : '0' },
    `bench-${mode}`,
  );
  const f = finals(k.watcher);
  try {
    const image = png();
    const [bKey] = await k.b.upload([{ name: 'cells.png', bytes: image }]);
    const zip = packZip(Array.from({ length: N }, (_, i) => ({ name: `plate/cells_${i}.png`, data: image })));
    const [zipKey] = await k.a.upload([{ name: 'plate.zip', bytes: zip }]);
    // Warm-up (JIT, connections): a 200-image batch of lab A, then lab B's images alone.
    const warm = await k.a.upload([
      {
        name: 'warm.zip',
        bytes: packZip(Array.from({ length: 200 }, (_, i) => ({ name: `w${i}.png`, data: image }))),
      },
    ]);
    await f.at((await k.a.createJob({ inputs: warm, options: { channels: [0] } })).id);
    for (let i = 0; i < 5; i++) await single(k, f, bKey!);
    const alone: number[] = [];
    for (let i = 0; i < ALONE; i++) alone.push((await single(k, f, bKey!)).ms);

    // Lab A's batch, and lab B's images right behind it.
    const t0 = performance.now();
    const batch = await k.a.createJob({ inputs: [zipKey!], options: { channels: [0] } });
    const accepted = performance.now();
    let batchDone: number | undefined;
    const batchEnd = f.at(batch.id).then((t) => (batchDone = t));
    const ofBatch = (await k.records.get(batch.id))!.children!;
    const children = () => ofBatch.reduce((n, id) => n + (f.done.has(id) ? 1 : 0), 0);
    const behind: { ms: number; doneBefore: number }[] = [];
    for (let i = 0; i < SAMPLES && batchDone === undefined; i++) {
      const before = children();
      const r = await single(k, f, bKey!);
      if (batchDone === undefined || batchDone > r.t - r.ms)
        behind.push({ ms: r.ms, doneBefore: children() - before });
      await new Promise((r) => setTimeout(r, 500));
    }
    await batchEnd;
    const batchMs = batchDone! - t0;
    const lat = behind.map((x) => x.ms);
    console.log(
      `${mode === 'fair' ? 'fair scheduling (KIOSK_FAIR_SCHEDULING=1)' : 'first in, first out (KIOSK_FAIR_SCHEDULING=0)'}:`,
    );
    console.log(
      `  lab B single image alone: median ${s(median(alone))} (min ${s(Math.min(...alone))}, max ${s(Math.max(...alone))}, ${alone.length} images)`,
    );
    console.log(
      `  lab B single image behind lab A's ${N}-image batch: median ${s(median(lat))}, max ${s(Math.max(...lat))} ` +
        `(${lat.length} sent one after another while the batch ran: ${lat.map((x) => (x / 1000).toFixed(2)).join(', ')} s; ` +
        `lab A images finished meanwhile: ${behind.map((x) => x.doneBefore).join(', ')})`,
    );
    console.log(
      `  lab A's batch: accepted in ${s(accepted - t0)}, done in ${s(batchMs)} = ${((N * 1000) / batchMs).toFixed(1)} images/s (with lab B's ${lat.length} images among it)`,
    );
    if (f.failed.length) console.log(`  FAILED jobs: ${f.failed.length} (e.g. ${f.failed[0]})`);
  } finally {
    f.stop();
    await k.stop();
  }
}

async function main(): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'bench-fairness-'));
  const redis = await startPrivateRedis();
  try {
    await mkdir(join(tmp, 'no-models'));
    const common: NodeJS.ProcessEnv = {
      REDIS_URL: redis.url,
      KIOSK_BUCKET: join(tmp, 'bucket'),
      KIOSK_SCRATCH_DIR: join(tmp, 'scratch'),
      KIOSK_MODEL_CACHE: join(tmp, 'cache'),
      KIOSK_MODELS_DIR: join(tmp, 'no-models'),
      KIOSK_AUTH: 'tokens',
      KIOSK_RATE_LIMIT: '0',
      KIOSK_TRIVIAL_MODEL: '1',
      KIOSK_DEFAULT_MODEL: 'trivial',
      KIOSK_GPU_TRAIN: '0',
      KIOSK_SWEEP_INTERVAL_S: '0',
    };
    console.log(
      `fairness: TRIVIAL model (threshold runner + trivial stages, 32x32 PNGs: the scheduling, not a network's cost); ` +
        `lab A batch of ${N} images (one zip), API + 1 CPU worker + 1 inference worker as processes; ` +
        `${availableParallelism()} cores, load ${loadavg()[0]!.toFixed(1)}`,
    );
    for (const mode of values.modes!.split(',')) {
      if (mode !== 'fair' && mode !== 'fifo') throw new Error(`--modes: fair and/or fifo; got ${mode}`);
      await runMode(mode, common);
    }
  } finally {
    await redis.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}

await main();

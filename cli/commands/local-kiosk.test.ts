/**
 * The local kiosk end to end: `kiosk start` as a user runs it (its own Redis under .kiosk, the API and the
 * autoscaled worker processes, the trivial model), driven through the HTTP CLI; a worker killed with
 * SIGKILL is replaced; Ctrl-C drains and stops everything. Prints the start-up and replacement times.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { zipSync } from 'fflate';
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../workers/image/decode.js';
import { freePort } from '../../test/redis.js';
import { NUCLEI_VAL } from '../../test/data.js';

const KIOSK = resolve('bin/kiosk.mjs');
const VAL = NUCLEI_VAL;
const STEMS = [
  'dsb_03398329ced0c23b',
  'dsb_077f026f4ab0f0bc',
  'dsb_0acd2c223d300ea5',
  'dsb_12f89395ad5d2149',
];

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function kiosk(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [KIOSK, ...args], {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Everything a process printed (stdout and stderr), and a way to wait for a line in it. */
class Output {
  text = '';
  private readonly waiters = new Set<() => void>();
  constructor(child: ChildProcess) {
    for (const s of [child.stdout!, child.stderr!])
      s.on('data', (d: Buffer) => {
        this.text += d.toString();
        for (const w of this.waiters) w();
      });
    child.once('exit', () => {
      for (const w of this.waiters) w();
    });
  }
  /** The first match of `pattern` in what was printed after `from` (a length of `text`). */
  until(pattern: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    return new Promise((res, rej) => {
      const check = () => {
        const m = pattern.exec(this.text.slice(from));
        if (!m) return false;
        this.waiters.delete(waiter);
        clearTimeout(timer);
        res(m);
        return true;
      };
      const waiter = () => void check();
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        rej(new Error(`no ${pattern} within ${timeoutMs} ms; output: ${this.text}`));
      }, timeoutMs);
      if (!check()) this.waiters.add(waiter);
    });
  }
}

interface Report {
  pools: { pool: string; desired: number; actual: number; min: number; max: number }[];
  decisions: { time: string; pool: string; action: string; current: number; desired: number }[];
  workerEvents: {
    time: string;
    event: string;
    pool: string;
    pid?: number;
    signal?: string;
    unexpected?: boolean;
  }[];
}

const report = async (url: string) =>
  (await (await fetch(`${url}/v1/autoscaler/decisions?limit=200`)).json()) as Report;

/** Pids of a pool's workers that started and have not exited, per the autoscaler's events. */
function liveWorkers(r: Report, pool: string): number[] {
  const exited = new Set(r.workerEvents.filter((e) => e.event === 'worker-exit').map((e) => e.pid));
  return r.workerEvents
    .filter((e) => e.event === 'worker-start' && e.pool === pool && !exited.has(e.pid))
    .map((e) => e.pid!);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function val(stems: readonly string[], dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const s of stems) await writeFile(join(dir, `${s}.png`), await readFile(join(VAL, `${s}.image.png`)));
}

describe('the local kiosk (kiosk start) and the HTTP CLI', () => {
  // One kiosk for the first three tests (start-up costs ~10 s of CPU): used, a worker killed, stopped.
  let cwd = '';
  let url = '';
  let start: ChildProcess | undefined;
  let out: Output;
  let exited: Promise<number | null>;
  const everyWorker = new Set<number>();

  beforeAll(async () => {
    cwd = await mkdtemp(join(tmpdir(), 'kiosk-local-'));
    dirs.push(cwd);
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(port),
      KIOSK_TRIVIAL_MODEL: '1',
      KIOSK_DEFAULT_MODEL: 'trivial',
      KIOSK_SCALE_INTERVAL_S: '0.5',
    };
    delete env.REDIS_URL;
    const t0 = Date.now();
    start = spawn(process.execPath, [KIOSK, 'start'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    out = new Output(start);
    const child = start;
    exited = new Promise((r) => child.once('exit', (code) => r(code)));
    url = (await out.until(/cellkiosk is running at (\S+)/, 120_000))[1]!;
    console.log(`kiosk start → URL printed: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(url).toBe(`http://127.0.0.1:${port}`);
  }, 150_000);

  afterAll(() => {
    if (start && start.exitCode === null) start.kill('SIGKILL');
    for (const pid of everyWorker) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  it('starts Redis (AOF), API and autoscaled workers as processes, and serves predict/jobs/status', async () => {
    // Printed with the URL: how long it took, the pools and where the decisions are.
    expect(out.text).toMatch(
      /ready in [\d.]+ s \(worker start-up: (cpu|inference) [\d.]+ s, (cpu|inference) [\d.]+ s\)/,
    );
    expect(out.text).toMatch(
      /autoscaled workers: cpu 1\.\.\d, inference 1\.\.1; decisions: http:\/\/\S+\/v1\/autoscaler\/decisions/,
    );
    expect(existsSync(join(cwd, '.kiosk', 'redis', 'appendonlydir'))).toBe(true);
    // The first decision started one worker per pool (their minimum), and the API serves it.
    const r = await report(url);
    expect(r.pools.map((p) => [p.pool, p.min, p.actual])).toEqual([
      ['cpu', 1, 1],
      ['gpu', 1, 1],
    ]);
    expect(r.decisions.filter((d) => d.action === 'up').map((d) => [d.pool, d.current, d.desired])).toEqual([
      ['cpu', 0, 1],
      ['gpu', 0, 1],
    ]);
    for (const pool of ['cpu', 'gpu']) for (const pid of liveWorkers(r, pool)) everyWorker.add(pid);
    expect(everyWorker.size).toBe(2);
    // predict: two images, a folder, a zip of two
    await val(STEMS.slice(0, 2), join(cwd, 'in'));
    const zip: Record<string, Uint8Array> = {};
    for (const s of STEMS.slice(2)) zip[`${s}.png`] = await readFile(join(VAL, `${s}.image.png`));
    await writeFile(join(cwd, 'more.zip'), zipSync(zip));
    const p = kiosk(['predict', 'in', 'more.zip', '--host', url, '--out', 'labels'], cwd);
    expect(p.code, p.err).toBe(0);
    expect(p.err).toMatch(/\[#+\] 100% {2}3\/3 done/);
    const written = (await readdir(join(cwd, 'labels'))).sort();
    expect(written).toEqual(STEMS.map((s) => `${s}.labels.tif`).sort());
    const labels = decodeImage(await readFile(join(cwd, 'labels', written[0]!)), { name: 'x' });
    expect(labels.shape).toEqual([256, 256]);
    // jobs and status
    const jobs = kiosk(['jobs', '--host', url], cwd);
    expect(jobs.code, jobs.err).toBe(0);
    expect(jobs.out).toMatch(/more\.zip \[batch\]/);
    const id = /^([0-9a-f-]{36})\s+done/m.exec(jobs.out)![1]!;
    const status = kiosk(['status', id, '--host', url], cwd);
    expect(status.code, status.err).toBe(0);
    expect(status.out).toMatch(/status {4}done \(100%\)/);
    // a bad file: reported by name, exit code 1
    await writeFile(join(cwd, 'notes.png'), 'not an image');
    const bad = kiosk(['predict', 'notes.png', '--host', url, '--out', 'labels'], cwd);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(
      /notes\.png: (failed: )?HTTP 400 not-an-image: notes\.png:? (is )?not a TIFF or PNG/,
    );
    // The workers' stage metrics reach the API's /metrics through Redis (shared every 5 s).
    await expect
      .poll(
        async () =>
          (await (await fetch(`${url}/metrics`)).text()).match(
            /^kiosk_stage_jobs_total\{stage="predict",outcome="completed"\} (\d+)$/m,
          )?.[1],
        {
          timeout: 15_000,
          interval: 500,
        },
      )
      .toBe('4');
  }, 120_000);

  it('replaces a worker killed with SIGKILL, and a job submitted afterwards completes', async () => {
    for (const pool of ['cpu', 'gpu'] as const) {
      const before = await report(url);
      const [victim] = liveWorkers(before, pool);
      expect(victim, `a live ${pool} worker`).toBeDefined();
      const from = out.text.length;
      const killedAt = Date.now();
      process.kill(victim!, 'SIGKILL');
      const name = pool === 'gpu' ? 'inference' : 'cpu';
      await out.until(
        new RegExp(`\\[autoscaler\\] ${name} worker ${victim} died \\(signal SIGKILL\\); starting a new one`),
        30_000,
        from,
      );
      const ready = await out.until(
        new RegExp(`\\[autoscaler\\] ${name} worker (\\d+) ready in ([\\d.]+) s`),
        60_000,
        from,
      );
      const replacement = Number(ready[1]);
      everyWorker.add(replacement);
      console.log(
        `${pool} worker ${victim} SIGKILLed → ${replacement} ready ${((Date.now() - killedAt) / 1000).toFixed(1)} s later (its own start-up ${ready[2]} s)`,
      );
      expect(replacement).not.toBe(victim);
      expect(alive(victim!)).toBe(false);
      expect(alive(replacement)).toBe(true);
      const after = await report(url);
      expect(after.workerEvents).toContainEqual(
        expect.objectContaining({
          event: 'worker-exit',
          pool,
          pid: victim,
          signal: 'SIGKILL',
          unexpected: true,
        }),
      );
      expect(liveWorkers(after, pool)).toEqual([replacement]);
      // The decision that brought it back: the pool was at 0, the policy wants its minimum, 1.
      const up = after.decisions.filter(
        (d) => d.pool === pool && d.action === 'up' && Date.parse(d.time) >= killedAt - 1000,
      );
      // (More than one when the victim had lived under 10 s: the driver's crash-loop back-off then holds the
      // restart for 1 s and the next decision asks again.)
      expect(up.length).toBeGreaterThanOrEqual(1);
      for (const d of up) expect([d.current, d.desired]).toEqual([0, 1]);
      expect(after.pools.find((p) => p.pool === pool)).toMatchObject({ desired: 1, actual: 1 });
      console.log(
        `decisions after the kill: ${JSON.stringify(up)}; worker events: ${JSON.stringify(after.workerEvents.filter((e) => Date.parse(e.time) >= killedAt - 1000))}`,
      );
    }
    // Both replacements do the work: a job submitted now completes.
    await val([STEMS[0]!], join(cwd, 'after-kill'));
    const p = kiosk(['predict', 'after-kill', '--host', url, '--out', 'labels-after-kill'], cwd);
    expect(p.code, p.err).toBe(0);
    expect(await readdir(join(cwd, 'labels-after-kill'))).toEqual([`${STEMS[0]}.labels.tif`]);
  }, 150_000);

  it('stops on Ctrl-C: workers drain and exit, then Redis; nothing is left running', async () => {
    const from = out.text.length;
    start!.kill('SIGINT');
    expect(await exited).toBe(0);
    const said = out.text.slice(from);
    expect(said).toMatch(/stopping — running jobs finish first/);
    expect(said).toMatch(/\[autoscaler\] stopping cpu worker \d+ \(it finishes its running jobs first\)/);
    expect(said).toMatch(/\[autoscaler\] inference worker \d+ stopped/);
    expect([...everyWorker].filter(alive)).toEqual([]);
    const left = spawnSync('pgrep', ['-f', `${cwd}/.kiosk`], { encoding: 'utf8' }).stdout.trim();
    expect(left).toBe(''); // redis-server (and everything else) stopped
  }, 60_000);

  it('explains how to install redis-server when it is missing', () => {
    const r = kiosk(['start'], tmpdir(), { PATH: '/nonexistent', REDIS_URL: '' });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /redis-server is not installed\. Install it with:\n\s+sudo apt-get install -y redis-server/,
    );
  });

  it('says when the kiosk cannot be reached, and checks its flags', async () => {
    const port = await freePort();
    const r = kiosk(['jobs', '--host', `http://127.0.0.1:${port}`], tmpdir());
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot reach the kiosk at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    const u = kiosk(['predict', 'x.png'], tmpdir());
    expect(u.code).toBe(2);
    expect(u.err).toMatch(/--out DIR is required/);
  });
});

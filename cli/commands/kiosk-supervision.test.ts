/**
 * The local kiosk's process supervision (issue 18 #2, #3, #4), with real processes: `npm start` in a temp
 * folder (a package.json whose start script is `node bin/kiosk.mjs start`, as the repo's), its own
 * redis-server killed with SIGKILL and then frozen with SIGSTOP, a second kiosk started in the same folder,
 * and a redis-server that will not start. Every process the kiosk started is found by its working folder
 * or the INIT_CWD=<folder> npm gives the script (inherited by all of them) and killed at the end whatever
 * happened.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, KioskProcs } from '../../test/kiosk-procs.js';
import { freePort } from '../../test/redis.js';

const KIOSK = resolve('bin/kiosk.mjs');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The kiosks' processes, found by folder or by the INIT_CWD npm gives the script. */
const found = new KioskProcs('INIT_CWD');
const kioskProcs = (cwd: string) => found.find(cwd);
const redisOf = (cwd: string) => found.redisOf(cwd);

function kiosk(args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, [KIOSK, ...args], { cwd, env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('the local kiosk supervises its processes (npm start)', () => {
  const dirs: string[] = [];
  let cwd = '';
  let url = '';
  let npm: ChildProcess | undefined;
  let out = '';
  const baseEnv: NodeJS.ProcessEnv = { ...process.env };
  delete baseEnv.REDIS_URL;
  for (const k of Object.keys(baseEnv)) if (k.startsWith('npm_')) delete baseEnv[k];
  delete baseEnv.INIT_CWD;

  const until = async (pattern: RegExp, timeoutMs: number, from = 0) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(out.slice(from));
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${out}`);
      await sleep(50);
    }
  };

  beforeAll(async () => {
    cwd = await mkdtemp(join(tmpdir(), 'kiosk-supervision-'));
    dirs.push(cwd);
    await writeFile(
      join(cwd, 'package.json'),
      JSON.stringify({ name: 'kiosk-supervision', private: true, scripts: { start: `node ${KIOSK} start` } }),
    );
    const port = await freePort();
    const env = {
      ...baseEnv,
      PORT: String(port),
      KIOSK_TRIVIAL_MODEL: '1',
      KIOSK_DEFAULT_MODEL: 'trivial',
      KIOSK_SCALE_INTERVAL_S: '0.5',
      KIOSK_GPU_WORKERS: '0..1', // no inference worker while idle: a faster start
      KIOSK_STOP_GRACE_S: '2',
    };
    npm = spawn('npm', ['start'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const s of [npm.stdout!, npm.stderr!]) s.on('data', (d: Buffer) => (out += d.toString()));
    url = (await until(/cellkiosk is running at (\S+)/, 120_000))[1]!;
    expect(url).toBe(`http://127.0.0.1:${port}`);
  }, 150_000);

  afterAll(async () => {
    found.killAll(dirs);
    if (npm && npm.exitCode === null) npm.kill('SIGKILL');
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("issue 18 #4: a second kiosk in the same folder refuses, naming the first one's pid and URL", async () => {
    const launcher = kioskProcs(cwd).find((p) => p.cmd === `node ${KIOSK} start`)!;
    expect(launcher).toBeDefined();
    const t0 = Date.now();
    const second = kiosk(['start'], cwd, { ...baseEnv, PORT: String(await freePort()) });
    console.log(`second kiosk refused after ${Date.now() - t0} ms`);
    expect(second.code).toBe(1);
    expect(second.err).toContain(
      `another kiosk is already running in this folder: pid ${launcher.pid}, ${url} (lock ${cwd}/.kiosk/kiosk.lock)`,
    );
    expect(redisOf(cwd)).toHaveLength(1); // no second redis-server on the same AOF
    expect((await fetch(`${url}/v1/health`)).status).toBe(200);
  }, 70_000);

  it("issue 18 #4: Redis' own reason is shown when it will not start", async () => {
    const other = await mkdtemp(join(tmpdir(), 'kiosk-supervision-bad-aof-'));
    dirs.push(other);
    await mkdir(join(other, '.kiosk', 'redis', 'appendonlydir'), { recursive: true });
    await writeFile(
      join(other, '.kiosk', 'redis', 'appendonlydir', 'appendonly.aof.manifest'),
      'not a manifest\n',
    );
    const r = kiosk(['start'], other, { ...baseEnv, PORT: String(await freePort()) });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /redis-server \(data in \S+\) exited with code 1 before it was ready; its last lines:\n/,
    );
    expect(r.err).toMatch(/Invalid AOF manifest file format/);
    // Its lock went with it: the folder is free again.
    expect(readdirSync(join(other, '.kiosk'))).not.toContain('kiosk.lock');
  }, 70_000);

  it('issue 18 #2: the kiosk restarts its own Redis after kill -9, and says so', async () => {
    const [first] = redisOf(cwd);
    expect(first).toBeDefined();
    const port = /--port (\d+)|:(\d+)/.exec(readFileSync(join(cwd, '.kiosk', 'redis.url'), 'utf8'));
    const from = out.length;
    const t0 = Date.now();
    process.kill(first!.pid, 'SIGKILL');
    await until(
      new RegExp(
        `redis-server \\(pid ${first!.pid}\\) exited with signal SIGKILL; restarting it on port ${port![2]}`,
      ),
      10_000,
      from,
    );
    const back = await until(
      new RegExp(
        `redis-server is back on redis://127\\.0\\.0\\.1:${port![2]} \\(pid (\\d+)\\) ([\\d.]+) s after it exited`,
      ),
      15_000,
      from,
    );
    console.log(
      `kill -9 of the kiosk's Redis → back ${((Date.now() - t0) / 1000).toFixed(1)} s later (${back[2]} s by its own count)`,
    );
    expect(redisOf(cwd).map((p) => p.pid)).toEqual([Number(back[1])]);
    await expect.poll(async () => (await fetch(`${url}/v1/health`)).status, { timeout: 10_000 }).toBe(200);
  }, 40_000);

  it('issue 18 #3: SIGTERM to `npm start` stops everything, in bounded time even with its Redis frozen', async () => {
    const procs = kioskProcs(cwd);
    const [redis] = redisOf(cwd);
    expect(redis).toBeDefined();
    expect(procs.filter((p) => /workers\/main\.ts/.test(p.cmd)).length).toBeGreaterThanOrEqual(1);
    expect(procs.filter((p) => /api\/server\.ts/.test(p.cmd))).toHaveLength(1);
    // Redis frozen: connected, never answering (worse than gone: nothing sees it exit).
    process.kill(redis!.pid, 'SIGSTOP');
    const h0 = performance.now();
    const health = await fetch(`${url}/v1/health`, { signal: AbortSignal.timeout(5000) });
    console.log(
      `health with the kiosk's Redis frozen: ${health.status} in ${(performance.now() - h0).toFixed(0)} ms`,
    );
    expect(health.status).toBe(503);
    const from = out.length;
    const t0 = Date.now();
    npm!.kill('SIGTERM');
    const deadline = t0 + 15_000;
    while (procs.some((p) => alive(p.pid)) && Date.now() < deadline) await sleep(100);
    const secs = (Date.now() - t0) / 1000;
    console.log(`SIGTERM to npm start with Redis frozen → everything stopped in ${secs.toFixed(1)} s`);
    console.log(out.slice(from));
    expect(procs.filter((p) => alive(p.pid)).map((p) => `${p.pid} ${p.cmd}`)).toEqual([]);
    expect(out.slice(from)).toMatch(/npm \(its process \d+\) went away: stopping/);
    expect(out.slice(from)).toMatch(
      /Redis \(redis:\/\/127\.0\.0\.1:\d+\) does not answer: stopping the workers now/,
    );
    expect(kioskProcs(cwd)).toEqual([]);
    expect(readdirSync(join(cwd, '.kiosk'))).not.toContain('kiosk.lock');
  }, 40_000);
});

describe('the local kiosk stops within bounded time when a worker does not (kiosk start, Ctrl-C twice)', () => {
  let cwd = '';
  let start: ChildProcess | undefined;
  let out = '';
  const env: NodeJS.ProcessEnv = { ...process.env, KIOSK_STOP_GRACE_S: '2' };
  delete env.REDIS_URL;

  afterAll(async () => {
    found.killAll([cwd]);
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  it('issue 18 #3: Ctrl-C twice with a worker that never stops: jobs returned, then it is killed, then Redis stops', async () => {
    cwd = await mkdtemp(join(tmpdir(), 'kiosk-supervision-stuck-'));
    start = spawn(process.execPath, [KIOSK, 'start'], {
      cwd,
      env: {
        ...env,
        PORT: String(await freePort()),
        KIOSK_TRIVIAL_MODEL: '1',
        KIOSK_DEFAULT_MODEL: 'trivial',
        KIOSK_GPU_WORKERS: '0..1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const st of [start.stdout!, start.stderr!]) st.on('data', (d: Buffer) => (out += d.toString()));
    const code = new Promise<number | null>((r) => start!.once('exit', (c) => r(c)));
    const deadline = Date.now() + 120_000;
    while (!/cellkiosk is running at/.test(out)) {
      if (Date.now() > deadline || start.exitCode !== null)
        throw new Error(`the kiosk did not start:\n${out}`);
      await sleep(50);
    }
    const procs = kioskProcs(cwd);
    const [worker] = procs.filter((p) => /workers\/main\.ts/.test(p.cmd));
    expect(worker).toBeDefined();
    expect(redisOf(cwd)).toHaveLength(1);
    // A worker that never stops (frozen: its SIGTERM and SIGINT wait), Redis fine.
    process.kill(worker!.pid, 'SIGSTOP');
    const from = out.length;
    const t0 = Date.now();
    start.kill('SIGINT');
    await sleep(300);
    start.kill('SIGINT');
    const exitCode = await Promise.race([code, sleep(20_000).then(() => 'still running')]);
    const secs = (Date.now() - t0) / 1000;
    const said = out.slice(from);
    console.log(`Ctrl-C twice with a frozen worker → the kiosk exited in ${secs.toFixed(1)} s:\n${said}`);
    expect(exitCode).toBe(0);
    expect(said).toMatch(
      /SIGINT: returning running jobs to the queue now \(Ctrl-C again to kill everything\)/,
    );
    expect(said).toMatch(new RegExp(`still running: workers ${worker!.pid}; killing it`));
    expect(secs).toBeLessThan(10);
    expect(procs.filter((p) => alive(p.pid)).map((p) => `${p.pid} ${p.cmd}`)).toEqual([]);
    expect(kioskProcs(cwd)).toEqual([]);
  }, 150_000);

  it("issue 18 #3/#4: after its launcher was killed with SIGKILL, its API and workers stop, and a new kiosk refuses to run a second Redis on the first one's data", async () => {
    // The folder of the test before, stopped cleanly: a kiosk starts there again (the lock went with it).
    const first = spawn(process.execPath, [KIOSK, 'start'], {
      cwd,
      env: { ...env, PORT: String(await freePort()), KIOSK_GPU_WORKERS: '0..1', KIOSK_TRIVIAL_MODEL: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let said = '';
    for (const st of [first.stdout, first.stderr]) st.on('data', (d: Buffer) => (said += d.toString()));
    const deadline = Date.now() + 120_000;
    while (!/cellkiosk is running at/.test(said)) {
      if (Date.now() > deadline || first.exitCode !== null)
        throw new Error(`the kiosk did not start:\n${said}`);
      await sleep(50);
    }
    const [redis] = redisOf(cwd);
    expect(redis).toBeDefined();
    const children = kioskProcs(cwd).filter((p) => /api\/server\.ts|workers\/main\.ts/.test(p.cmd));
    expect(children.length).toBeGreaterThanOrEqual(2);
    const t0 = Date.now();
    first.kill('SIGKILL'); // nothing tells its children in their own process groups
    await new Promise((r) => first.once('exit', r));
    // The API and the workers see their launcher gone and stop (they no longer serve on without it) ...
    const until = Date.now() + 15_000;
    while (children.some((p) => alive(p.pid)) && Date.now() < until) await sleep(100);
    console.log(
      `launcher SIGKILLed → its API and workers stopped ${((Date.now() - t0) / 1000).toFixed(1)} s later`,
    );
    expect(children.filter((p) => alive(p.pid)).map((p) => `${p.pid} ${p.cmd}`)).toEqual([]);
    // ... its redis-server cannot see it: left running, and a new kiosk must not run a second one on its data.
    expect(alive(redis!.pid)).toBe(true);
    const second = spawn(process.execPath, [KIOSK, 'start'], {
      cwd,
      env: { ...env, PORT: String(await freePort()) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    second.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await Promise.race([
      new Promise((r) => second.once('exit', r)),
      sleep(30_000).then(() => 'still running'),
    ]);
    second.kill('SIGKILL');
    kioskProcs(cwd);
    expect(code, err).toBe(1);
    expect(err).toMatch(
      new RegExp(
        `a redis-server left running by an earlier kiosk in this folder \\(pid ${redis!.pid}, redis://127\\.0\\.0\\.1:\\d+\\) ` +
          `still uses its data \\(${cwd}/\\.kiosk/redis\\); a second one would corrupt it\\. Stop it first: kill ${redis!.pid}`,
      ),
    );
    expect(redisOf(cwd)).toHaveLength(1);
  }, 150_000);
});

describe('kiosk token and the folder lock', () => {
  it('issue 18 #4: kiosk token starts no second redis-server in a folder whose kiosk holds the lock (its Redis restarting)', async () => {
    const where = await mkdtemp(join(tmpdir(), 'kiosk-supervision-token-'));
    // A live process holding the folder's lock in place of a kiosk whose redis-server is restarting (no
    // .kiosk/redis.url answers): its command line names a kiosk, as the launcher's does.
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'kiosk-holder'], {
      stdio: 'ignore',
    });
    try {
      await mkdir(join(where, '.kiosk'), { recursive: true });
      await writeFile(
        join(where, '.kiosk', 'kiosk.lock'),
        JSON.stringify({ pid: holder.pid, url: 'http://127.0.0.1:8080' }),
      );
      const env: NodeJS.ProcessEnv = { ...process.env };
      delete env.REDIS_URL;
      const r = kiosk(['token', 'list'], where, env);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toContain(
        `another kiosk is already running in this folder: pid ${holder.pid}, http://127.0.0.1:8080`,
      );
      expect(r.err).toMatch(/Its Redis does not answer now \(restarting\?\): try again in a moment\./);
      expect(readdirSync(join(where, '.kiosk'))).toEqual(['kiosk.lock']); // no redis-server was started here
    } finally {
      holder.kill('SIGKILL');
      for (const p of kioskProcs(where)) process.kill(p.pid, 'SIGKILL');
      await rm(where, { recursive: true, force: true });
    }
  }, 60_000);
});

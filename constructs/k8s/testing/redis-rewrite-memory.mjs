// How much memory Redis needs beyond `used_memory` while it rewrites its AOF: the measurement behind
// REDIS_MAXMEMORY_SHARE (constructs/k8s/redis.ts). Run from the repository root (needs redis-server):
//   node constructs/k8s/testing/redis-rewrite-memory.mjs
// Starts a private redis-server (AOF on, maxmemory 768mb, noeviction), fills it with BullMQ-like job hashes to
// 90 % of maxmemory, then runs BGREWRITEAOF while a client keeps updating and adding jobs, and samples the
// parent's RSS plus the rewrite child's private pages (the pages copied on write, which the container's
// memory cgroup charges as well). Prints the peak as a multiple of used_memory.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const dir = mkdtempSync(join(tmpdir(), 'kiosk-redis-rewrite-'));
const server = spawn(
  'redis-server',
  [
    ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''],
    ...['--appendonly', 'yes', '--appendfsync', 'everysec', '--auto-aof-rewrite-percentage', '0'],
    ...['--maxmemory', '768mb', '--maxmemory-policy', 'noeviction'],
  ],
  { stdio: 'ignore' },
);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
await sleep(500);
const r = new Redis(port);
const info = async (section) =>
  Object.fromEntries(
    (await r.info(section))
      .split('\r\n')
      .filter((l) => l.includes(':'))
      .map((l) => l.split(':')),
  );
/** Sum of the given smaps_rollup fields of a process, in KiB (0 once it is gone). */
const kib = (pid, fields) => {
  try {
    return readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
      .split('\n')
      .filter((l) => fields.some((f) => l.startsWith(`${f}:`)))
      .reduce((a, l) => a + Number(l.split(/\s+/)[1]), 0);
  } catch {
    return 0;
  }
};

const payload = 'x'.repeat(700);
let jobs = 0;
while (Number((await info('memory')).used_memory) < 0.9 * 768 * 2 ** 20) {
  const p = r.pipeline();
  for (let i = 0; i < 2000; i++, jobs++) {
    p.hset(`bull:predict:${jobs}`, 'data', payload, 'name', 'predict', 'timestamp', String(Date.now()));
    p.hset(`bull:predict:${jobs}`, 'attemptsMade', '0', 'progress', '0');
  }
  for (let i = 0; i < 200; i++) p.lpush('bull:predict:wait', String(jobs - i));
  await p.exec();
}
const before = await info('memory');
const mib = (bytes) => (Number(bytes) / 2 ** 20).toFixed(0);
console.log(
  `filled: ${jobs} jobs, used_memory ${mib(before.used_memory)} MiB, rss ${mib(before.used_memory_rss)} MiB`,
);

let writing = true;
let added = 0;
let updated = 0;
const w = new Redis(port);
const writer = (async () => {
  while (writing) {
    const p = w.pipeline();
    for (let i = 0; i < 2000; i++, updated++)
      p.hset(`bull:predict:${Math.floor(Math.random() * jobs)}`, 'progress', String(Math.random()));
    for (let i = 0; i < 50; i++) p.hset(`bull:predict:new${added++}`, 'data', payload);
    await p.exec().catch(() => {});
  }
})();
await sleep(300);
await r.bgrewriteaof();
let peak = 0;
let childPeak = 0;
const t0 = Date.now();
for (;;) {
  const children = readFileSync(`/proc/${server.pid}/task/${server.pid}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  const child = children.reduce((a, c) => a + kib(c, ['Private_Clean', 'Private_Dirty']), 0);
  peak = Math.max(peak, kib(server.pid, ['Rss']) + child);
  childPeak = Math.max(childPeak, child);
  if ((await info('persistence')).aof_rewrite_in_progress === '0' && Date.now() - t0 > 500) break;
  await sleep(20);
}
writing = false;
await writer;
console.log(`rewrite took ${Date.now() - t0} ms; during it ${updated} job updates and ${added} new jobs`);
console.log(
  `peak parent RSS + child private pages: ${(peak / 1024).toFixed(0)} MiB (child ${(childPeak / 1024).toFixed(0)} MiB)` +
    ` = ${((peak * 1024) / Number(before.used_memory)).toFixed(2)} × used_memory`,
);
r.disconnect();
w.disconnect();
server.kill('SIGKILL');
rmSync(dir, { recursive: true, force: true });

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Chart, Testing } from 'cdk8s';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../test/redis.js';
import type { ComputeResources } from './pod-defaults.js';
import { KioskRedis } from './redis.js';

interface RedisContainer {
  args: string[];
  resources: { limits: { memory: string } };
}

/** The Redis container KioskRedis synthesizes with `resources`. */
function redisContainer(resources?: ComputeResources): RedisContainer {
  const chart = new Chart(Testing.app(), 'c');
  new KioskRedis(chart, 'redis', {
    namespace: 'ns',
    passwordSecret: { name: 's', key: 'k' },
    nodeSelector: {},
    ...(resources ? { resources } : {}),
  });
  const sts = Testing.synth(chart).find((o: { kind: string }) => o.kind === 'StatefulSet') as {
    spec: { template: { spec: { containers: RedisContainer[] } } };
  };
  return sts.spec.template.spec.containers[0]!;
}
const arg = (c: RedisContainer, name: string) => c.args[c.args.indexOf(name) + 1];

describe('KioskRedis', () => {
  it.each([
    [undefined, '1024Mi', '716mb'],
    [{ cpuMillis: 500, memoryMiB: 2048, memoryLimitMiB: 4096 }, '4096Mi', '2867mb'],
    [{ cpuMillis: 100, memoryMiB: 640 }, '640Mi', '448mb'],
  ])(
    'sets maxmemory to 70 percent of the memory limit: %j → limit %s, maxmemory %s',
    (res, limit, maxmemory) => {
      const c = redisContainer(res);
      expect(c.resources.limits.memory).toBe(limit);
      expect(arg(c, '--maxmemory')).toBe(maxmemory);
      expect(arg(c, '--maxmemory-policy')).toBe('noeviction');
    },
  );

  it('a real redis-server started with the synthesized arguments refuses writes at maxmemory instead of growing', async () => {
    const c = redisContainer({ cpuMillis: 100, memoryMiB: 16 }); // limit 16 MiB → maxmemory 11mb
    const dir = await mkdtemp(join(tmpdir(), 'kiosk-redis-args-'));
    const port = await freePort();
    const args = c.args.map((a) => (a === '$(REDIS_PASSWORD)' ? 'pw' : a === '/data' ? dir : a));
    const server = spawn('redis-server', [...args, '--port', String(port), '--bind', '127.0.0.1'], {
      stdio: 'ignore',
    });
    const client = new Redis({ port, password: 'pw', lazyConnect: true, maxRetriesPerRequest: 0 });
    client.on('error', () => {}); // refused connections while redis-server starts: connect() below retries
    try {
      for (let i = 0; ; i++) {
        try {
          await client.connect();
          break;
        } catch (err) {
          if (i > 200) throw err;
          await new Promise((r) => setTimeout(r, 25));
        }
      }
      expect(await client.config('GET', 'maxmemory')).toEqual(['maxmemory', String(11 * 2 ** 20)]);
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      const value = 'x'.repeat(256 * 1024);
      let refused: unknown;
      for (let i = 0; i < 200 && !refused; i++) await client.set(`k${i}`, value).catch((e) => (refused = e));
      expect(String(refused)).toMatch(/OOM command not allowed when used memory > 'maxmemory'/);
      const used = Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]);
      expect(used).toBeLessThan(12 * 2 ** 20);
    } finally {
      client.disconnect();
      server.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});

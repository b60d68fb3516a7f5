import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { freePort } from '../../test/redis.js';
import { connectRedis, redactUrl, redisOptions } from './connection.js';

describe('connectRedis', () => {
  it('reports a Redis outage as one line per error (password hidden) and works again when Redis is back', async () => {
    const port = await freePort();
    const lines: string[] = [];
    const redis = connectRedis(`redis://:s3cret@127.0.0.1:${port}`, (m) => lines.push(m));
    try {
      await new Promise((r) => setTimeout(r, 1500)); // ioredis retries several times meanwhile
      expect(lines.length).toBe(1);
      expect(lines[0]).toMatch(/ECONNREFUSED.*\(reconnecting\)/);
      expect(lines[0]).not.toContain('s3cret');
      const server = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--requirepass', 's3cret'],
        { stdio: 'ignore' },
      );
      try {
        expect(await redis.ping()).toBe('PONG'); // queued until the reconnect succeeds
      } finally {
        redis.disconnect();
        server.kill('SIGKILL');
      }
    } finally {
      redis.disconnect();
    }
  });

  it('parses redis:// URLs and refuses other schemes', () => {
    expect(redisOptions('redis://:p%40ss@h:6380/2')).toMatchObject({
      host: 'h',
      port: 6380,
      password: 'p@ss',
      db: 2,
    });
    expect(() => redisOptions('http://h')).toThrow(/must start with redis:\/\//);
    expect(redactUrl('redis://:pw@h:1')).toBe('redis://:***@h:1');
  });
});

import { inject, describe, expect, it } from 'vitest';
import { connect } from 'node:net';

function ping(url: string): Promise<string> {
  const { port, hostname } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(port), hostname);
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) {
        sock.destroy();
        resolve(buf.trim());
      }
    });
    sock.on('error', reject);
    sock.write('PING\r\n');
  });
}

describe('private test redis', () => {
  it('is running on its own port, not the shared 6379', async () => {
    const url = inject('redisUrl');
    expect(new URL(url).port).not.toBe('6379');
    expect(await ping(url)).toBe('+PONG');
  });
});

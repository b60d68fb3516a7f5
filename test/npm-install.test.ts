// npm's own view of the project's install (issue 23 #7): `npm ci` prints no warning on the Node the project
// supports, and the packages pinned through package.json's `overrides` do what fastify asks of them.
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fastifyStatic from '@fastify/static';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');

describe('npm install', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiosk-npm-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('issue 23 #7: npm ci prints no EBADENGINE, unknown-config or unreviewed install-script warning', async () => {
    // The project's install files alone, in an empty folder: `npm ci --dry-run` builds the tree from the lockfile
    // (engines and install scripts are recorded there) and prints what `npm ci` would warn about. --offline
    // with an empty cache: no registry, no download; it fails rather than fetch anything.
    for (const f of ['package.json', 'package-lock.json', '.npmrc'])
      await copyFile(join(root, f), join(dir, f));
    const { stdout, stderr } = await run(
      'npm',
      ['ci', '--dry-run', '--offline', '--cache', join(dir, 'cache'), '--loglevel', 'warn'],
      { cwd: dir, env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 16 << 20 },
    );
    expect(stdout).toMatch(/added \d+ packages/);
    expect(stderr).not.toMatch(/EBADENGINE/);
    expect(stderr).not.toMatch(/Unknown (project|user|global|env|cli) config/);
    expect(stderr).not.toMatch(/not yet covered by allowScripts/);
    expect(stderr.trim()).toBe('');
  });
});

describe('overridden dependencies (issue 23 #7)', () => {
  it('cookie 1.x under light-my-request: inject sends the cookies it is given', async () => {
    const app = Fastify();
    app.get('/c', async (req) => ({ cookie: req.headers.cookie ?? null }));
    const res = await app.inject({ method: 'GET', url: '/c', cookies: { lab: 'a b', token: 'x;y' } });
    // light-my-request serializes them with cookie's stringifySetCookie: values URL-encoded.
    expect(res.json()).toEqual({ cookie: 'lab=a%20b; token=x%3By' });
    await app.close();
  });

  it('content-disposition 2.x under @fastify/static: reply.download names a non-ASCII file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiosk-cd-'));
    try {
      await writeFile(join(dir, 'x.tif'), 'tif');
      const app = Fastify();
      await app.register(fastifyStatic, { root: dir, serve: false });
      app.get('/d', (_req, reply) => reply.download('x.tif', '核 nuclei.labels.tif'));
      const res = await app.inject({ method: 'GET', url: '/d' });
      expect(res.statusCode).toBe(200);
      expect(res.body).toBe('tif');
      expect(res.headers['content-disposition']).toBe(
        `attachment; filename="? nuclei.labels.tif"; filename*=UTF-8''%E6%A0%B8%20nuclei.labels.tif`,
      );
      await app.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The web UI at `/`: web/dist (a built UI) or web/public when present (the web UI is its own task), else
 * a minimal page that links the API docs.
 */
export async function installWeb(app: FastifyInstance, webRoot?: string): Promise<string | undefined> {
  const candidates = webRoot ? [webRoot] : [join(repoRoot, 'web', 'dist'), join(repoRoot, 'web', 'public')];
  const root = candidates.find((d) => existsSync(join(d, 'index.html')));
  if (root) {
    await app.register(fastifyStatic, { root, prefix: '/', index: 'index.html', schemaHide: true });
    return root;
  }
  app.get('/', { schema: { hide: true } }, async (_req, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .send(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>cellkiosk</title></head><body>' +
          '<h1>cellkiosk</h1><p>The job service is running. The web UI is not built yet.</p>' +
          '<ul><li><a href="/docs">API documentation (OpenAPI)</a></li><li><a href="/v1/models">models</a></li>' +
          '<li><a href="/v1/jobs">jobs</a></li><li><a href="/metrics">metrics</a></li></ul></body></html>',
      ),
  );
  return undefined;
}

import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import fastifyMultipart from '@fastify/multipart';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { installAuth } from './auth.js';
import type { ServiceConfig } from '../core/config.js';
import { ErrorBody, errorTableMarkdown, installErrorHandler, installJsonParser } from './errors.js';
import { installMetrics } from './metrics.js';
import { installSecurity } from './security.js';
import { compatRoutes } from './routes/compat.js';
import { modelsImportRoutes } from './routes/models-import.js';
import { v1CatalogRoutes } from './routes/v1-catalog.js';
import { v1ClusterRoutes } from './routes/v1-cluster.js';
import { v1EventRoutes } from './routes/v1-events.js';
import { v1JobRoutes } from './routes/v1-jobs.js';
import { v1TokenRoutes } from './routes/v1-tokens.js';
import { trainingRoutes } from './routes/training.js';
import { createServices, type KioskServices, type ServiceOverrides } from '../core/services.js';
import { installWeb } from './web.js';

export interface AppOptions {
  readonly config: ServiceConfig;
  /** Shared objects made elsewhere (tests); default: made from `config` and closed with the app. */
  readonly services?: KioskServices;
  /** Overrides for the services this app makes (a storage, code-registered models). */
  readonly overrides?: ServiceOverrides;
  /** fastify logger option. @default false */
  readonly logger?: FastifyServerOptions['logger'];
  /** Folder served at `/`. @default - web/dist or web/public if present, else a page linking /docs */
  readonly webRoot?: string;
}

/** KIOSK_TRUST_PROXY as fastify takes it (a hop count as a function: fastify's types lack the number form). */
function trustProxyOption(tp: ServiceConfig['trustProxy']): FastifyServerOptions['trustProxy'] {
  if (typeof tp === 'number') return (_address: string, hop: number) => hop < tp;
  return typeof tp === 'boolean' ? tp : [...tp];
}

/**
 * KIOSK_BODY_TIMEOUT_S: a request whose body stops arriving for that long (a truncated or stalled upload)
 * is answered 408 'request-timeout' and its connection closed, instead of holding the connection and the
 * handler waiting on it forever. Only the client's silence counts: the clock runs while the body is being
 * read (its stream flowing) and no byte comes, not while the API holds it back (backpressure from a slow
 * bucket) or before a handler reads it, and it stops once the body is complete. The socket's own timers
 * (keep-alive) are left alone; event streams and other bodiless requests are not watched.
 */
function installBodyTimeout(app: FastifyInstance, seconds: number): void {
  const limitMs = seconds * 1000;
  const tickMs = Math.max(50, Math.min(1000, limitMs / 4));
  app.addHook('onRequest', async (req, reply) => {
    const raw = req.raw;
    const hasBody =
      raw.headers['transfer-encoding'] !== undefined || Number(raw.headers['content-length']) > 0;
    const socket = raw.socket as Socket | null;
    // app.inject()'s requests have a mock socket (and their whole body at once)
    if (!hasBody || raw.complete || !socket || typeof socket.bytesRead !== 'number') return;
    let seen = socket.bytesRead;
    let lastMove = performance.now();
    const timer = setInterval(() => {
      if (raw.complete || socket.destroyed) return void clearInterval(timer);
      if (socket.bytesRead !== seen || raw.readableFlowing !== true) {
        seen = socket.bytesRead;
        lastMove = performance.now();
        return;
      }
      if (performance.now() - lastMove < limitMs) return;
      clearInterval(timer);
      const message = `the request body stopped arriving: no byte for ${seconds} s (KIOSK_BODY_TIMEOUT_S)`;
      req.log.info({ url: req.url }, message);
      if (reply.raw.headersSent) return void socket.destroy();
      const body = JSON.stringify({ error: 'request-timeout', message });
      socket.end(
        'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n' +
          `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      socket.destroySoon();
    }, tickMs);
    timer.unref();
    raw.once('close', () => clearInterval(timer));
  });
}

/**
 * Builds the API: v1 routes under /v1, the DeepCell-compatible routes under /api (trailing slashes
 * accepted everywhere), OpenAPI UI at /docs, Prometheus at /metrics, the web UI at /. Does not listen
 * (api/server.ts does); tests use `app.inject()` or `app.listen({ port: 0 })`.
 */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const owned = !opts.services;
  const services = opts.services ?? (await createServices(opts.config, opts.overrides));
  const app = Fastify({
    logger: opts.logger ?? false,
    routerOptions: { ignoreTrailingSlash: true },
    bodyLimit: services.config.maxBodyBytes,
    trustProxy: trustProxyOption(services.config.trustProxy),
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.addHook('onClose', async () => {
    if (owned) await services.close();
  });
  installErrorHandler(app);
  installJsonParser(app);
  installBodyTimeout(app, services.config.bodyTimeoutS);
  app.addSchema(ErrorBody);
  // Security headers, allowed web origins, rate limit per lab (api/security.ts): before every route.
  await installSecurity(app, services);
  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'cellkiosk API',
        version: '1',
        description:
          'Deep-learning segmentation of microscopy images as a service. /v1 is the API; /api is compatible with ' +
          'DeepCell Kiosk clients.\n\nEvery error response is `{ error: code, message }`; `message` says what ' +
          'was wrong.\n\n' +
          errorTableMarkdown(),
      },
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  await app.register(fastifyMultipart, {
    limits: {
      fileSize: services.config.maxUploadBytes,
      files: services.config.maxFilesPerUpload,
      fields: 100,
    },
  });
  installMetrics(app, services);
  // Authentication (api/auth.ts): before the routes, so every route is covered unless listed as public.
  installAuth(app, services);
  await app.register(v1JobRoutes, { prefix: '/v1', services });
  await app.register(v1CatalogRoutes, { prefix: '/v1', services });
  await app.register(modelsImportRoutes, { prefix: '/v1', services });
  await app.register(v1ClusterRoutes, { prefix: '/v1', services });
  await app.register(v1EventRoutes, { prefix: '/v1', services });
  await app.register(trainingRoutes, { prefix: '/v1', services });
  await app.register(v1TokenRoutes, { prefix: '/v1', services });
  await app.register(compatRoutes, { prefix: '/api', services });
  await installWeb(app, opts.webRoot);
  app.decorate('kiosk', services);
  return app;
}

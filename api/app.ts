import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import fastifyMultipart from '@fastify/multipart';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { installAuth } from './auth.js';
import type { ServiceConfig } from './config.js';
import { ErrorBody, ERRORS, installErrorHandler } from './errors.js';
import { installMetrics } from './metrics.js';
import { installSecurity } from './security.js';
import { compatRoutes } from './routes/compat.js';
import { v1CatalogRoutes } from './routes/v1-catalog.js';
import { v1ClusterRoutes } from './routes/v1-cluster.js';
import { v1EventRoutes } from './routes/v1-events.js';
import { v1JobRoutes } from './routes/v1-jobs.js';
import { v1TokenRoutes } from './routes/v1-tokens.js';
import { trainingRoutes } from './routes/training.js';
import { createServices, type KioskServices, type ServiceOverrides } from './services.js';
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
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.addHook('onClose', async () => {
    if (owned) await services.close();
  });
  installErrorHandler(app);
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
          'DeepCell Kiosk clients. Errors: ' +
          Object.entries(ERRORS)
            .map(([code, e]) => `${code} (${e.status}): ${e.doc}`)
            .join('; '),
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
  await app.register(v1ClusterRoutes, { prefix: '/v1', services });
  await app.register(v1EventRoutes, { prefix: '/v1', services });
  await app.register(trainingRoutes, { prefix: '/v1', services });
  await app.register(v1TokenRoutes, { prefix: '/v1', services });
  await app.register(compatRoutes, { prefix: '/api', services });
  await installWeb(app, opts.webRoot);
  app.decorate('kiosk', services);
  return app;
}

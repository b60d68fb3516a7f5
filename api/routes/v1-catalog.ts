import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { jobTypes } from '../../workers/queues/job-types.js';
import { errorResponses } from '../errors.js';
import type { KioskServices } from '../services.js';

const Model = Type.Object({
  name: Type.String(),
  version: Type.String(),
  source: Type.Union([Type.Literal('builtin'), Type.Literal('bucket'), Type.Literal('custom')]),
  card: Type.Object(
    {},
    {
      additionalProperties: true,
      description: 'the model card (training data, µm/px, normalization, validation)',
    },
  ),
});

/** API v1: models (shared ones and the caller's lab's), job types, health (public). */
export const v1CatalogRoutes: FastifyPluginAsyncTypebox<{ services: KioskServices }> = async (
  app,
  { services: s },
) => {
  app.get(
    '/models',
    {
      schema: {
        summary: "Models and versions with their cards: the shipped ones and the caller's lab's own",
        tags: ['catalog'],
        response: { 200: Type.Object({ models: Type.Array(Model) }), ...errorResponses },
      },
    },
    async (req) => ({
      models: (await s.registry.list(req.lab)).map((m) => ({ ...m, card: { ...m.card } })),
    }),
  );

  app.get(
    '/job-types',
    {
      schema: {
        summary: 'Job types',
        tags: ['catalog'],
        response: {
          200: Type.Object({
            jobTypes: Type.Array(
              Type.Object({ name: Type.String(), description: Type.String(), defaultModel: Type.String() }),
            ),
          }),
        },
      },
    },
    async () => ({ jobTypes: jobTypes(s.config.defaultModel) }),
  );

  app.get(
    '/health',
    {
      schema: {
        summary: 'Health: Redis and the bucket reachable',
        tags: ['catalog'],
        response: {
          200: Type.Object({ status: Type.Literal('ok'), redis: Type.String(), bucket: Type.String() }),
          503: Type.Object({
            status: Type.Literal('unavailable'),
            redis: Type.String(),
            bucket: Type.String(),
          }),
        },
      },
    },
    async (_req, reply) => {
      const redis = await s.redis.ping().then(
        () => 'ok',
        (e: unknown) => `unreachable: ${e instanceof Error ? e.message : String(e)}`,
      );
      const bucket = await s.storage.list(`models/`).then(
        () => `ok (${s.storage.kind})`,
        (e: unknown) => `unreachable: ${e instanceof Error ? e.message : String(e)}`,
      );
      const ok = redis === 'ok' && bucket.startsWith('ok');
      return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', redis, bucket });
    },
  );
};

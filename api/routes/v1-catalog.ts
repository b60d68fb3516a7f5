import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { describeJobType } from '../../workers/jobtypes/describe.js';
import { jobTypeRegistry } from '../../workers/jobtypes/registry.js';
import { errorResponses } from '../errors.js';
import type { KioskServices } from '../../core/services.js';

const Described = Type.Object({ name: Type.String(), description: Type.String() });

/** A job type's definition (workers/jobtypes), less its code. */
const JobTypeSchema = Type.Object({
  name: Type.String(),
  description: Type.String(),
  defaultModel: Type.String(),
  aliases: Type.Array(Type.String(), { description: 'other names the DeepCell-compatible routes accept' }),
  input: Type.Object({
    channels: Type.Array(Described, {
      description: "the channels in order: a job's options.channels gives the file's channel index of each",
    }),
    channelsFromModel: Type.Boolean({ description: 'true: the model decides how many channels' }),
    axes: Type.Array(Type.String()),
    dtypes: Type.Array(Type.String()),
  }),
  outputs: Type.Array(
    Type.Object({ name: Type.String(), kind: Type.Literal('labels'), description: Type.String() }),
    { description: 'the first is the primary label image (labelsUrl, <stem>_feature_0.tif)' },
  ),
});

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

/** How long /v1/health waits for Redis and for the bucket before it answers 503. */
export const HEALTH_TIMEOUT_MS = 1000;

/** `p`, or a rejection saying that `what` did not answer within `ms` (`p` is left to settle later). */
export function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`${what} did not answer within ${ms / 1000} s`)), ms);
  });
  p.catch(() => undefined); // a late failure is not an unhandled rejection
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

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
        summary: 'Job types: input contract (channels, axes, dtypes) and outputs of each',
        tags: ['catalog'],
        response: { 200: Type.Object({ jobTypes: Type.Array(JobTypeSchema) }) },
      },
    },
    async () => ({
      jobTypes: (await jobTypeRegistry()).list().map((t) => describeJobType(t, s.config.defaultModel)),
    }),
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
      const why = (e: unknown) => `unreachable: ${e instanceof Error ? e.message : String(e)}`;
      // Answered within HEALTH_TIMEOUT_MS whatever Redis does: a connection that is down is reported at
      // once (a PING would wait in ioredis' offline queue until Redis came back), a frozen one times out.
      // A first connection still being made (a process that has just started) is waited for, within the
      // same bound, rather than reported as down.
      const status = s.redis.status;
      const connecting = status === 'connecting' || status === 'connect';
      const ready = (): Promise<void> =>
        s.redis.status === 'ready'
          ? Promise.resolve()
          : new Promise((res) => s.redis.once('ready', () => res()));
      const [redis, bucket] = await Promise.all([
        status !== 'ready' && !connecting
          ? `unreachable: connection ${status}`
          : bounded(
              ready().then(() => s.redis.ping()),
              HEALTH_TIMEOUT_MS,
              'Redis',
            ).then(() => 'ok', why),
        bounded(s.storage.list(`models/`), HEALTH_TIMEOUT_MS, 'the bucket').then(
          () => `ok (${s.storage.kind})`,
          why,
        ),
      ]);
      const ok = redis === 'ok' && bucket.startsWith('ok');
      return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', redis, bucket });
    },
  );
};

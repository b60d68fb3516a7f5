import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { errorResponses } from '../errors.js';
import { baseUrl, getRecord, jobView } from '../jobs.js';
import { JobLabs } from '../job-labs.js';
import { IdParams } from '../schemas.js';
import type { KioskServices } from '../../core/services.js';

/**
 * Server-sent events of job updates for the UI: `event: job` with `{id, status, progress, reason?}` on each
 * change of a job of the caller's lab (request.lab), `: ping` comments every 15 s. /v1/jobs/:id/events starts with a `snapshot` event (the job as
 * GET /v1/jobs/:id gives it) and carries the job's and its children's updates.
 */
export const v1EventRoutes: FastifyPluginAsyncTypebox<{ services: KioskServices }> = async (
  app,
  { services: s },
) => {
  await s.watcher.start();
  const labs = new JobLabs(s.records);

  app.get(
    '/events',
    {
      schema: {
        summary: 'Event stream of every job update (text/event-stream)',
        tags: ['events'],
        produces: ['text/event-stream'],
      },
    },
    async (req, reply) => {
      const lab = req.lab;
      return stream(s, req, reply, async (id) => (await labs.of(id)) === lab);
    },
  );

  app.get(
    '/jobs/:id/events',
    {
      schema: {
        summary: "Event stream of one job's updates (and its children's), after a snapshot",
        tags: ['events'],
        params: IdParams,
        produces: ['text/event-stream'],
        response: { 200: Type.Unknown(), ...errorResponses },
      },
    },
    async (req, reply) => {
      const rec = await getRecord(s, req.params.id, req.lab);
      const ids = new Set([rec.id, ...(rec.children ?? [])]);
      return stream(s, req, reply, (id) => ids.has(id), await jobView(s, rec, baseUrl(s, req)));
    },
  );
};

function stream(
  s: KioskServices,
  req: FastifyRequest,
  reply: FastifyReply,
  wanted: (id: string) => boolean | Promise<boolean>,
  snapshot?: unknown,
) {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  if (snapshot) res.write(`event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`);
  else res.write(': connected\n\n');
  // Events are written in the order they came, also while `wanted` looks up a job's lab.
  let queue = Promise.resolve();
  const stop = s.watcher.listen((ev) => {
    queue = queue
      .then(async () => {
        if ((await wanted(ev.id)) && !res.writableEnded)
          res.write(`event: job\ndata: ${JSON.stringify(ev)}\n\n`);
      })
      .catch(() => undefined);
  });
  const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
  const end = () => {
    clearInterval(ping);
    stop();
  };
  req.raw.on('close', end);
  res.on('error', end);
}

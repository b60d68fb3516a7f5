/**
 * API v1 cluster routes (register with prefix /v1):
 * - GET /autoscaler/decisions  the autoscaler's recent decisions with their inputs, the replicas per pool
 *   now, and (local driver) recent worker process events — what it published to Redis
 *   (workers/autoscaler/decision-store.ts). The web Cluster page reads it.
 * Cluster-wide (no lab's data: queue counts and worker counts only), so any caller the auth hook lets in
 * may read it.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { readAutoscalerReport } from '../../workers/autoscaler/decision-store.js';
import { errorResponses } from '../errors.js';
import type { KioskServices } from '../../core/services.js';

const Action = Type.Union([Type.Literal('up'), Type.Literal('down'), Type.Literal('hold')]);

const Counts = Type.Object(
  {
    waiting: Type.Optional(Type.Integer()),
    active: Type.Optional(Type.Integer()),
    delayed: Type.Optional(Type.Integer()),
    prioritized: Type.Optional(Type.Integer()),
    waitingChildren: Type.Optional(Type.Integer()),
  },
  { description: 'BullMQ job counts of one queue when the decision was made' },
);

const Decision = Type.Object({
  time: Type.String({ format: 'date-time' }),
  driver: Type.String({ description: 'local (worker processes) or kubernetes (Deployment scale)' }),
  pool: Type.String({ description: 'cpu or gpu' }),
  action: Action,
  current: Type.Integer({ description: 'replicas before the decision (draining workers not counted)' }),
  desired: Type.Integer({ description: 'replicas asked for' }),
  actual: Type.Integer({ description: 'replicas up after applying it (draining workers counted)' }),
  raw: Type.Integer({ description: 'ceil(work / jobs per replica) clamped to [min, max]' }),
  readyWork: Type.Integer({ description: "jobs waiting or running in the pool's queues" }),
  futureWork: Type.Number({ description: 'jobs upstream that will reach the pool (GPU: preprocess)' }),
  counts: Type.Record(Type.String(), Counts),
  reasons: Type.Array(Type.String()),
});

const Pool = Type.Object({
  pool: Type.String(),
  queues: Type.Array(Type.String()),
  upstream: Type.Array(Type.String()),
  min: Type.Integer(),
  max: Type.Integer(),
  desired: Type.Integer(),
  actual: Type.Integer(),
  work: Type.Number({ description: 'jobs the policy counted at the last decision' }),
  decisions: Type.Object({ up: Type.Integer(), down: Type.Integer(), hold: Type.Integer() }),
  last: Decision,
});

const WorkerEvent = Type.Object({
  time: Type.String({ format: 'date-time' }),
  event: Type.String({ description: 'worker-start, worker-drain, worker-exit or worker-backoff' }),
  pool: Type.String(),
  pid: Type.Optional(Type.Integer()),
  code: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  signal: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  unexpected: Type.Optional(Type.Boolean({ description: 'it died without being asked to stop' })),
  retryAt: Type.Optional(Type.String({ format: 'date-time' })),
});

const Report = Type.Object({
  running: Type.Boolean({
    description: 'an autoscaler published its state within the last few intervals',
  }),
  driver: Type.Optional(Type.String()),
  startedAt: Type.Optional(Type.String({ format: 'date-time' })),
  updatedAt: Type.Optional(Type.String({ format: 'date-time' })),
  intervalMs: Type.Optional(Type.Integer()),
  pools: Type.Array(Pool, {
    description: 'per pool: limits, replicas now and the last decision (holds included)',
  }),
  decisions: Type.Array(Decision, {
    description:
      'recent decisions that changed a pool, plus the first of each pool after a start; oldest first',
  }),
  workerEvents: Type.Array(WorkerEvent, {
    description: 'recent worker process events (local driver); oldest first',
  }),
});

export const v1ClusterRoutes: FastifyPluginAsyncTypebox<{ services: KioskServices }> = async (
  app,
  { services: s },
) => {
  app.get(
    '/autoscaler/decisions',
    {
      schema: {
        summary: "The autoscaler's recent decisions, replicas per pool and worker events",
        description:
          'What the autoscaler (kiosk start, kiosk autoscale or the cluster pod) published to Redis: every ' +
          'decision that scaled a pool up or down with its inputs (queue counts, work, current/desired/actual ' +
          'replicas, reasons), and per pool the last decision, holds included. docs/autoscaling.md explains ' +
          'how to read them.',
        tags: ['cluster'],
        querystring: Type.Object({
          limit: Type.Integer({
            minimum: 1,
            maximum: 200,
            default: 50,
            description: 'most decisions and events',
          }),
        }),
        response: { 200: Report, ...errorResponses },
      },
    },
    async (req) => {
      const r = await readAutoscalerReport(s.redis, s.config.prefix, req.query.limit);
      const st = r.state;
      return {
        running: st !== undefined,
        ...(st
          ? { driver: st.driver, startedAt: st.startedAt, updatedAt: st.updatedAt, intervalMs: st.intervalMs }
          : {}),
        pools: st ? [...st.pools] : [],
        decisions: r.decisions,
        workerEvents: r.events,
      };
    },
  );
};

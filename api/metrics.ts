import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { readAutoscalerReport } from '../workers/autoscaler/decision-store.js';
import { createKioskMetrics, trackAutoscaler, trackQueues } from '../workers/metrics/kiosk-metrics.js';
import { metricsWithShared, readSharedMetrics, type MetricsJson } from '../workers/metrics/shared.js';
import { bullConnection } from '../workers/queues/connection.js';
import { TRAIN_QUEUE } from '../workers/training/queue.js';
import type { KioskServices } from '../core/services.js';

/**
 * Prometheus metrics at GET /metrics (text format), one registry per app, with the kiosk metrics of
 * workers/metrics (docs/autoscaling.md):
 * - HTTP requests by route and status, request durations, the API process's own Node metrics (`kiosk_api_*`);
 * - `kiosk_queue_jobs{queue, state}`: depth of every pipeline queue and the `train` queue, read from BullMQ
 *   at scrape time;
 * - `kiosk_autoscaler_*`: desired/actual replicas, work and decisions per pool, as the autoscaler last
 *   published them to Redis (wherever it runs; no samples when none runs);
 * - the workers' stage, throughput, failure and inference metrics, added up over the workers that share
 *   them through Redis (the local kiosk, KIOSK_METRICS_SHARE=redis; in a cluster Prometheus scrapes the
 *   worker pods instead).
 *
 * /metrics is public (Prometheus and the autoscaler scrape it without a token), so with KIOSK_AUTH=tokens it
 * holds no lab's data: a `model` label naming a lab-private model (one trained by a lab, visible to that lab
 * only) reads `model="lab-private"`, its samples added up with the other private models'; shared models
 * (shipped, or in the bucket without a lab) keep their names (docs/security.md).
 */
export function installMetrics(app: FastifyInstance, s: KioskServices): Registry {
  const register = new Registry();
  collectDefaultMetrics({ register, prefix: 'kiosk_api_' });
  const onError = (err: unknown) => app.log.warn({ err }, 'metrics: a source could not be read');
  const m = createKioskMetrics({ registry: register, onError });
  const train = new Queue(TRAIN_QUEUE, {
    connection: bullConnection(s.config.redisUrl),
    prefix: s.config.prefix,
  });
  train.on('error', onError);
  trackQueues(m, [...Object.values(s.queues), train]);
  trackAutoscaler(m, async () => (await readAutoscalerReport(s.redis, s.config.prefix, 1)).state?.pools);
  app.addHook('onClose', () => train.close());
  const requests = new Counter({
    name: 'kiosk_http_requests_total',
    help: 'HTTP requests by method, route and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [register],
  });
  const duration = new Histogram({
    name: 'kiosk_http_request_duration_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10],
    registers: [register],
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    duration.observe({ route }, reply.elapsedTime / 1000);
  });
  app.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics', tags: ['catalog'], produces: ['text/plain'] } },
    async (_req, reply) => {
      // Most samples come from Redis: while the connection is down, 503 at once instead of a scrape that
      // waits in ioredis' offline queue until Redis comes back (issue 18 #2).
      if (s.redis.status !== 'ready')
        return reply
          .status(503)
          .type('text/plain')
          .send(`metrics unavailable: Redis is not connected (${s.redis.status})\n`);
      let shared = await readSharedMetrics(s.redis, s.config.prefix).catch((err: unknown) => {
        onError(err);
        return [];
      });
      if (s.config.auth === 'tokens' && shared.length) {
        const names = await sharedModelNames(s).catch((err: unknown) => {
          onError(err);
          return new Set<string>();
        });
        shared = shared.map((metrics) => withoutPrivateModels(metrics, names));
      }
      reply.header('content-type', register.contentType);
      return metricsWithShared(register, shared);
    },
  );
  return register;
}

/** The label that replaces a lab-private model's name on /metrics. */
export const PRIVATE_MODEL_LABEL = 'lab-private';

/** Names of the models every lab sees (shipped, registered in code, in the bucket without a lab). */
async function sharedModelNames(s: KioskServices): Promise<Set<string>> {
  return new Set((await s.registry.list()).filter((m) => m.lab === undefined).map((m) => m.name));
}

/**
 * `metrics` with every `model` label that is not a shared model's (its name, or `name/version`,
 * `name@version`, `name:version`) replaced by PRIVATE_MODEL_LABEL; prom-client's aggregation then adds up
 * the samples that now share labels.
 */
export function withoutPrivateModels(metrics: MetricsJson, shared: ReadonlySet<string>): MetricsJson {
  const isShared = (model: string) => shared.has(model) || shared.has(model.replace(/[/@:][^/@:]*$/, ''));
  return metrics.map((m) => ({
    ...m,
    values: m.values.map((v) => {
      const model = (v.labels as Record<string, string | number | undefined>).model;
      if (model === undefined || isShared(String(model))) return v;
      return { ...v, labels: { ...v.labels, model: PRIVATE_MODEL_LABEL } };
    }),
  })) as MetricsJson;
}

import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { KioskServices } from './services.js';

const STATES = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'completed',
  'failed',
] as const;

/**
 * Prometheus metrics at GET /metrics (text format), one registry per app: HTTP requests by route and
 * status, request durations, and the depth of each pipeline queue by state (read from BullMQ on scrape;
 * the autoscaler and the web Cluster page read these).
 */
export function installMetrics(app: FastifyInstance, s: KioskServices): Registry {
  const register = new Registry();
  collectDefaultMetrics({ register, prefix: 'kiosk_api_' });
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
  new Gauge({
    name: 'kiosk_queue_jobs',
    help: 'Jobs in each pipeline queue by state',
    labelNames: ['queue', 'state'] as const,
    registers: [register],
    async collect() {
      this.reset();
      for (const [name, q] of Object.entries(s.queues)) {
        const counts = await q.getJobCounts(...STATES);
        for (const state of STATES) this.set({ queue: name, state }, counts[state] ?? 0);
      }
    },
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
      reply.header('content-type', register.contentType);
      return register.metrics();
    },
  );
  return register;
}

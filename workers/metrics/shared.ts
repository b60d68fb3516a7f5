/**
 * Worker metrics shared through Redis, for the local kiosk: its worker processes come and go with the
 * autoscaler, on no fixed port, so nothing could scrape them. Each worker writes its `kiosk_*` counters and
 * histograms (stage durations, jobs by outcome, model time, batch size) as prom-client JSON to one Redis hash
 * field every few seconds; the API's /metrics adds the fields up (prom-client's `AggregatorRegistry.aggregate`)
 * with its own metrics. A field stays `maxAgeMs` after its last write (default 1 h), so the totals of a worker
 * that was scaled down still count for a while; then it is dropped, which Prometheus reads as a counter reset.
 *
 * In a cluster, Prometheus scrapes each worker pod (KIOSK_METRICS_PORT) instead; do not turn this on there,
 * or the API's totals would count the same jobs a second time.
 *
 * Key: `<prefix>:metrics:workers` (hash: worker id → `{"at": ms, "metrics": [...]}`).
 */
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { AggregatorRegistry, type Registry } from 'prom-client';

export const sharedMetricsKey = (prefix: string) => `${prefix}:metrics:workers`;

/** One registry's metrics as `registry.getMetricsAsJSON()` gives them. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

export interface ShareMetricsOptions {
  readonly redis: Redis;
  readonly prefix: string;
  readonly registry: Registry;
  /** @default - `<hostname>-<pid>-<start time>` */
  readonly id?: string;
  /** @default 5000 */
  readonly intervalMs?: number;
  /** Metrics to share. @default - counters and histograms named kiosk_* (not kiosk_autoscaler_*) */
  readonly include?: (m: MetricsJson[number]) => boolean;
  /** Where a failed write goes (the next one retries). @default - ignored */
  readonly onError?: (err: unknown) => void;
}

export interface SharedMetrics {
  readonly id: string;
  /** Writes the metrics now. */
  flush(): Promise<void>;
  /** Stops the timer after a last write. */
  stop(): Promise<void>;
}

const defaultInclude = (m: MetricsJson[number]) =>
  m.name.startsWith('kiosk_') &&
  !m.name.startsWith('kiosk_autoscaler_') && // the API reads the autoscaler's own publication
  ['counter', 'histogram'].includes(String(m.type));

/** Starts writing this process's metrics to Redis every `intervalMs` (first write at once). */
export function shareMetrics(o: ShareMetricsOptions): SharedMetrics {
  const id = o.id ?? `${hostname()}-${process.pid}-${Date.now()}`;
  const include = o.include ?? defaultInclude;
  const flush = async () => {
    const metrics = (await o.registry.getMetricsAsJSON()).filter(include);
    await o.redis.hset(sharedMetricsKey(o.prefix), id, JSON.stringify({ at: Date.now(), metrics }));
  };
  const write = () => void flush().catch((err: unknown) => o.onError?.(err));
  write();
  const timer = setInterval(write, o.intervalMs ?? 5000);
  timer.unref();
  return {
    id,
    flush,
    async stop() {
      clearInterval(timer);
      await flush().catch((err: unknown) => o.onError?.(err));
    },
  };
}

/** The metrics every worker shared within `maxAgeMs`; older fields are deleted. */
export async function readSharedMetrics(
  redis: Redis,
  prefix: string,
  maxAgeMs = 3_600_000,
  nowMs = Date.now(),
): Promise<MetricsJson[]> {
  const all = await redis.hgetall(sharedMetricsKey(prefix));
  const out: MetricsJson[] = [];
  const stale: string[] = [];
  for (const [id, text] of Object.entries(all)) {
    try {
      const v = JSON.parse(text) as { at: number; metrics: MetricsJson };
      if (nowMs - v.at > maxAgeMs) stale.push(id);
      else if (Array.isArray(v.metrics)) out.push(v.metrics);
    } catch {
      stale.push(id);
    }
  }
  if (stale.length) await redis.hdel(sharedMetricsKey(prefix), ...stale);
  return out;
}

/**
 * The exposition text of `own` plus the shared worker metrics: a metric the workers shared is added up over
 * them and `own` per label set (prom-client's AggregatorRegistry); every other metric of `own` is printed as
 * is. Without shared metrics this is `own.metrics()`.
 */
export async function metricsWithShared(own: Registry, shared: readonly MetricsJson[]): Promise<string> {
  if (shared.length === 0) return own.metrics();
  const names = new Set(shared.flatMap((s) => s.map((m) => m.name)));
  const mine = await Promise.all([...names].map(async (n) => own.getSingleMetric(n)?.get()));
  const summed = AggregatorRegistry.aggregate([mine.filter((m) => m !== undefined), ...shared]);
  return withoutMetrics(await own.metrics(), names) + (await summed.metrics());
}

/** The exposition text without the blocks (`# HELP name` up to the next `# HELP`) of `names`. */
function withoutMetrics(text: string, names: ReadonlySet<string>): string {
  const out: string[] = [];
  let skipping = false;
  for (const line of text.split('\n')) {
    const help = /^# HELP (\S+)/.exec(line);
    if (help) skipping = names.has(help[1]!);
    if (!skipping) out.push(line);
  }
  return out.join('\n').replace(/\n*$/, '\n');
}

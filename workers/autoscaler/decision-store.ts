/**
 * The autoscaler's decisions in Redis, so the API (GET /v1/autoscaler/decisions, /metrics) and the web
 * Cluster page can show them wherever the autoscaler runs (inside `kiosk start`, its own process, a pod).
 *
 * Keys, under the kiosk's prefix:
 * - `<prefix>:autoscaler:state`      JSON AutoscalerState: per pool the last decision (holds included),
 *                                    desired/actual replicas and decision counts; expires when the
 *                                    autoscaler stops writing it (`stateTtlS`), so a dead one is not shown as live;
 * - `<prefix>:autoscaler:decisions`  list of the last `keep` decisions that changed something (up/down) and
 *                                    the first decision of each pool after a start, newest first;
 * - `<prefix>:autoscaler:events`     list of the last `keep` worker events of the local driver (start, ready
 *                                    is not known here, drain, exit — `unexpected` for a crash), newest first.
 */
import type { Redis } from 'ioredis';
import type { QueueCounts, ScaleAction, ScaleDecision } from './policy.js';

/** One decision as published (the same fields as the autoscaler's JSON log line). */
export interface PublishedDecision {
  readonly time: string;
  readonly driver: string;
  readonly pool: string;
  readonly action: ScaleAction;
  readonly current: number;
  readonly desired: number;
  readonly actual: number;
  readonly raw: number;
  readonly readyWork: number;
  readonly futureWork: number;
  readonly counts: Readonly<Record<string, QueueCounts>>;
  readonly reasons: string[];
}

/** A pool as the autoscaler last saw it. */
export interface PoolState {
  readonly pool: string;
  readonly queues: string[];
  readonly upstream: string[];
  readonly min: number;
  readonly max: number;
  readonly desired: number;
  readonly actual: number;
  /** Jobs the policy counted (ready + upstream). */
  readonly work: number;
  /** Decisions since the autoscaler started, by action. */
  readonly decisions: Readonly<Record<ScaleAction, number>>;
  readonly last: PublishedDecision;
}

export interface AutoscalerState {
  readonly driver: string;
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly intervalMs: number;
  readonly pools: readonly PoolState[];
}

/** A local worker process event (see drivers/local.ts WorkerEvent), with its time. */
export interface PublishedWorkerEvent {
  readonly time: string;
  readonly event: string;
  readonly pool: string;
  readonly pid?: number;
  readonly code?: number | null;
  readonly signal?: string | null;
  readonly unexpected?: boolean;
  readonly retryAt?: string;
}

export const stateKey = (prefix: string) => `${prefix}:autoscaler:state`;
export const decisionsKey = (prefix: string) => `${prefix}:autoscaler:decisions`;
export const eventsKey = (prefix: string) => `${prefix}:autoscaler:events`;

/** Turns a policy decision and the driver's actual count into the published (and logged) form. */
export function publishedDecision(d: ScaleDecision, driver: string, actual: number): PublishedDecision {
  return {
    time: new Date(d.atMs).toISOString(),
    driver,
    pool: d.pool,
    action: d.action,
    current: d.current,
    desired: d.desired,
    actual,
    raw: d.raw,
    readyWork: d.readyWork,
    futureWork: d.futureWork,
    counts: d.counts,
    reasons: [...d.reasons],
  };
}

export interface PoolShape {
  readonly pool: string;
  readonly queues: readonly string[];
  readonly upstream?: readonly { readonly queue: string }[];
  readonly min: number;
  readonly max: number;
}

export interface DecisionPublisherOptions {
  readonly redis: Redis;
  readonly prefix: string;
  readonly driver: string;
  readonly intervalMs: number;
  readonly pools: readonly PoolShape[];
  /** Decisions and events kept in each list. @default 200 */
  readonly keep?: number;
  /** The state expires this long after its last write. @default max(60, 6 × interval) seconds */
  readonly stateTtlS?: number;
  /** Clock. @default Date.now */
  readonly now?: () => number;
}

/** Writes the autoscaler's decisions and worker events; one per autoscaler. */
export class DecisionPublisher {
  private readonly keep: number;
  private readonly ttlS: number;
  private readonly startedAt: string;
  private readonly counts = new Map<string, Record<ScaleAction, number>>();
  private readonly seen = new Set<string>();
  private readonly last = new Map<string, PublishedDecision>();

  constructor(private readonly o: DecisionPublisherOptions) {
    this.keep = o.keep ?? 200;
    if (!Number.isInteger(this.keep) || this.keep < 1)
      throw new RangeError(`'keep' must be an integer >= 1; got ${this.keep}`);
    this.ttlS = o.stateTtlS ?? Math.max(60, Math.ceil((6 * o.intervalMs) / 1000));
    this.startedAt = new Date((o.now ?? Date.now)()).toISOString();
  }

  /** Publishes one tick's decisions (one per pool): the state, and the ones worth keeping in the list. */
  async decisions(ds: readonly PublishedDecision[]): Promise<void> {
    const listed: PublishedDecision[] = [];
    for (const d of ds) {
      const c = this.counts.get(d.pool) ?? { up: 0, down: 0, hold: 0 };
      c[d.action]++;
      this.counts.set(d.pool, c);
      this.last.set(d.pool, d);
      if (d.action !== 'hold' || !this.seen.has(d.pool)) listed.push(d);
      this.seen.add(d.pool);
    }
    const state: AutoscalerState = {
      driver: this.o.driver,
      startedAt: this.startedAt,
      updatedAt: new Date((this.o.now ?? Date.now)()).toISOString(),
      intervalMs: this.o.intervalMs,
      pools: this.o.pools.flatMap((p) => {
        const last = this.last.get(p.pool);
        if (!last) return [];
        return [
          {
            pool: p.pool,
            queues: [...p.queues],
            upstream: (p.upstream ?? []).map((u) => u.queue),
            min: p.min,
            max: p.max,
            desired: last.desired,
            actual: last.actual,
            work: last.readyWork + last.futureWork,
            decisions: { ...(this.counts.get(p.pool) ?? { up: 0, down: 0, hold: 0 }) },
            last,
          },
        ];
      }),
    };
    const m = this.o.redis.multi().set(stateKey(this.o.prefix), JSON.stringify(state), 'EX', this.ttlS);
    if (listed.length) {
      m.lpush(decisionsKey(this.o.prefix), ...listed.map((d) => JSON.stringify(d)));
      m.ltrim(decisionsKey(this.o.prefix), 0, this.keep - 1);
    }
    await m.exec();
  }

  /** Publishes a worker event of the local driver. */
  async event(e: Omit<PublishedWorkerEvent, 'time'>): Promise<void> {
    const line: PublishedWorkerEvent = { time: new Date((this.o.now ?? Date.now)()).toISOString(), ...e };
    await this.o.redis
      .multi()
      .lpush(eventsKey(this.o.prefix), JSON.stringify(line))
      .ltrim(eventsKey(this.o.prefix), 0, this.keep - 1)
      .exec();
  }
}

export interface AutoscalerReport {
  /** The live state; undefined when no autoscaler wrote one recently. */
  readonly state?: AutoscalerState;
  /** Recent decisions, oldest first. */
  readonly decisions: PublishedDecision[];
  /** Recent worker events (local driver), oldest first. */
  readonly events: PublishedWorkerEvent[];
}

function parseLines<T>(lines: readonly string[]): T[] {
  const out: T[] = [];
  for (const l of lines) {
    try {
      out.push(JSON.parse(l) as T);
    } catch {
      // a foreign or truncated entry: skipped
    }
  }
  return out.reverse();
}

/** Reads what the autoscaler published: the state and the last `limit` decisions and events. */
export async function readAutoscalerReport(
  redis: Redis,
  prefix: string,
  limit = 50,
): Promise<AutoscalerReport> {
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError(`'limit' must be an integer >= 1; got ${limit}`);
  const r = await redis
    .multi()
    .get(stateKey(prefix))
    .lrange(decisionsKey(prefix), 0, limit - 1)
    .lrange(eventsKey(prefix), 0, limit - 1)
    .exec();
  const [state, decisions, events] = (r ?? []).map(([err, v]) => {
    if (err) throw err;
    return v;
  }) as [string | null, string[], string[]];
  let parsed: AutoscalerState | undefined;
  try {
    parsed = state ? (JSON.parse(state) as AutoscalerState) : undefined;
  } catch {
    parsed = undefined;
  }
  return {
    ...(parsed ? { state: parsed } : {}),
    decisions: parseLines<PublishedDecision>(decisions ?? []),
    events: parseLines<PublishedWorkerEvent>(events ?? []),
  };
}

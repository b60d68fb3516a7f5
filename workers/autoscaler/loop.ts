/**
 * The autoscaler process's loop: every `intervalMs`, read the BullMQ counts of every queue the pools look
 * at, ask the driver for the current replicas, run the policy (policy.ts), apply the changes through the
 * driver, log each decision as one JSON line with its inputs, and export it as metrics. One tick at a time
 * (the next starts `intervalMs` after the previous ended); a failed tick is logged and the loop goes on.
 */
import { Queue } from 'bullmq';
import { bullConnection } from '../queues/connection.js';
import { kioskMetrics, recordScaleDecision, type KioskMetrics } from '../metrics/kiosk-metrics.js';
import type { ScaledPool } from './config.js';
import { publishedDecision, type DecisionPublisher, type PublishedDecision } from './decision-store.js';
import type { ScaleDriver } from './drivers/driver.js';
import {
  decideAll,
  validatePolicy,
  type PoolHistory,
  type QueueCounts,
  type ScaleDecision,
} from './policy.js';

export interface AutoscalerOptions {
  readonly redisUrl: string;
  /** BullMQ prefix of the kiosk's queues. */
  readonly prefix: string;
  readonly pools: readonly ScaledPool[];
  readonly driver: ScaleDriver;
  /** Time between decisions. */
  readonly intervalMs: number;
  /** Receives one JSON line per decision and per error. @default - write to stdout */
  readonly log?: (line: string) => void;
  /** @default - this process's kioskMetrics() */
  readonly metrics?: KioskMetrics;
  /** Clock (ms since epoch). @default Date.now */
  readonly now?: () => number;
  /**
   * Log `hold` decisions too (`false`: only up/down, e.g. under `kiosk start` where every 5 s would be
   * noise). Metrics count every decision either way. @default true
   */
  readonly logHolds?: boolean;
  /** Close the driver on stop (the local driver then drains its workers). @default true */
  readonly closeDriverOnStop?: boolean;
  /** Also publish every tick's decisions to Redis (for the API and the web Cluster page). @default - none */
  readonly publisher?: DecisionPublisher;
}

export interface RunningAutoscaler {
  /** Runs one decision now (also what the loop calls); resolves to the decisions made. */
  tick(): Promise<ScaleDecision[]>;
  /** Stops the loop, waits for a running tick, closes the queues (and the driver, unless told not to). */
  stop(): Promise<void>;
}

/** The BullMQ states the policy reads. */
const STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

/** Reads the counts of `queues` (BullMQ `getJobCounts`) as the policy's QueueCounts. */
export async function readCounts(queues: readonly Queue[]): Promise<Record<string, QueueCounts>> {
  const out: Record<string, QueueCounts> = {};
  await Promise.all(
    queues.map(async (q) => {
      const c = await q.getJobCounts(...STATES);
      out[q.name] = {
        waiting: c.waiting ?? 0,
        active: c.active ?? 0,
        delayed: c.delayed ?? 0,
        prioritized: c.prioritized ?? 0,
        waitingChildren: c['waiting-children'] ?? 0,
      };
    }),
  );
  return out;
}

/** The JSON line logged for a decision: the decision plus the driver and the actual replicas. */
export function decisionLine(d: ScaleDecision, driver: string, actual: number): string {
  return JSON.stringify({ event: 'scale-decision', ...publishedDecision(d, driver, actual) });
}

/** Starts the loop (first decision at once). */
export function runAutoscaler(o: AutoscalerOptions): RunningAutoscaler {
  if (!(o.intervalMs > 0)) throw new RangeError(`intervalMs must be > 0; got ${o.intervalMs}`);
  if (o.pools.length === 0) throw new RangeError('no pools to scale');
  for (const p of o.pools) validatePolicy(p);
  const log = o.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const metrics = o.metrics ?? kioskMetrics();
  const now = o.now ?? Date.now;
  const connection = bullConnection(o.redisUrl);
  const names = [
    ...new Set(o.pools.flatMap((p) => [...p.queues, ...(p.upstream ?? []).map((u) => u.queue)])),
  ];
  const queues = names.map((name) => new Queue(name, { connection, prefix: o.prefix }));
  for (const q of queues)
    q.on('error', (err) =>
      log(JSON.stringify({ event: 'autoscaler-error', queue: q.name, error: err.message })),
    );
  let histories: Record<string, PoolHistory> = {};
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();

  async function tick(): Promise<ScaleDecision[]> {
    const counts = await readCounts(queues);
    const current: Record<string, number> = {};
    for (const p of o.pools) current[p.pool] = await o.driver.replicas(p.pool);
    const r = decideAll(o.pools, counts, current, now(), histories);
    histories = r.histories;
    const published: PublishedDecision[] = [];
    for (const d of r.decisions) {
      if (d.desired !== d.current) await o.driver.scale(d.pool, d.desired);
      const actual = await o.driver.actual(d.pool);
      const p = publishedDecision(d, o.driver.name, actual);
      published.push(p);
      if (d.action !== 'hold' || (o.logHolds ?? true)) log(JSON.stringify({ event: 'scale-decision', ...p }));
      recordScaleDecision(metrics, {
        pool: d.pool,
        desired: d.desired,
        actual,
        work: d.readyWork + d.futureWork,
        action: d.action,
      });
    }
    // A Redis hiccup must not stop the scaling: logged, and the next tick publishes again.
    await o.publisher?.decisions(published).catch((err: unknown) =>
      log(
        JSON.stringify({
          event: 'autoscaler-error',
          time: new Date(now()).toISOString(),
          error: String(err),
        }),
      ),
    );
    return r.decisions;
  }

  function loop(): void {
    if (stopped) return;
    running = tick()
      .catch((err: unknown) =>
        log(
          JSON.stringify({
            event: 'autoscaler-error',
            time: new Date(now()).toISOString(),
            error: String(err),
          }),
        ),
      )
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, o.intervalMs);
      });
  }
  loop();

  return {
    tick: () => {
      const t = running.then(tick);
      running = t.catch(() => undefined);
      return t;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running.catch(() => undefined);
      await Promise.all(queues.map((q) => q.close()));
      if (o.closeDriverOnStop ?? true) await o.driver.close();
    },
  };
}

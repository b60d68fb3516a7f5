/**
 * The autoscaling policy as pure functions: queue counts + current replicas + time + history in, desired
 * replicas per pool with reasons out. No I/O: the loop (loop.ts) reads the counts and applies the result
 * through a driver; the planner (workers/planner) runs the same functions inside its simulation.
 *
 * Per pool, at each decision:
 * 1. work = Σ over the pool's queues of (waiting + prioritized + delayed + active)
 *         + Σ over its upstream queues of weight × (waiting + prioritized + delayed + active).
 *    Upstream work is work that will arrive here (e.g. every preprocess job becomes a predict job), so the GPU
 *    pool starts scaling out while the CPU pool is still preprocessing, not once predict jobs pile up — a GPU
 *    node takes minutes to start. `waiting-children` jobs are not counted as work (they wait for upstream
 *    stages, which are counted where they are queued), but they are work on its way: while a pool's own
 *    queues hold any, the pool keeps at least one replica and is not idle. (Found by the deploy rehearsal:
 *    a batch's 20 postprocess jobs waiting on their predict children left the CPU pool at no work, and it
 *    went to 0 mid-batch, to be scaled up again, a pod start later, when the first predict finished.)
 * 2. raw = ceil(work / jobsPerReplica) (at least 1 with jobs waiting on children), clamped to [min, max].
 * 3. Scale up at once. Scale down to the largest raw recommendation of the last `scaleDownStabilizationMs`
 *    (as the Kubernetes HPA's scaleDown stabilization window): a burst then a gap never flaps the count.
 * 4. With no work at all, keep the replicas for `idleGraceMs` after the last time there was work, then go
 *    to `min` (0 scales the pool to zero).
 * Ties and empty inputs: a queue missing from the counts counts as empty; work 0 with min 0 and no history
 * gives 0 (`idle` reason).
 */

/** BullMQ job counts of one queue (states a scaler cares about; missing = 0). */
export interface QueueCounts {
  readonly waiting?: number;
  readonly active?: number;
  readonly delayed?: number;
  readonly prioritized?: number;
  readonly waitingChildren?: number;
}

/** Work that will arrive in this pool from another queue: `weight` jobs here per job there. */
export interface UpstreamQueue {
  readonly queue: string;
  /** @default 1 */
  readonly weight?: number;
}

export interface PoolPolicy {
  /** Pool name (`cpu`, `gpu`). */
  readonly pool: string;
  /** Queues this pool's workers consume. */
  readonly queues: readonly string[];
  /** Fewest replicas (0 allows scale to zero). */
  readonly min: number;
  /** Most replicas. */
  readonly max: number;
  /** Jobs of work one replica should have (queued + running); > 0. */
  readonly jobsPerReplica: number;
  /** Time with no work before scaling down to `min`. */
  readonly idleGraceMs: number;
  /** Scale-down uses the largest recommendation of this window (0: scale down at once). */
  readonly scaleDownStabilizationMs: number;
  /** Queues feeding this pool (counted as future work). @default - none */
  readonly upstream?: readonly UpstreamQueue[];
}

/** What the policy remembers of a pool between decisions (returned by `decidePool`, passed back next time). */
export interface PoolHistory {
  /** Last decision time at which the pool had work (ms since epoch); undefined: never. */
  readonly lastWorkAtMs?: number;
  /** Raw recommendations within the stabilization window, oldest first. */
  readonly recommendations: readonly { readonly atMs: number; readonly replicas: number }[];
}

export const EMPTY_HISTORY: PoolHistory = { recommendations: [] };

export type ScaleAction = 'up' | 'down' | 'hold';

/** One decision for one pool, with everything it was computed from (logged as one JSON line). */
export interface ScaleDecision {
  readonly pool: string;
  readonly atMs: number;
  readonly current: number;
  readonly desired: number;
  readonly action: ScaleAction;
  /** Jobs ready for or running in this pool's queues. */
  readonly readyWork: number;
  /** Weighted jobs in upstream queues. */
  readonly futureWork: number;
  /** ceil(work / jobsPerReplica) clamped to [min, max], before stabilization and idle grace. */
  readonly raw: number;
  /** The counts read, per queue (own and upstream). */
  readonly counts: Readonly<Record<string, QueueCounts>>;
  readonly reasons: readonly string[];
}

/** Throws a RangeError naming the field, the allowed range and the value, for a policy that cannot work. */
export function validatePolicy(p: PoolPolicy): void {
  const where = `pool '${p.pool}'`;
  const int = (name: string, v: number, lo: number) => {
    if (!Number.isInteger(v) || v < lo)
      throw new RangeError(`${where}: '${name}' must be an integer >= ${lo}; got ${v}`);
  };
  int('min', p.min, 0);
  int('max', p.max, 0);
  if (p.max < p.min) throw new RangeError(`${where}: 'max' (${p.max}) must be >= 'min' (${p.min})`);
  if (!(p.jobsPerReplica > 0) || !Number.isFinite(p.jobsPerReplica))
    throw new RangeError(`${where}: 'jobsPerReplica' must be a finite number > 0; got ${p.jobsPerReplica}`);
  for (const [name, v] of [
    ['idleGraceMs', p.idleGraceMs],
    ['scaleDownStabilizationMs', p.scaleDownStabilizationMs],
  ] as const) {
    if (!(v >= 0) || !Number.isFinite(v))
      throw new RangeError(`${where}: '${name}' must be a finite number >= 0; got ${v}`);
  }
  if (p.queues.length === 0) throw new RangeError(`${where}: 'queues' must name at least one queue`);
  for (const u of p.upstream ?? []) {
    const w = u.weight ?? 1;
    if (!(w >= 0) || !Number.isFinite(w))
      throw new RangeError(`${where}: upstream '${u.queue}' weight must be a finite number >= 0; got ${w}`);
  }
}

/** Jobs of a queue that need (or hold) a worker: waiting + prioritized + delayed + active. */
export function pendingJobs(c: QueueCounts | undefined): number {
  if (!c) return 0;
  return (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0) + (c.active ?? 0);
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/**
 * One pool's decision. `counts` maps queue name → counts (queues not present count as empty); `current` is
 * the replicas the driver reports. Returns the decision and the history to pass next time.
 */
export function decidePool(
  p: PoolPolicy,
  counts: Readonly<Record<string, QueueCounts>>,
  current: number,
  nowMs: number,
  history: PoolHistory = EMPTY_HISTORY,
): { decision: ScaleDecision; history: PoolHistory } {
  const readyWork = p.queues.reduce((s, q) => s + pendingJobs(counts[q]), 0);
  const futureWork = (p.upstream ?? []).reduce(
    (s, u) => s + (u.weight ?? 1) * pendingJobs(counts[u.queue]),
    0,
  );
  const work = readyWork + futureWork;
  const onTheWay = p.queues.reduce((s, q) => s + (counts[q]?.waitingChildren ?? 0), 0);
  const raw = clamp(Math.max(Math.ceil(work / p.jobsPerReplica), onTheWay > 0 ? 1 : 0), p.min, p.max);
  const reasons: string[] = [];
  reasons.push(
    `work ${fmt(work)} (ready ${readyWork}, upstream ${fmt(futureWork)}) / ${p.jobsPerReplica} per replica` +
      (onTheWay > 0 ? `, ${onTheWay} waiting on children (at least 1)` : '') +
      ` → ${raw} in [${p.min}, ${p.max}]`,
  );

  const lastWorkAtMs = work > 0 || onTheWay > 0 ? nowMs : history.lastWorkAtMs;
  const windowStart = nowMs - p.scaleDownStabilizationMs;
  const recommendations = [
    ...history.recommendations.filter((r) => r.atMs > windowStart),
    { atMs: nowMs, replicas: raw },
  ];

  let desired: number;
  if (raw >= current) {
    desired = raw;
    reasons.push(raw > current ? `scale up at once to ${raw}` : `hold ${current}`);
  } else if (work === 0 && onTheWay === 0) {
    const idleMs = lastWorkAtMs === undefined ? Number.POSITIVE_INFINITY : nowMs - lastWorkAtMs;
    if (idleMs >= p.idleGraceMs) {
      desired = p.min;
      reasons.push(
        lastWorkAtMs === undefined
          ? `idle: no work seen → min ${p.min}`
          : `idle ${fmt(idleMs / 1000)} s >= grace ${fmt(p.idleGraceMs / 1000)} s → min ${p.min}`,
      );
    } else {
      desired = current;
      reasons.push(`idle ${fmt(idleMs / 1000)} s < grace ${fmt(p.idleGraceMs / 1000)} s → hold ${current}`);
    }
  } else {
    const stable = Math.max(...recommendations.map((r) => r.replicas));
    desired = Math.min(current, stable);
    reasons.push(
      desired < current
        ? `scale down to ${desired} (largest recommendation in the last ${fmt(p.scaleDownStabilizationMs / 1000)} s)`
        : `hold ${current}: recommended ${stable} within the last ${fmt(p.scaleDownStabilizationMs / 1000)} s`,
    );
  }
  desired = clamp(desired, p.min, p.max);
  if (current > p.max || current < p.min)
    reasons.push(`current ${current} outside [${p.min}, ${p.max}] → clamped`);

  const action: ScaleAction = desired > current ? 'up' : desired < current ? 'down' : 'hold';
  const seen: Record<string, QueueCounts> = {};
  for (const q of [...p.queues, ...(p.upstream ?? []).map((u) => u.queue)]) seen[q] = counts[q] ?? {};
  return {
    decision: {
      pool: p.pool,
      atMs: nowMs,
      current,
      desired,
      action,
      readyWork,
      futureWork,
      raw,
      counts: seen,
      reasons,
    },
    history: { ...(lastWorkAtMs !== undefined ? { lastWorkAtMs } : {}), recommendations },
  };
}

/** Decisions for several pools at once (each pool's history by name). */
export function decideAll(
  policies: readonly PoolPolicy[],
  counts: Readonly<Record<string, QueueCounts>>,
  current: Readonly<Record<string, number>>,
  nowMs: number,
  histories: Readonly<Record<string, PoolHistory>> = {},
): { decisions: ScaleDecision[]; histories: Record<string, PoolHistory> } {
  const decisions: ScaleDecision[] = [];
  const next: Record<string, PoolHistory> = {};
  for (const p of policies) {
    const r = decidePool(p, counts, current[p.pool] ?? 0, nowMs, histories[p.pool]);
    decisions.push(r.decision);
    next[p.pool] = r.history;
  }
  return { decisions, histories: next };
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

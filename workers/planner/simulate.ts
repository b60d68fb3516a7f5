/**
 * Discrete-event simulation of an autoscaled batch: N identical images enter the first stage's queue at
 * t = 0; each stage runs on a worker slot of its pool for `stageSeconds(cost, MP)`; the autoscaler ticks
 * every `intervalSeconds` running the SAME policy as the live one (workers/autoscaler/policy.ts) on the
 * simulated queue counts; a new replica is ready after node start-up + worker start-up (a lingering empty
 * node only needs the worker start-up); scaled-down replicas drain (finish their jobs) and their node is
 * billed until `nodeReleaseSeconds` after it emptied (the cluster autoscaler's scale-down delay).
 *
 * Model limits (said, not hidden): one replica per node; images are identical; no failures, retries or spot
 * preemptions; queue hops cost what the measured stage times include; the result's time is from submission.
 */
import type { StageCost } from './costs.js';
import { stageSeconds } from './costs.js';
import { decideAll, type PoolHistory, type PoolPolicy, type QueueCounts } from '../autoscaler/policy.js';

export interface SimPool {
  readonly policy: PoolPolicy;
  /** New node → schedulable (0 locally). */
  readonly nodeStartupSeconds: number;
  /** Worker process start → first job. */
  readonly workerStartupSeconds: number;
  /** An empty node is removed (and stops costing) this long after its worker left. 0 locally. */
  readonly nodeReleaseSeconds: number;
  /** Price of one node-hour (0 locally). */
  readonly pricePerNodeHour: number;
}

export interface SimInput {
  readonly images: number;
  readonly megapixels: number;
  /** Stages in pipeline order. */
  readonly stages: readonly StageCost[];
  readonly pools: readonly SimPool[];
  readonly intervalSeconds: number;
  /** Always-on cost while the batch runs (control plane, API/Redis node). @default 0 */
  readonly fixedPricePerHour?: number;
  /** Give up past this simulated time. @default 30 days */
  readonly maxSeconds?: number;
}

export interface PoolResult {
  readonly nodeHours: number;
  readonly cost: number;
  readonly peakReplicas: number;
  /** Busy slot-seconds / (replica-seconds up × slots): how saturated the pool was while it had workers. */
  readonly utilization: number;
}

export interface SimResult {
  /** Submission → last image done (s). */
  readonly makespanSeconds: number;
  /** Submission → last node released (s): what is billed. */
  readonly billedSeconds: number;
  readonly pools: Readonly<Record<string, PoolResult>>;
  readonly fixedCost: number;
  readonly totalCost: number;
  readonly totalNodeHours: number;
  readonly decisions: number;
}

/** A plan that cannot finish (a stage with no pool, a pool with max 0); the message names it. */
export class PlanError extends Error {
  override readonly name = 'PlanError';
}

type NodeState = 'booting' | 'up' | 'draining' | 'empty' | 'gone';
interface SimNode {
  readonly pool: string;
  state: NodeState;
  readonly createdAt: number;
  readyAt: number;
  emptiedAt: number;
  releasedAt: number;
  upSince: number;
  upSeconds: number;
  /** Busy slots per stage index. */
  busy: number[];
  /** Bumped when the node is reused or released, so stale events are ignored. */
  epoch: number;
}

type Ev =
  | { t: number; seq: number; kind: 'tick' }
  | { t: number; seq: number; kind: 'ready'; node: SimNode; epoch: number }
  | { t: number; seq: number; kind: 'done'; node: SimNode; stage: number }
  | { t: number; seq: number; kind: 'release'; node: SimNode; epoch: number };

/** Min-heap on (t, seq): events at the same time run in the order they were scheduled. */
class EventHeap {
  private a: Ev[] = [];
  get size() {
    return this.a.length;
  }
  push(e: Ev): void {
    const a = this.a;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(a[p]!, a[i]!)) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): Ev | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l]!, a[m]!)) m = l;
        if (r < a.length && less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}
const less = (x: Ev, y: Ev) => x.t < y.t || (x.t === y.t && x.seq < y.seq);

export function simulate(input: SimInput): SimResult {
  const { images, megapixels, stages } = input;
  if (!Number.isInteger(images) || images < 1)
    throw new PlanError(`images must be an integer >= 1; got ${images}`);
  if (!(megapixels > 0) || !Number.isFinite(megapixels))
    throw new PlanError(`megapixels must be > 0; got ${megapixels}`);
  if (!(input.intervalSeconds > 0))
    throw new PlanError(`intervalSeconds must be > 0; got ${input.intervalSeconds}`);
  const poolByName = new Map(input.pools.map((p) => [p.policy.pool, p]));
  for (const s of stages) {
    const p = poolByName.get(s.pool);
    if (!p) throw new PlanError(`stage '${s.queue}' runs on pool '${s.pool}', which the plan does not have`);
    if (p.policy.max < 1)
      throw new PlanError(`pool '${s.pool}' has max 0 replicas: '${s.queue}' jobs could never run`);
    if (!p.policy.queues.includes(s.queue))
      throw new PlanError(
        `pool '${s.pool}' does not consume queue '${s.queue}' (its queues: ${p.policy.queues.join(', ')})`,
      );
  }
  const maxSeconds = input.maxSeconds ?? 30 * 86_400;
  const durations = stages.map((s) => stageSeconds(s, megapixels));
  const slots = stages.map((s) => s.concurrency ?? 1);
  const ready = stages.map((_, i) => (i === 0 ? images : 0));
  const active = stages.map(() => 0);
  const done = stages.map(() => 0);
  const nodes: SimNode[] = [];
  const heap = new EventHeap();
  let seq = 0;
  let t = 0;
  let makespan = Number.NaN;
  let decisions = 0;
  let histories: Record<string, PoolHistory> = {};
  const busySeconds = new Map<string, number>(input.pools.map((p) => [p.policy.pool, 0]));
  const peak = new Map<string, number>(input.pools.map((p) => [p.policy.pool, 0]));
  const stagesOf = new Map<string, number[]>();
  stages.forEach((s, i) => stagesOf.set(s.pool, [...(stagesOf.get(s.pool) ?? []), i]));

  const startJobs = (node: SimNode) => {
    if (node.state !== 'up') return;
    for (const i of stagesOf.get(node.pool) ?? []) {
      while (ready[i]! > 0 && node.busy[i]! < slots[i]!) {
        ready[i]!--;
        active[i]!++;
        node.busy[i]!++;
        heap.push({ t: t + durations[i]!, seq: seq++, kind: 'done', node, stage: i });
        busySeconds.set(node.pool, busySeconds.get(node.pool)! + durations[i]!);
      }
    }
  };
  const dispatch = (stage: number) => {
    const pool = stages[stage]!.pool;
    for (const n of nodes) {
      if (ready[stage]! === 0) return;
      if (n.pool === pool && n.state === 'up') startJobs(n);
    }
  };
  const leave = (n: SimNode) => {
    // the worker exits; the node lingers until released
    if (n.state === 'up' || n.state === 'draining') n.upSeconds += t - n.upSince;
    n.state = 'empty';
    n.emptiedAt = t;
    n.epoch++;
    const sp = poolByName.get(n.pool)!;
    heap.push({ t: t + sp.nodeReleaseSeconds, seq: seq++, kind: 'release', node: n, epoch: n.epoch });
  };
  const current = (pool: string) =>
    nodes.filter((n) => n.pool === pool && (n.state === 'booting' || n.state === 'up')).length;

  const scaleTo = (pool: string, desired: number) => {
    const sp = poolByName.get(pool)!;
    let have = current(pool);
    for (; have < desired; have++) {
      const reuse = nodes.find((n) => n.pool === pool && n.state === 'empty');
      const node: SimNode = reuse ?? {
        pool,
        state: 'booting',
        createdAt: t,
        readyAt: 0,
        emptiedAt: 0,
        releasedAt: Number.NaN,
        upSince: 0,
        upSeconds: 0,
        busy: stages.map(() => 0),
        epoch: 0,
      };
      node.state = 'booting';
      node.epoch++;
      node.readyAt = t + sp.workerStartupSeconds + (reuse ? 0 : sp.nodeStartupSeconds);
      if (!reuse) nodes.push(node);
      heap.push({ t: node.readyAt, seq: seq++, kind: 'ready', node, epoch: node.epoch });
    }
    if (have > desired) {
      // drain: booting nodes first, then idle ones, then busy ones (they finish their jobs first)
      const mine = nodes.filter((n) => n.pool === pool && (n.state === 'booting' || n.state === 'up'));
      const order = [
        ...mine.filter((n) => n.state === 'booting'),
        ...mine.filter((n) => n.state === 'up' && n.busy.every((b) => b === 0)),
        ...mine.filter((n) => n.state === 'up' && n.busy.some((b) => b > 0)),
      ];
      for (const n of order.slice(0, have - desired)) {
        if (n.state === 'booting' || n.busy.every((b) => b === 0)) leave(n);
        else n.state = 'draining';
      }
    }
    peak.set(pool, Math.max(peak.get(pool)!, current(pool)));
  };

  const counts = (): Record<string, QueueCounts> => {
    const c: Record<string, QueueCounts> = {};
    stages.forEach((s, i) => {
      c[s.queue] = {
        waiting: ready[i]!,
        active: active[i]!,
        waitingChildren: images - done[i]! - ready[i]! - active[i]!,
      };
    });
    return c;
  };

  const tick = () => {
    const cur: Record<string, number> = {};
    for (const p of input.pools) cur[p.policy.pool] = current(p.policy.pool);
    const r = decideAll(
      input.pools.map((p) => p.policy),
      counts(),
      cur,
      t * 1000,
      histories,
    );
    histories = r.histories;
    decisions++;
    for (const d of r.decisions) if (d.desired !== d.current) scaleTo(d.pool, d.desired);
  };

  const settled = () =>
    done[stages.length - 1] === images &&
    nodes.every(
      (n) =>
        n.state === 'gone' ||
        (poolByName.get(n.pool)!.policy.min > 0 && (n.state === 'up' || n.state === 'booting')),
    ) &&
    input.pools.every((p) => current(p.policy.pool) <= p.policy.min);

  heap.push({ t: 0, seq: seq++, kind: 'tick' });
  while (heap.size > 0) {
    const e = heap.pop()!;
    t = e.t;
    if (t > maxSeconds)
      throw new PlanError(
        `the run does not finish within ${(maxSeconds / 86_400).toFixed(0)} days of simulated time (${done.at(-1)} of ${images} images done)`,
      );
    if (e.kind === 'tick') {
      tick();
      if (!settled()) heap.push({ t: t + input.intervalSeconds, seq: seq++, kind: 'tick' });
    } else if (e.kind === 'ready') {
      if (e.epoch !== e.node.epoch || e.node.state !== 'booting') continue;
      e.node.state = 'up';
      e.node.upSince = t;
      startJobs(e.node);
    } else if (e.kind === 'done') {
      const n = e.node;
      n.busy[e.stage]!--;
      active[e.stage]!--;
      done[e.stage]!++;
      if (e.stage + 1 < stages.length) {
        ready[e.stage + 1]!++;
        dispatch(e.stage + 1);
      } else if (done[e.stage] === images) makespan = t;
      if (n.state === 'draining' && n.busy.every((b) => b === 0)) leave(n);
      else startJobs(n);
    } else if (e.kind === 'release') {
      if (e.epoch !== e.node.epoch || e.node.state !== 'empty') continue;
      e.node.state = 'gone';
      e.node.releasedAt = t;
    }
  }
  const end = t;
  const pools: Record<string, PoolResult> = {};
  let totalCost = 0;
  let totalNodeHours = 0;
  for (const p of input.pools) {
    const mine = nodes.filter((n) => n.pool === p.policy.pool);
    const nodeSeconds = mine.reduce(
      (s, n) => s + ((Number.isNaN(n.releasedAt) ? end : n.releasedAt) - n.createdAt),
      0,
    );
    const upSeconds = mine.reduce((s, n) => s + n.upSeconds + (n.state === 'up' ? end - n.upSince : 0), 0);
    const slotCount = (stagesOf.get(p.policy.pool) ?? []).reduce((s, i) => s + slots[i]!, 0) || 1;
    const nodeHours = nodeSeconds / 3600;
    const cost = nodeHours * p.pricePerNodeHour;
    pools[p.policy.pool] = {
      nodeHours,
      cost,
      peakReplicas: peak.get(p.policy.pool)!,
      utilization: upSeconds > 0 ? busySeconds.get(p.policy.pool)! / (upSeconds * slotCount) : 0,
    };
    totalCost += cost;
    totalNodeHours += nodeHours;
  }
  const fixedCost = ((input.fixedPricePerHour ?? 0) * makespan) / 3600;
  return {
    makespanSeconds: makespan,
    billedSeconds: end,
    pools,
    fixedCost,
    totalCost: totalCost + fixedCost,
    totalNodeHours,
    decisions,
  };
}

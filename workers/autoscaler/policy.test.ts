import { describe, expect, it } from 'vitest';
import { AutoscalerConfigError, configFromEnv, parsePoolSpec, withPipelineUpstream } from './config.js';
import {
  decideAll,
  decidePool,
  EMPTY_HISTORY,
  validatePolicy,
  type PoolHistory,
  type PoolPolicy,
  type QueueCounts,
} from './policy.js';

const gpu: PoolPolicy = {
  pool: 'gpu',
  queues: ['predict'],
  min: 0,
  max: 4,
  jobsPerReplica: 8,
  idleGraceMs: 60_000,
  scaleDownStabilizationMs: 30_000,
};

/** Runs the policy over a series of (time s, counts) steps, applying each decision; returns desired per step. */
function run(p: PoolPolicy, steps: [number, Record<string, QueueCounts>][], start = 0): number[] {
  let current = start;
  let history: PoolHistory = EMPTY_HISTORY;
  return steps.map(([t, counts]) => {
    const r = decidePool(p, counts, current, t * 1000, history);
    history = r.history;
    current = r.decision.desired;
    return current;
  });
}

describe('decidePool', () => {
  it('empty queues and no workers: stays at 0 with an idle reason', () => {
    const { decision } = decidePool(gpu, {}, 0, 0);
    expect(decision).toMatchObject({ desired: 0, action: 'hold', readyWork: 0, futureWork: 0, raw: 0 });
    expect(decision.reasons.join(' ')).toMatch(/work 0/);
    expect(decision.counts).toEqual({ predict: {} });
  });

  it('spike: scales up at once to ceil(work / jobsPerReplica), clamped to max', () => {
    expect(decidePool(gpu, { predict: { waiting: 9 } }, 0, 0).decision).toMatchObject({
      desired: 2,
      action: 'up',
    });
    expect(decidePool(gpu, { predict: { waiting: 10_000 } }, 0, 0).decision).toMatchObject({
      desired: 4,
      raw: 4,
    });
    // every counted state adds work; waiting-children does not
    const d = decidePool(
      gpu,
      { predict: { waiting: 3, active: 4, delayed: 1, prioritized: 1, waitingChildren: 99 } },
      0,
      0,
    );
    expect(d.decision).toMatchObject({ readyWork: 9, desired: 2 });
  });

  it('jobs waiting on children keep the pool at 1 or more, never idle (CPU pool while predict runs)', () => {
    const cpu: PoolPolicy = {
      ...gpu,
      pool: 'cpu',
      queues: ['preprocess', 'postprocess'],
      max: 8,
      jobsPerReplica: 2,
    };
    const waiting = { postprocess: { waitingChildren: 20 } };
    // the deploy rehearsal's case: the autoscaler's first look finds the batch preprocessed, 20 postprocess
    // jobs waiting on their predicts; the pool went to 0 ("idle: no work seen")
    expect(decidePool(cpu, waiting, 1, 0).decision).toMatchObject({ desired: 1, raw: 1 });
    expect(decidePool(cpu, waiting, 0, 0).decision).toMatchObject({ desired: 1, action: 'up' });
    // from 8, down to 1 after the stabilization window (30 s), not to 0; then idle grace (60 s) once none wait
    expect(
      run(
        cpu,
        [
          [0, { postprocess: { waiting: 16 } }],
          [10, waiting],
          [45, waiting],
          [50, {}],
          [100, {}],
          [111, {}],
        ],
        8,
      ),
    ).toEqual([8, 8, 1, 1, 1, 0]);
  });

  it('min clamp: a pool with min 1 never goes below 1, even idle past the grace period', () => {
    const p = { ...gpu, min: 1 };
    expect(decidePool(p, {}, 0, 0).decision).toMatchObject({ desired: 1, action: 'up' });
    expect(
      run(p, [
        [0, { predict: { waiting: 30 } }],
        [10, {}],
        [1000, {}],
      ]),
    ).toEqual([4, 4, 1]);
  });

  it('max clamp: a pool running above its max is brought down to max', () => {
    const d = decidePool(gpu, { predict: { waiting: 100 } }, 6, 0).decision;
    expect(d).toMatchObject({ desired: 4, action: 'down' });
    expect(d.reasons.join(' ')).toMatch(/outside \[0, 4\]/);
  });

  it('slow drain: steps down only after the stabilization window, one recommendation at a time', () => {
    // 32 jobs (4 replicas), then the backlog shrinks by 8 every 10 s.
    const steps: [number, Record<string, QueueCounts>][] = [
      [0, { predict: { waiting: 28, active: 4 } }],
      [10, { predict: { waiting: 20, active: 4 } }],
      [20, { predict: { waiting: 12, active: 4 } }],
      [30, { predict: { waiting: 4, active: 4 } }],
      [40, { predict: { active: 4 } }],
      [50, { predict: { active: 2 } }],
      [60, { predict: { active: 1 } }],
    ];
    // raw: 4, 3, 2, 1, 1, 1, 1 — desired = largest raw of the last 30 s (a recommendation exactly 30 s old
    // has left the window)
    expect(run(gpu, steps)).toEqual([4, 4, 4, 3, 2, 1, 1]);
  });

  it('flapping input: a backlog that comes and goes every few seconds never scales down', () => {
    const steps: [number, Record<string, QueueCounts>][] = [];
    for (let t = 0; t < 300; t += 5) steps.push([t, { predict: { waiting: t % 10 === 0 ? 32 : 0 } }]);
    const desired = run(gpu, steps);
    expect(new Set(desired)).toEqual(new Set([4]));
  });

  it('scales to zero only after the idle grace period, then holds 0', () => {
    const steps: [number, Record<string, QueueCounts>][] = [
      [0, { predict: { waiting: 16 } }],
      [5, {}],
      [30, {}],
      [59, {}],
      [65, {}],
      [70, {}],
    ];
    expect(run(gpu, steps)).toEqual([2, 2, 2, 2, 0, 0]);
    const { decision } = decidePool(gpu, {}, 2, 65_000, { lastWorkAtMs: 0, recommendations: [] });
    expect(decision.reasons.join(' ')).toMatch(/idle 65 s >= grace 60 s → min 0/);
  });

  it('GPU before starvation: preprocess backlog scales the GPU pool out while predict is still empty', () => {
    const [withUpstream] = withPipelineUpstream([{ ...gpu, target: 'kiosk-gpu-worker' }]);
    expect(withUpstream!.upstream).toEqual([{ queue: 'preprocess' }]);
    const counts = { preprocess: { waiting: 40, active: 2 }, predict: {} };
    const d = decidePool(withUpstream!, counts, 0, 0).decision;
    expect(d).toMatchObject({ readyWork: 0, futureWork: 42, desired: 4, action: 'up' });
    // without the look-ahead the same state would leave the GPUs at 0 until predict jobs pile up
    expect(decidePool(gpu, counts, 0, 0).decision.desired).toBe(0);
    // weights scale future work (e.g. 0.25: only a quarter of upstream jobs count)
    const weighted = { ...gpu, upstream: [{ queue: 'preprocess', weight: 0.25 }] };
    expect(decidePool(weighted, counts, 0, 0).decision).toMatchObject({ futureWork: 10.5, desired: 2 });
  });

  it('decideAll decides every pool with its own history', () => {
    const cpu: PoolPolicy = {
      ...gpu,
      pool: 'cpu',
      queues: ['preprocess', 'postprocess'],
      jobsPerReplica: 2,
      max: 8,
    };
    const r = decideAll([cpu, gpu], { preprocess: { waiting: 5 }, predict: { waiting: 1 } }, { cpu: 1 }, 0);
    expect(r.decisions.map((d) => [d.pool, d.desired])).toEqual([
      ['cpu', 3],
      ['gpu', 1],
    ]);
    expect(Object.keys(r.histories)).toEqual(['cpu', 'gpu']);
  });
});

describe('validatePolicy', () => {
  it.each([
    [{ min: -1 }, /'min' must be an integer >= 0; got -1/],
    [{ max: 1.5 }, /'max' must be an integer >= 0; got 1.5/],
    [{ min: 3, max: 2 }, /'max' \(2\) must be >= 'min' \(3\)/],
    [{ jobsPerReplica: 0 }, /'jobsPerReplica' must be a finite number > 0; got 0/],
    [{ idleGraceMs: -5 }, /'idleGraceMs' must be a finite number >= 0; got -5/],
    [{ scaleDownStabilizationMs: Number.NaN }, /'scaleDownStabilizationMs'/],
    [{ queues: [] }, /'queues' must name at least one queue/],
    [{ upstream: [{ queue: 'preprocess', weight: -1 }] }, /upstream 'preprocess' weight .* got -1/],
  ])('rejects %o', (patch, message) => {
    expect(() => validatePolicy({ ...gpu, ...patch })).toThrow(message);
  });
});

describe('pool specs from the KioskChart environment', () => {
  it('parses the chart format into pools with the pipeline look-ahead', () => {
    const { pools, timing } = configFromEnv({
      KIOSK_SCALE_CPU: 'preprocess,postprocess=kiosk-cpu-worker:0..8',
      KIOSK_SCALE_GPU: 'predict=kiosk-gpu-worker:0..4',
      KIOSK_SCALE_IDLE_GRACE_S: '300',
    });
    expect(timing).toEqual({ intervalMs: 5000, idleGraceMs: 300_000, scaleDownStabilizationMs: 60_000 });
    // only the GPU pool looks ahead (preprocess → predict); the CPU pool does not count the predict backlog
    expect(pools[0]!.upstream).toBeUndefined();
    expect(pools).toEqual([
      expect.objectContaining({
        pool: 'cpu',
        target: 'kiosk-cpu-worker',
        queues: ['preprocess', 'postprocess'],
        min: 0,
        max: 8,
      }),
      expect.objectContaining({
        pool: 'gpu',
        target: 'kiosk-gpu-worker',
        queues: ['predict'],
        min: 0,
        max: 4,
        upstream: [{ queue: 'preprocess' }],
        idleGraceMs: 300_000,
      }),
    ]);
  });

  it.each([
    ['predict', /is not '<queue>\[,<queue>...\]=<deployment>:<min>..<max>'/],
    ['predict=kiosk-gpu-worker:4..2', /'max' \(2\) must be >= 'min' \(4\)/],
    ['predict=Kiosk_GPU:0..2', /spec "predict=Kiosk_GPU:0..2"/],
  ])('rejects the spec %j', (spec, message) => {
    expect(() => parsePoolSpec('gpu', spec)).toThrow(AutoscalerConfigError);
    expect(() => parsePoolSpec('gpu', spec)).toThrow(message);
  });

  it('needs at least one pool and sane timings', () => {
    expect(() => configFromEnv({})).toThrow(/no pools to scale: set KIOSK_SCALE_CPU and\/or KIOSK_SCALE_GPU/);
    expect(() =>
      configFromEnv({ KIOSK_SCALE_GPU: 'predict=g:0..1', KIOSK_SCALE_IDLE_GRACE_S: 'soon' }),
    ).toThrow(/KIOSK_SCALE_IDLE_GRACE_S must be a number >= 0 \(seconds\); got "soon"/);
    expect(() => configFromEnv({ KIOSK_SCALE_GPU: 'predict=g:0..1', KIOSK_SCALE_INTERVAL_S: '0' })).toThrow(
      /KIOSK_SCALE_INTERVAL_S must be >= 0.1/,
    );
  });
});

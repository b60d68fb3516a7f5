import { describe, expect, it } from 'vitest';
import type { PoolPolicy } from '../autoscaler/policy.js';
import type { StageCost } from './costs.js';
import { PlanError, simulate, type SimInput, type SimPool } from './simulate.js';

const policy = (
  pool: string,
  queues: string[],
  max: number,
  extra: Partial<PoolPolicy> = {},
): PoolPolicy => ({
  pool,
  queues,
  min: 0,
  max,
  jobsPerReplica: 1,
  idleGraceMs: 5000,
  scaleDownStabilizationMs: 0,
  ...extra,
});
const local = (p: PoolPolicy, workerStartupSeconds = 0): SimPool => ({
  policy: p,
  nodeStartupSeconds: 0,
  workerStartupSeconds,
  nodeReleaseSeconds: 0,
  pricePerNodeHour: 0,
});
const stage = (queue: string, pool: string, seconds: number): StageCost => ({
  queue,
  pool,
  secondsPerImage: seconds,
  secondsPerMegapixel: 0,
});

function oneStage(n: number, k: number, d: number, startup: number, extra: Partial<SimInput> = {}) {
  return simulate({
    images: n,
    megapixels: 1,
    stages: [stage('predict', 'gpu', d)],
    pools: [local(policy('gpu', ['predict'], k), startup)],
    intervalSeconds: 1,
    ...extra,
  });
}

describe('simulate', () => {
  it('one stage, k workers, all scaled up at t = 0: makespan = start-up + ceil(N / k) · d', () => {
    expect(oneStage(10, 1, 1, 2).makespanSeconds).toBeCloseTo(12, 9);
    expect(oneStage(10, 2, 1, 2).makespanSeconds).toBeCloseTo(7, 9);
    expect(oneStage(11, 2, 1, 0).makespanSeconds).toBeCloseTo(6, 9);
  });

  it('jobs per replica limits the scale-out: 3 jobs at 2 per replica → 2 workers, not 3', () => {
    const r = simulate({
      images: 3,
      megapixels: 1,
      stages: [stage('predict', 'gpu', 1)],
      pools: [local(policy('gpu', ['predict'], 8, { jobsPerReplica: 2 }))],
      intervalSeconds: 1,
    });
    expect(r.pools.gpu!.peakReplicas).toBe(2);
    expect(r.makespanSeconds).toBeCloseTo(2, 9);
  });

  it('pipelines stages: a preprocess of 1 s feeding a predict of 2 s, one worker each', () => {
    // pre finishes at 1, 2, 3; predict runs 1–3, 3–5, 5–7
    const r = simulate({
      images: 3,
      megapixels: 1,
      stages: [stage('preprocess', 'cpu', 1), stage('predict', 'gpu', 2)],
      // min 1: both workers start at t = 0 (with min 0 the GPU worker would come at the first tick that sees
      // a predict job, one interval later)
      pools: [
        local(policy('cpu', ['preprocess'], 1, { min: 1 })),
        local(policy('gpu', ['predict'], 1, { min: 1 })),
      ],
      intervalSeconds: 1,
    });
    expect(r.makespanSeconds).toBeCloseTo(7, 9);
    expect(r.pools.gpu!.utilization).toBeGreaterThan(0.85);
  });

  it('megapixels scale the stage time', () => {
    const r = simulate({
      images: 4,
      megapixels: 2.5,
      stages: [{ queue: 'predict', pool: 'gpu', secondsPerImage: 0.5, secondsPerMegapixel: 2 }],
      pools: [local(policy('gpu', ['predict'], 1))],
      intervalSeconds: 1,
    });
    expect(r.makespanSeconds).toBeCloseTo(4 * (0.5 + 5), 9);
  });

  it('bills a node from its request to its release: start-up, work, idle grace, release delay', () => {
    const r = simulate({
      images: 1,
      megapixels: 1,
      stages: [stage('predict', 'gpu', 100)],
      pools: [
        {
          policy: policy('gpu', ['predict'], 1),
          nodeStartupSeconds: 60,
          workerStartupSeconds: 0,
          nodeReleaseSeconds: 600,
          pricePerNodeHour: 3.6,
        },
      ],
      intervalSeconds: 10,
      fixedPricePerHour: 36,
    });
    expect(r.makespanSeconds).toBeCloseTo(160, 9);
    // the job ends at 160, before that time's tick (scheduled earlier); the last tick that saw work was at 150,
    // so at 160 the pool has been idle 10 s >= 5 s grace → scaled down; the node goes 600 s later.
    expect(r.billedSeconds).toBeGreaterThanOrEqual(160 + 600);
    expect(r.billedSeconds).toBeLessThanOrEqual(160 + 20 + 600);
    expect(r.pools.gpu!.nodeHours).toBeCloseTo(r.billedSeconds / 3600, 9);
    expect(r.pools.gpu!.cost).toBeCloseTo(r.pools.gpu!.nodeHours * 3.6, 9);
    expect(r.fixedCost).toBeCloseTo((160 / 3600) * 36, 9);
    expect(r.totalCost).toBeCloseTo(r.pools.gpu!.cost + r.fixedCost, 9);
  });

  it('a lingering empty node is reused without the node start-up', () => {
    // One CPU worker preprocesses 3 images, 200 s each; the GPU pool (idle grace 0) keeps one worker while
    // predict jobs wait on their preprocess (from t = 0) and runs each predict as it arrives. The one GPU node
    // pays the 100 s start-up; it is never released (work is always on its way), so no second start-up.
    const r = simulate({
      images: 3,
      megapixels: 1,
      stages: [stage('preprocess', 'cpu', 200), stage('predict', 'gpu', 1)],
      pools: [
        local(policy('cpu', ['preprocess'], 1, { min: 1 })),
        {
          policy: policy('gpu', ['predict'], 1, { idleGraceMs: 0 }),
          nodeStartupSeconds: 100,
          workerStartupSeconds: 0,
          nodeReleaseSeconds: 1000,
          pricePerNodeHour: 0,
        },
      ],
      intervalSeconds: 1,
    });
    expect(r.makespanSeconds).toBeCloseTo(601, 9); // 600 (third preprocess) + 1, no second start-up
    expect(r.pools.gpu!.nodeHours).toBeCloseTo(r.billedSeconds / 3600, 1); // one node, requested at 0
  });

  it('GPU look-ahead: counting the preprocess backlog starts slow GPU nodes while CPU nodes still boot', () => {
    const run = (upstream: boolean) =>
      simulate({
        images: 40,
        megapixels: 1,
        stages: [stage('preprocess', 'cpu', 5), stage('predict', 'gpu', 40)],
        pools: [
          { ...local(policy('cpu', ['preprocess'], 4, { jobsPerReplica: 10 })), nodeStartupSeconds: 120 },
          {
            policy: policy('gpu', ['predict'], 4, upstream ? { upstream: [{ queue: 'preprocess' }] } : {}),
            nodeStartupSeconds: 300,
            workerStartupSeconds: 0,
            nodeReleaseSeconds: 0,
            pricePerNodeHour: 0,
          },
        ],
        intervalSeconds: 5,
      }).makespanSeconds;
    // with: 40 preprocess jobs → 4 GPU nodes asked for at 0, up at 300 (every predict ready by 170), 10
    // rounds of 40 s → 700. Without: the predicts waiting on their preprocess keep one GPU node (asked for at
    // 0, up at 300); the other three are asked for only once predict jobs are ready (from 125), up at 425+,
    // when the first node has run 3 of the 40 predicts.
    expect(run(true)).toBeCloseTo(700, 9);
    expect(run(false)).toBeGreaterThan(run(true) + 50);
  });

  it('refuses plans that cannot finish, naming the stage or pool', () => {
    const base: SimInput = {
      images: 1,
      megapixels: 1,
      stages: [stage('predict', 'gpu', 1)],
      pools: [local(policy('gpu', ['predict'], 1))],
      intervalSeconds: 1,
    };
    expect(() => simulate({ ...base, pools: [] })).toThrow(
      /stage 'predict' runs on pool 'gpu', which the plan does not have/,
    );
    expect(() => simulate({ ...base, pools: [local(policy('gpu', ['predict'], 0))] })).toThrow(
      /pool 'gpu' has max 0 replicas/,
    );
    expect(() => simulate({ ...base, pools: [local(policy('gpu', ['other'], 1))] })).toThrow(
      /does not consume queue 'predict'/,
    );
    expect(() => simulate({ ...base, images: 0 })).toThrow(/images must be an integer >= 1; got 0/);
    expect(() => simulate({ ...base, megapixels: -1 })).toThrow(/megapixels must be > 0; got -1/);
    expect(() => simulate({ ...base, intervalSeconds: 0 })).toThrow(/intervalSeconds must be > 0/);
    expect(() =>
      simulate({ ...base, images: 100, stages: [stage('predict', 'gpu', 1000)], maxSeconds: 3600 }),
    ).toThrow(PlanError);
  });
});

/**
 * The autoscaler as a service: configuration from the environment, the chosen driver, the loop, an optional
 * `/metrics` endpoint, and a clean stop on SIGTERM/SIGINT. Used by `kiosk autoscale`, by the entry
 * `workers/autoscaler/main.ts` (what `kiosk start` can spawn for the local kiosk), and by
 * `kiosk start --role=autoscaler` in the cluster.
 */
import { availableParallelism } from 'node:os';
import type { Redis } from 'ioredis';
import { kioskMetrics } from '../metrics/kiosk-metrics.js';
import { connectRedis } from '../queues/connection.js';
import { POOL_QUEUES } from '../queues/names.js';
import { serveMetrics, type MetricsServer } from '../metrics/serve.js';
import {
  configFromEnv,
  DEFAULT_TIMING,
  localCpuMax,
  parsePoolSpec,
  timingFromEnv,
  withPipelineUpstream,
  type ScaledPool,
  type ScaleTiming,
} from './config.js';
import { DecisionPublisher } from './decision-store.js';
import type { ScaleDriver } from './drivers/driver.js';
import type { LocalDriverOptions, WorkerEvent } from './drivers/local.js';
import { runAutoscaler, type RunningAutoscaler } from './loop.js';

export type DriverName = 'local' | 'kubernetes';

/**
 * Pools of the local kiosk, for a pool whose KIOSK_SCALE_CPU/GPU is not set: one CPU worker always up, more
 * (up to half the cores, at most 4) under load; one inference worker (it uses every core through the model
 * runtime's threads, and also takes training jobs), restarted if it dies. `KIOSK_SCALE_GPU=predict,train=local:0..1`
 * lets it scale to zero when idle.
 */
export function localPools(
  cores = availableParallelism(),
  timing: ScaleTiming = DEFAULT_TIMING,
  env: NodeJS.ProcessEnv = {},
): ScaledPool[] {
  return withPipelineUpstream([
    parsePoolSpec(
      'cpu',
      env.KIOSK_SCALE_CPU || `${POOL_QUEUES.cpu.join(',')}=local:1..${localCpuMax(cores)}`,
      timing,
    ),
    parsePoolSpec('gpu', env.KIOSK_SCALE_GPU || `${POOL_QUEUES.gpu.join(',')}=local:1..1`, timing),
  ]);
}

export interface AutoscalerServiceOptions {
  readonly driver: DriverName;
  /** Configuration; with the local driver also added to the workers' environment. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** JSON decision lines. @default - stdout */
  readonly log?: (line: string) => void;
  /** Serve /metrics on this port. @default - KIOSK_METRICS_PORT, else none */
  readonly metricsPort?: number;
  /** A driver built by the caller (tests); overrides `driver`. */
  readonly customDriver?: ScaleDriver;
  /** Local driver: worker output and events (e.g. `kiosk start` prefixes lines and watches readiness). */
  readonly local?: Pick<LocalDriverOptions, 'onOutput' | 'onEvent' | 'detached' | 'command'>;
  /** Publish decisions and worker events to Redis for the API and the web Cluster page. @default true */
  readonly publish?: boolean;
}

export interface AutoscalerService {
  readonly pools: readonly ScaledPool[];
  readonly timing: ScaleTiming;
  readonly driver: ScaleDriver;
  readonly loop: RunningAutoscaler;
  readonly metrics?: MetricsServer;
  /** Stops the loop and closes the driver (local: drains every worker). */
  stop(): Promise<void>;
}

async function makeDriver(
  name: DriverName,
  pools: readonly ScaledPool[],
  env: NodeJS.ProcessEnv,
  workerEnv: NodeJS.ProcessEnv | undefined,
  local: Omit<LocalDriverOptions, 'env'>,
): Promise<ScaleDriver> {
  if (name === 'local') {
    const { LocalProcessDriver } = await import('./drivers/local.js');
    return new LocalProcessDriver({ ...local, ...(workerEnv ? { env: workerEnv } : {}) });
  }
  const { KubernetesDriver, inClusterAppsApi, inClusterNamespace } = await import('./drivers/kubernetes.js');
  return new KubernetesDriver({
    api: inClusterAppsApi(),
    namespace: inClusterNamespace(env),
    deployments: Object.fromEntries(pools.map((p) => [p.pool, p.target])),
  });
}

/** Starts the autoscaler; REDIS_URL is required, KIOSK_PREFIX defaults to `kiosk`. */
export async function startAutoscalerService(o: AutoscalerServiceOptions): Promise<AutoscalerService> {
  const env = o.env ?? process.env;
  const redisUrl = env.REDIS_URL;
  if (!redisUrl) throw new Error('REDIS_URL is not set: the autoscaler reads the queues from that Redis');
  if (env.KIOSK_SCALE_LOG !== undefined && !['all', 'changes'].includes(env.KIOSK_SCALE_LOG))
    throw new Error(`KIOSK_SCALE_LOG must be all or changes; got ${JSON.stringify(env.KIOSK_SCALE_LOG)}`);
  let pools: ScaledPool[];
  let timing: ScaleTiming;
  if (o.driver === 'local') {
    timing = timingFromEnv(env);
    pools = localPools(availableParallelism(), timing, env);
  } else ({ pools, timing } = configFromEnv(env));
  const prefix = env.KIOSK_PREFIX ?? 'kiosk';
  const log = o.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const redis: Redis | undefined = (o.publish ?? true) ? connectRedis(redisUrl) : undefined;
  redis?.on('error', () => undefined); // reported by the failed publish (logged), retried by ioredis
  const publisher = redis
    ? new DecisionPublisher({
        redis,
        prefix,
        driver: o.customDriver?.name ?? o.driver,
        intervalMs: timing.intervalMs,
        pools,
      })
    : undefined;
  // A worker that dies is replaced at once, not at the next interval (crash loops are held back by the
  // driver's back-off). `ref.loop` is set below, before any worker exists.
  const ref: { loop?: RunningAutoscaler } = {};
  let stopping = false;
  const onEvent = (e: WorkerEvent) => {
    o.local?.onEvent?.(e);
    const { event, pool, pid, code, signal, unexpected, retryAtMs } = e;
    void publisher
      ?.event({
        event,
        pool,
        ...(pid !== undefined ? { pid } : {}),
        ...(code !== undefined ? { code } : {}),
        ...(signal !== undefined ? { signal } : {}),
        ...(unexpected ? { unexpected } : {}),
        ...(retryAtMs !== undefined ? { retryAt: new Date(retryAtMs).toISOString() } : {}),
      })
      .catch(() => undefined);
    if (event === 'worker-exit' && unexpected && !stopping) {
      log(JSON.stringify({ event: 'worker-lost', time: new Date().toISOString(), pool, pid, code, signal }));
      void ref.loop?.tick().catch(() => undefined);
    }
  };
  const driver = o.customDriver ?? (await makeDriver(o.driver, pools, env, o.env, { ...o.local, onEvent }));
  const portText = o.metricsPort ?? env.KIOSK_METRICS_PORT;
  const metrics =
    portText === undefined || portText === ''
      ? undefined
      : await serveMetrics(kioskMetrics().registry, Number(portText));
  const loop = runAutoscaler({
    redisUrl,
    prefix,
    pools,
    driver,
    intervalMs: timing.intervalMs,
    log,
    logHolds: env.KIOSK_SCALE_LOG !== 'changes',
    ...(publisher ? { publisher } : {}),
  });
  ref.loop = loop;
  return {
    pools,
    timing,
    driver,
    loop,
    ...(metrics ? { metrics } : {}),
    async stop() {
      stopping = true;
      await loop.stop();
      await metrics?.close();
      redis?.disconnect();
    },
  };
}

/**
 * Runs the service until SIGTERM or SIGINT: the first signal stops the loop and drains the workers (local);
 * a second one is passed on to the workers (the kiosk worker then returns its running jobs to the queue).
 * Resolves to the exit code.
 */
export async function runAutoscalerUntilSignal(o: AutoscalerServiceOptions): Promise<number> {
  const log = o.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const svc = await startAutoscalerService({ ...o, log });
  // The handlers go in before `autoscaler-ready` is printed: a SIGTERM sent on reading it must not meet
  // the default action.
  const done = new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals === 1) {
        log(JSON.stringify({ event: 'autoscaler-stopping', signal: sig }));
        svc.stop().then(
          () => resolve(0),
          (err: unknown) => {
            log(JSON.stringify({ event: 'autoscaler-error', error: String(err) }));
            resolve(1);
          },
        );
      } else svc.driver.signalWorkers?.(sig);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  log(
    JSON.stringify({
      event: 'autoscaler-ready',
      driver: svc.driver.name,
      pools: svc.pools.map((p) => ({
        pool: p.pool,
        target: p.target,
        queues: p.queues,
        min: p.min,
        max: p.max,
        upstream: p.upstream ?? [],
      })),
      timing: svc.timing,
      ...(svc.metrics ? { metricsPort: svc.metrics.port } : {}),
    }),
  );
  return done;
}

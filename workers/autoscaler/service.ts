/**
 * The autoscaler as a service: configuration from the environment, the chosen driver, the loop, an optional
 * `/metrics` endpoint, and a clean stop on SIGTERM/SIGINT. Used by `kiosk autoscale`, by the entry
 * `workers/autoscaler/main.ts` (what `kiosk start` can spawn for the local kiosk), and by
 * `kiosk start --role=autoscaler` in the cluster.
 */
import { availableParallelism } from 'node:os';
import { kioskMetrics } from '../metrics/kiosk-metrics.js';
import { serveMetrics, type MetricsServer } from '../metrics/serve.js';
import {
  configFromEnv,
  DEFAULT_TIMING,
  parsePoolSpec,
  timingFromEnv,
  withPipelineUpstream,
  type ScaledPool,
  type ScaleTiming,
} from './config.js';
import type { ScaleDriver } from './drivers/driver.js';
import { runAutoscaler, type RunningAutoscaler } from './loop.js';

export type DriverName = 'local' | 'kubernetes';

/**
 * Pools of the local kiosk when KIOSK_SCALE_CPU/GPU are not set: one CPU worker always up, more (up to half
 * the cores, at most 4) under load; one inference worker (it uses every core through the model runtime's
 * threads), restarted if it dies. `KIOSK_SCALE_GPU=predict=local:0..1` lets it scale to zero when idle.
 */
export function localPools(
  cores = availableParallelism(),
  timing: ScaleTiming = DEFAULT_TIMING,
): ScaledPool[] {
  const cpuMax = Math.max(1, Math.min(4, Math.floor(cores / 2)));
  return withPipelineUpstream([
    parsePoolSpec('cpu', `preprocess,postprocess=local:1..${cpuMax}`, timing),
    parsePoolSpec('gpu', 'predict=local:1..1', timing),
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
): Promise<ScaleDriver> {
  if (name === 'local') {
    const { LocalProcessDriver } = await import('./drivers/local.js');
    return new LocalProcessDriver(workerEnv ? { env: workerEnv } : {});
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
  if (o.driver === 'local' && !env.KIOSK_SCALE_CPU && !env.KIOSK_SCALE_GPU) {
    timing = timingFromEnv(env);
    pools = localPools(availableParallelism(), timing);
  } else ({ pools, timing } = configFromEnv(env));
  const driver = o.customDriver ?? (await makeDriver(o.driver, pools, env, o.env));
  const portText = o.metricsPort ?? env.KIOSK_METRICS_PORT;
  const metrics =
    portText === undefined || portText === ''
      ? undefined
      : await serveMetrics(kioskMetrics().registry, Number(portText));
  const loop = runAutoscaler({
    redisUrl,
    prefix: env.KIOSK_PREFIX ?? 'kiosk',
    pools,
    driver,
    intervalMs: timing.intervalMs,
    ...(o.log ? { log: o.log } : {}),
    logHolds: env.KIOSK_SCALE_LOG !== 'changes',
  });
  return {
    pools,
    timing,
    driver,
    loop,
    ...(metrics ? { metrics } : {}),
    async stop() {
      await loop.stop();
      await metrics?.close();
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
  return new Promise<number>((resolve) => {
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
}

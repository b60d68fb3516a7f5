import { parseArgs } from 'node:util';
import { UsageError, type Command } from '../command.js';

const usage = `Usage: kiosk autoscale --driver local|kubernetes [--metrics-port P]

Runs the autoscaler on its own: every interval it reads the BullMQ counts of the pools' queues, decides the
replicas of each pool (work per replica, min/max, idle grace before scaling to zero, scale-down window, the
GPU pool looking ahead at the preprocess backlog) and applies them:
  local       start/stop worker processes on this machine (workers/main.ts --pool cpu|gpu; stop = drain)
  kubernetes  patch deployments/scale of the pool Deployments (in-cluster config)
Each decision is printed as one JSON line with its inputs and published to Redis (GET /v1/autoscaler/decisions
on the API). Ctrl-C stops and drains the workers.

Environment:
  REDIS_URL                  required
  KIOSK_PREFIX               BullMQ prefix (default kiosk)
  KIOSK_SCALE_CPU            e.g. preprocess,postprocess=kiosk-cpu-worker:0..8
  KIOSK_SCALE_GPU            e.g. predict,train=kiosk-gpu-worker:0..4 (the GPU worker also trains)
                             (local driver default, per pool: cpu 1..min(4, cores/2), gpu 1..1)
  KIOSK_SCALE_INTERVAL_S     seconds between decisions (default 5)
  KIOSK_SCALE_IDLE_GRACE_S   idle time before a pool goes to its minimum (default 120)
  KIOSK_SCALE_DOWN_WINDOW_S  scale-down stabilization window (default 60)
  KIOSK_SCALE_LOG            all (default) or changes (log only up/down decisions)
  KIOSK_NAMESPACE            kubernetes: namespace (default: the pod's own)
  KIOSK_METRICS_PORT         serve Prometheus /metrics on this port`;

export const command: Command = {
  name: 'autoscale',
  summary: 'run the autoscaler standalone (local worker processes or Kubernetes Deployments)',
  usage,
  async run(args) {
    let values;
    try {
      ({ values } = parseArgs({
        args,
        strict: true,
        options: { driver: { type: 'string' }, 'metrics-port': { type: 'string' } },
      }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (values.driver !== 'local' && values.driver !== 'kubernetes')
      throw new UsageError(
        `--driver must be local or kubernetes; got ${JSON.stringify(values.driver ?? null)}`,
      );
    let metricsPort: number | undefined;
    if (values['metrics-port'] !== undefined) {
      metricsPort = Number(values['metrics-port']);
      if (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65535)
        throw new UsageError(
          `--metrics-port must be an integer 0..65535; got ${JSON.stringify(values['metrics-port'])}`,
        );
    }
    const { runAutoscalerUntilSignal } = await import('../../workers/autoscaler/service.js');
    return runAutoscalerUntilSignal({
      driver: values.driver,
      ...(metricsPort !== undefined ? { metricsPort } : {}),
    });
  },
};

/**
 * The worker side of the local kiosk (`kiosk start`): the autoscaler with the local driver, in the
 * launcher's process. Worker processes (`workers/main.ts --pool cpu|gpu`) come and go with the queues; one
 * that dies is replaced at once; their output is printed with a `[cpu-worker PID]` prefix; the autoscaler's
 * up/down decisions and worker starts, readiness (with the start-up time) and exits are printed as
 * `[autoscaler] ...` lines. Decisions and worker events also go to Redis for GET /v1/autoscaler/decisions.
 */
import { join } from 'node:path';
import type { WorkerEvent } from '../../workers/autoscaler/drivers/local.js';
import type { AutoscalerService } from '../../workers/autoscaler/service.js';
import type { PublishedDecision } from '../../workers/autoscaler/decision-store.js';

/** What the pools are called in messages (the GPU pool runs inference and training). */
const POOL_NAME: Record<string, string> = { cpu: 'cpu', gpu: 'inference' };
const poolName = (pool: string) => POOL_NAME[pool] ?? pool;

/** A worker that printed `worker <pool> ready`, and how long after its spawn. */
export interface ReadyWorker {
  readonly pool: string;
  readonly pid: number;
  readonly seconds: number;
}

export interface LocalWorkers {
  readonly service: AutoscalerService;
  /**
   * Resolves when every pool has at least its minimum of workers ready (the workers of the first decision);
   * rejects when one of them exits while starting, or after `timeoutMs`.
   */
  ready(timeoutMs: number): Promise<ReadyWorker[]>;
  /**
   * Stops deciding and drains every worker at once (running jobs finish); resolves when they have exited,
   * even while the autoscaler's own stop still waits on a Redis that is gone.
   */
  stop(): Promise<void>;
  /** Pids of the worker processes started and not yet exited. */
  livePids(): number[];
  /** Passes a signal to every worker (a second Ctrl-C: SIGINT returns running jobs to the queue). */
  signal(sig: NodeJS.Signals): void;
}

export interface LocalWorkersOptions {
  /** Environment of the autoscaler and of every worker (REDIS_URL, KIOSK_SCALE_*, the bucket, ...). */
  readonly env: NodeJS.ProcessEnv;
  /** Repository root (where workers/main.ts is). */
  readonly repoRoot: string;
  /** Working directory of the workers (relative settings resolve from it). */
  readonly cwd: string;
  /** One line of output (no newline). @default - stderr */
  readonly write?: (line: string) => void;
}

function decisionText(d: PublishedDecision): string {
  return `${poolName(d.pool)} workers ${d.current} → ${d.desired} (${d.reasons.join('; ')})`;
}

export async function startLocalWorkers(o: LocalWorkersOptions): Promise<LocalWorkers> {
  const write = o.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const { startAutoscalerService } = await import('../../workers/autoscaler/service.js');
  const spawnedAt = new Map<number, { pool: string; atMs: number }>();
  const readyPids = new Map<number, ReadyWorker>();
  let starting = true;
  let startupError: Error | undefined;
  let onChange: (() => void) | undefined;

  const onEvent = (e: WorkerEvent) => {
    const who = `${poolName(e.pool)} worker ${e.pid ?? '?'}`;
    if (e.event === 'worker-start') {
      if (e.pid !== undefined) spawnedAt.set(e.pid, { pool: e.pool, atMs: Date.now() });
      if (!starting) write(`[autoscaler] starting ${who}`);
    } else if (e.event === 'worker-drain') {
      write(`[autoscaler] stopping ${who} (it finishes its running jobs first)`);
    } else if (e.event === 'worker-backoff') {
      write(
        `[autoscaler] ${poolName(e.pool)} workers keep dying at start-up: next try at ${new Date(e.retryAtMs ?? 0).toLocaleTimeString()}`,
      );
    } else if (e.event === 'worker-exit') {
      if (e.pid !== undefined) {
        spawnedAt.delete(e.pid);
        readyPids.delete(e.pid);
      }
      const how = e.signal ? `signal ${e.signal}` : `code ${e.code}`;
      if (e.unexpected && starting) {
        startupError ??= new Error(
          `the ${poolName(e.pool)} worker exited with ${how} while starting (see its messages above)`,
        );
        onChange?.();
      } else if (e.unexpected) write(`[autoscaler] ${who} died (${how}); starting a new one`);
      else write(`[autoscaler] ${who} stopped`);
    }
  };

  const onOutput = (pool: string, pid: number | undefined, line: string) => {
    if (!line.trim()) return;
    if (pid !== undefined && line.trim() === `worker ${pool} ready`) {
      const s = spawnedAt.get(pid);
      const seconds = s ? (Date.now() - s.atMs) / 1000 : Number.NaN;
      readyPids.set(pid, { pool, pid, seconds });
      if (!starting) write(`[autoscaler] ${poolName(pool)} worker ${pid} ready in ${seconds.toFixed(1)} s`);
      onChange?.();
      return;
    }
    write(`[${pool === 'gpu' ? 'inference' : pool}-worker ${pid ?? '?'}] ${line}`);
  };

  const log = (line: string) => {
    let e: { event?: string; action?: string; error?: string } & Partial<PublishedDecision>;
    try {
      e = JSON.parse(line) as typeof e;
    } catch {
      write(`[autoscaler] ${line}`);
      return;
    }
    if (e.event === 'scale-decision' && e.action !== 'hold' && !starting)
      write(`[autoscaler] ${decisionText(e as PublishedDecision)}`);
    else if (e.event === 'autoscaler-error') write(`[autoscaler] error: ${e.error}`);
  };

  const service = await startAutoscalerService({
    driver: 'local',
    env: o.env,
    log,
    local: {
      onEvent,
      onOutput,
      detached: true,
      command: (pool) => ({
        command: process.execPath,
        // --import takes the loader's URL: a bare 'tsx' would resolve from the working directory.
        args: [
          '--import',
          import.meta.resolve('tsx'),
          join(o.repoRoot, 'workers', 'main.ts'),
          '--pool',
          pool,
        ],
        cwd: o.cwd,
      }),
    },
  });

  return {
    service,
    ready(timeoutMs) {
      return new Promise<ReadyWorker[]>((resolve, reject) => {
        const timer = setTimeout(() => {
          onChange = undefined;
          reject(new Error(`the workers did not start within ${timeoutMs / 1000} s`));
        }, timeoutMs);
        const check = () => {
          if (startupError) {
            clearTimeout(timer);
            onChange = undefined;
            reject(startupError);
            return;
          }
          const ready = [...readyPids.values()];
          if (service.pools.every((p) => ready.filter((w) => w.pool === p.pool).length >= p.min)) {
            clearTimeout(timer);
            onChange = undefined;
            starting = false;
            resolve(ready);
          }
        };
        onChange = check;
        check();
      });
    },
    stop: () => {
      // The loop's stop waits on its tick and queues (Redis) before it closes the driver: the driver is
      // closed now, so the workers drain whether or not Redis answers.
      service.stop().catch((err: unknown) => write(`[autoscaler] stopping: ${String(err)}`));
      return service.driver.close();
    },
    livePids: () => [...spawnedAt.keys()],
    signal: (sig) => service.driver.signalWorkers?.(sig),
  };
}

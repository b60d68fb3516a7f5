/**
 * The rehearsal's "cluster": runs the chart's Deployments and StatefulSets as podman containers on one
 * bridge network, keeping each at its desired replica count the way the ReplicaSet/StatefulSet controllers
 * do (a pod that dies is replaced by a new one; a StatefulSet pod keeps its name and its volume), and
 * scheduling by the pods' requests against the lab's node pools (a pod that does not fit stays Pending).
 * Desired counts start from the manifests and change when the autoscaler patches `deployments/scale`
 * through the stand-in API server (kube-api.ts). This is test scaffolding for the rehearsal only: the
 * product runs on real Kubernetes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cpuCores,
  envFileText,
  podRunArgs,
  serviceNamesFor,
  type K8sObject,
  type Lookups,
  type Workload,
} from './chart-to-podman.js';
import type { Podman } from './podman.js';
import { progress } from './podman.js';

const LABEL = 'io.cellkiosk.rehearsal.workload';

export interface PoolCapacity {
  /** CPU cores schedulable per pool (`kiosk.io/pool` node label value). */
  readonly cpu: Readonly<Record<string, number>>;
  /** GPUs per pool. */
  readonly gpus: Readonly<Record<string, number>>;
}

export interface ClusterProps {
  readonly podman: Podman;
  readonly network: string;
  readonly objects: readonly K8sObject[];
  readonly workloads: readonly Workload[];
  readonly lookups: Lookups;
  readonly dir: string;
  readonly capacity: PoolCapacity;
  /** Extra env per pod (the rehearsal's IRSA stand-in), from its ServiceAccount name. */
  readonly injectedEnv: (serviceAccount: string | undefined) => Record<string, string>;
  readonly serviceAccountDir: (serviceAccount: string) => string;
  readonly kubernetesService: { host: string; port: number };
}

export interface PodInfo {
  readonly name: string;
  readonly workload: string;
  readonly ip: string;
}

export class RehearsalCluster {
  readonly desired = new Map<string, number>();
  /** Pods that exited without being asked to (replaced by the controller), per workload. */
  readonly unexpectedExits = new Map<string, string[]>();
  private readonly live = new Map<string, { workload: string; ip?: string }>();
  private readonly stopping = new Set<string>();
  private counter = 0;
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> = Promise.resolve();
  private pendingNoted = new Set<string>();

  constructor(private readonly p: ClusterProps) {
    for (const w of p.workloads) this.desired.set(w.name, w.replicas);
  }

  workload(name: string): Workload {
    const w = this.p.workloads.find((x) => x.name === name);
    if (!w) throw new Error(`the chart has no workload ${name}`);
    return w;
  }

  /** Starts reconciling every `intervalMs`. */
  start(intervalMs = 1000): void {
    const tick = () => {
      this.busy = this.busy
        .then(() => this.reconcile())
        .catch((e: unknown) => progress(`controller: ${(e as Error).message}`));
      this.timer = setTimeout(tick, intervalMs);
    };
    tick();
  }

  setReplicas(name: string, n: number): void {
    this.desired.set(name, n);
  }

  /** Running pods of a workload. */
  pods(workload?: string): PodInfo[] {
    return [...this.live]
      .filter(([, v]) => workload === undefined || v.workload === workload)
      .map(([name, v]) => ({ name, workload: v.workload, ip: v.ip ?? '' }));
  }

  private request(w: Workload): { pool: string; cpu: number; gpus: number } {
    const c = w.pod.containers[0]!;
    const pool =
      (w.pod as { nodeSelector?: Record<string, string> }).nodeSelector?.['kiosk.io/pool'] ?? 'cpu';
    const req = (c.resources?.requests ?? {}) as Record<string, string>;
    const lim = (c.resources?.limits ?? {}) as Record<string, string>;
    return { pool, cpu: req.cpu ? cpuCores(req.cpu) : 0, gpus: Number(lim['nvidia.com/gpu'] ?? 0) };
  }

  private fits(w: Workload): boolean {
    const need = this.request(w);
    let cpu = 0;
    let gpus = 0;
    for (const [, v] of this.live) {
      const other = this.p.workloads.find((x) => x.name === v.workload);
      if (!other) continue; // a Job's pod, started by hand (runJob)
      const r = this.request(other);
      if (r.pool !== need.pool) continue;
      cpu += r.cpu;
      gpus += r.gpus;
    }
    const capCpu = this.p.capacity.cpu[need.pool] ?? 0;
    const capGpu = this.p.capacity.gpus[need.pool] ?? 0;
    return cpu + need.cpu <= capCpu + 1e-9 && gpus + need.gpus <= capGpu;
  }

  private async reconcile(): Promise<void> {
    const out = await this.p.podman.run(['ps', '-a', '--filter', `label=${LABEL}`, '--format', 'json']);
    const states = new Map(
      (JSON.parse(out || '[]') as { Names: string[]; State: string }[]).map((c) => [c.Names[0]!, c.State]),
    );
    for (const [name, v] of [...this.live]) {
      const state = states.get(name);
      if (state === 'running') continue;
      if (!this.stopping.has(name)) {
        const list = this.unexpectedExits.get(v.workload) ?? [];
        list.push(`${name} (${state ?? 'gone'})`);
        this.unexpectedExits.set(v.workload, list);
        progress(`${name} exited (${state ?? 'gone'}); the controller replaces it`);
      }
      this.live.delete(name);
      await this.p.podman.run(['rm', '-f', name]).catch(() => undefined);
    }
    for (const w of this.p.workloads) {
      const want = this.desired.get(w.name) ?? 0;
      const have = this.pods(w.name);
      if (have.length > want) {
        for (const pod of have.slice(want)) await this.stopPod(pod.name);
      }
      for (let i = have.length; i < want; i++) {
        if (!this.fits(w)) {
          if (!this.pendingNoted.has(w.name)) progress(`${w.name}: a pod stays Pending (its pool is full)`);
          this.pendingNoted.add(w.name);
          break;
        }
        this.pendingNoted.delete(w.name);
        await this.startPod(w);
      }
    }
  }

  /**
   * Starts one pod of a Job (what `kubectl patch job ... suspend: false` does), outside the pools' capacity:
   * on one machine it runs beside the GPU worker. Its exit is recorded like any pod's.
   */
  async runJob(job: Workload): Promise<string> {
    return this.startPod(job);
  }

  /** Stops one pod (a Job's, when the rehearsal has seen it up). */
  async stop(name: string): Promise<void> {
    await this.stopPod(name);
  }

  private async startPod(w: Workload): Promise<string> {
    const name = w.kind === 'StatefulSet' ? `${w.name}-0` : `${w.name}-${++this.counter}`;
    const envFile = join(this.p.dir, `${name}.env`);
    const sa = w.pod.serviceAccountName;
    const run = podRunArgs(w.pod, {
      podName: name,
      network: this.p.network,
      aliases: serviceNamesFor(this.p.objects, w.labels),
      lookups: this.p.lookups,
      labels: { [LABEL]: w.name },
      envFile,
      injectedEnv: this.p.injectedEnv(sa),
      ...(w.pod.automountServiceAccountToken
        ? {
            serviceAccountDir: this.p.serviceAccountDir(sa ?? 'default'),
            kubernetesService: this.p.kubernetesService,
          }
        : {}),
      // One volume per claim and pod, named after this run's network: a fresh cluster gets fresh PVCs.
      claimVolumes: Object.fromEntries(w.claims.map((c) => [c, `${c}-${name}-${this.p.network}`])),
    });
    writeFileSync(envFile, envFileText(run.env), { mode: 0o600 });
    await this.p.podman.run(['rm', '-f', name]).catch(() => undefined);
    await this.p.podman.run(run.args);
    const ip = (
      await this.p.podman.run([
        'inspect',
        name,
        '--format',
        `{{(index .NetworkSettings.Networks "${this.p.network}").IPAddress}}`,
      ])
    ).trim();
    this.live.set(name, { workload: w.name, ip });
    progress(`pod ${name} started (${ip}, user ${run.user || 'image default'})`);
    return name;
  }

  private async stopPod(name: string): Promise<void> {
    this.stopping.add(name);
    const grace = 30;
    progress(`pod ${name}: stopping (scaled down)`);
    await this.p.podman
      .run(['stop', '-t', String(grace), name], { timeoutMs: (grace + 15) * 1000 })
      .catch(() => undefined);
    await this.p.podman.run(['rm', '-f', name]).catch(() => undefined);
    this.live.delete(name);
  }

  /** Stops reconciling, then stops the app pods before Redis (workers drain against a live Redis). */
  async shutdown(firstOrder: readonly string[]): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.busy;
    for (const w of firstOrder) this.desired.set(w, 0);
    const pods = [...this.live].map(([name, v]) => ({ name, first: firstOrder.includes(v.workload) }));
    await Promise.all(pods.filter((p) => p.first).map((p) => this.stopPod(p.name)));
    await Promise.all(pods.filter((p) => !p.first).map((p) => this.stopPod(p.name)));
    for (const w of this.p.workloads)
      for (const c of w.claims)
        await this.p.podman
          .run(['volume', 'rm', '-f', `${c}-${w.name}-0-${this.p.network}`])
          .catch(() => undefined);
  }
}

/**
 * Turns the workloads of a synthesized Kubernetes chart into `podman run` arguments, field by field, so the
 * deploy rehearsal runs exactly what `kubectl apply` would schedule — never a hand-written second copy of the
 * chart. What Kubernetes does for a pod and how it is mirrored here:
 *
 * - image, command (→ --entrypoint), args; env values with `$(VAR)` expanded as the kubelet does (only from
 *   variables defined earlier in the list; an unknown reference stays as written); `secretKeyRef` and
 *   `configMapKeyRef` looked up in the chart's Secrets/ConfigMaps or the operator's secrets. Env goes in a
 *   0600 file, not on the command line.
 * - securityContext (pod, overridden per container): runAsUser/runAsGroup (→ --user), runAsNonRoot
 *   (refused if the uid is 0 or unset), readOnlyRootFilesystem (→ --read-only with no extra tmpfs: only
 *   the chart's own volumes are writable), capabilities.drop ALL (→ --cap-drop=all),
 *   allowPrivilegeEscalation false (→ no-new-privileges); fsGroup → the volume is owned by the pod's user.
 * - resources.limits: memory (→ --memory), cpu (→ --cpus).
 * - emptyDir (→ a tmpfs of its sizeLimit, private to the pod); a StatefulSet's volumeClaimTemplates (→ a
 *   named volume per pod, kept across restarts like a PVC).
 * - Services: a pod gets every Service name whose selector matches its labels as a network alias, so
 *   `kiosk-redis:6379` resolves as it does in the cluster.
 * - automountServiceAccountToken: the service-account folder (token, ca.crt, namespace) and
 *   KUBERNETES_SERVICE_HOST/PORT, as the kubelet injects them.
 * Not mirrored: nodeSelector/tolerations and `nvidia.com/gpu` (one machine, no GPU), probes (the rehearsal
 * polls readiness itself), NetworkPolicies, Ingress.
 */
import { parseAllDocuments } from 'yaml';

// Minimal shapes of the Kubernetes objects read here.
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string };
    configMapKeyRef?: { name: string; key: string };
  };
}
interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  fsGroup?: number;
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  securityContext?: SecurityContext;
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  ports?: { containerPort: number; name?: string }[];
  readinessProbe?: {
    httpGet?: { path: string; port: number | string };
    tcpSocket?: { port: number | string };
  };
}
interface Volume {
  name: string;
  emptyDir?: { sizeLimit?: string; medium?: string };
}
export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: SecurityContext;
  volumes?: Volume[];
  automountServiceAccountToken?: boolean;
  serviceAccountName?: string;
  terminationGracePeriodSeconds?: number;
}
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  rules?: { apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; verbs?: string[] }[];
}

/** A Deployment or StatefulSet, as the rehearsal's controller runs it. */
export interface Workload {
  readonly kind: 'Deployment' | 'StatefulSet' | 'Job';
  readonly name: string;
  readonly namespace: string;
  readonly replicas: number;
  readonly labels: Record<string, string>;
  readonly pod: PodSpec;
  /** StatefulSet volumeClaimTemplates' names (one named volume per pod). */
  readonly claims: readonly string[];
}

export function readManifests(yamlText: string): K8sObject[] {
  return parseAllDocuments(yamlText)
    .map((d) => {
      if (d.errors.length) throw new Error(`bad YAML in the chart: ${d.errors[0]!.message}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

/** The chart's Deployments and StatefulSets. */
export function workloadsOf(objects: readonly K8sObject[]): Workload[] {
  return objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')
    .map((o) => {
      const spec = o.spec as {
        replicas?: number;
        template: { metadata?: { labels?: Record<string, string> }; spec: PodSpec };
        volumeClaimTemplates?: { metadata: { name: string } }[];
      };
      return {
        kind: o.kind as Workload['kind'],
        name: o.metadata.name,
        namespace: o.metadata.namespace ?? 'default',
        replicas: spec.replicas ?? 1,
        labels: spec.template.metadata?.labels ?? {},
        pod: spec.template.spec,
        claims: (spec.volumeClaimTemplates ?? []).map((c) => c.metadata.name),
      };
    });
}

/** The chart's Jobs (the suspended training Job), as one-pod workloads with 0 replicas until started. */
export function jobsOf(objects: readonly K8sObject[]): Workload[] {
  return objects
    .filter((o) => o.kind === 'Job')
    .map((o) => {
      const spec = o.spec as { template: { metadata?: { labels?: Record<string, string> }; spec: PodSpec } };
      return {
        kind: 'Job' as const,
        name: o.metadata.name,
        namespace: o.metadata.namespace ?? 'default',
        replicas: 0,
        labels: spec.template.metadata?.labels ?? {},
        pod: spec.template.spec,
        claims: [],
      };
    });
}

/** Names of the Services whose selector matches `labels` (a pod's DNS aliases). */
export function serviceNamesFor(objects: readonly K8sObject[], labels: Record<string, string>): string[] {
  return objects
    .filter((o) => o.kind === 'Service')
    .filter((o) => {
      const sel = (o.spec as { selector?: Record<string, string> } | undefined)?.selector;
      return (
        sel !== undefined &&
        Object.keys(sel).length > 0 &&
        Object.entries(sel).every(([k, v]) => labels[k] === v)
      );
    })
    .map((o) => o.metadata.name);
}

/** Kubernetes quantity → bytes (`1024Mi`, `4Gi`, `512M`, plain numbers). */
export function quantityBytes(q: string): number {
  const m = /^([0-9.]+)([KMGT]i?|[kEP]i?)?$/.exec(q.trim());
  if (!m) throw new Error(`unsupported quantity ${JSON.stringify(q)}`);
  const n = Number(m[1]);
  const unit = m[2] ?? '';
  const pow: Record<string, number> = {
    '': 1,
    k: 1e3,
    K: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
  const f = pow[unit];
  if (f === undefined) throw new Error(`unsupported quantity unit in ${JSON.stringify(q)}`);
  return Math.round(n * f);
}

/** Kubernetes CPU quantity → cores (`500m` → 0.5). */
export function cpuCores(q: string): number {
  return q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q);
}

/** `$(VAR)` expansion as the kubelet does it: earlier variables only; `$$(VAR)` escapes. */
export function expandEnv(value: string, defined: ReadonlyMap<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => {
    if (m === '$$') return '$';
    return name !== undefined && defined.has(name) ? defined.get(name)! : m;
  });
}

export interface Lookups {
  /** Secret name → key → value (the chart's Secrets and those the operator creates, e.g. kiosk-redis). */
  readonly secrets: ReadonlyMap<string, Readonly<Record<string, string>>>;
  readonly configMaps: ReadonlyMap<string, Readonly<Record<string, string>>>;
}

/** The chart's ConfigMaps (and Secrets, if it has any) as lookups. */
export function chartLookups(
  objects: readonly K8sObject[],
  extraSecrets: Record<string, Record<string, string>>,
): Lookups {
  const secrets = new Map<string, Record<string, string>>(Object.entries(extraSecrets));
  const configMaps = new Map<string, Record<string, string>>();
  for (const o of objects) {
    if (o.kind === 'ConfigMap') configMaps.set(o.metadata.name, { ...(o.data ?? {}) });
    if (o.kind === 'Secret') {
      const data = Object.fromEntries(
        Object.entries(o.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
      );
      secrets.set(o.metadata.name, { ...data, ...(o.stringData ?? {}) });
    }
  }
  return { secrets, configMaps };
}

/** The container's environment, resolved and expanded in order. */
export function resolveEnv(
  env: readonly EnvVar[],
  lookups: Lookups,
  injected: Record<string, string> = {},
): Map<string, string> {
  const out = new Map<string, string>(Object.entries(injected));
  for (const e of env) {
    let v: string;
    if (e.value !== undefined) v = expandEnv(e.value, out);
    else if (e.valueFrom?.secretKeyRef) {
      const { name, key } = e.valueFrom.secretKeyRef;
      const s = lookups.secrets.get(name)?.[key];
      if (s === undefined)
        throw new Error(`env ${e.name}: secret ${name} has no key ${key} (create it as docs/deploy.md says)`);
      v = s;
    } else if (e.valueFrom?.configMapKeyRef) {
      const { name, key } = e.valueFrom.configMapKeyRef;
      const s = lookups.configMaps.get(name)?.[key];
      if (s === undefined) throw new Error(`env ${e.name}: configMap ${name} has no key ${key}`);
      v = s;
    } else throw new Error(`env ${e.name}: unsupported valueFrom ${JSON.stringify(e.valueFrom)}`);
    out.set(e.name, v);
  }
  return out;
}

export interface PodRunOptions {
  /** Container name (the pod's name: `<workload>-<n>`). */
  readonly podName: string;
  readonly network: string;
  readonly aliases: readonly string[];
  readonly lookups: Lookups;
  /** Labels put on the container so the controller can find its pods. */
  readonly labels: Record<string, string>;
  /** Where the env file is written (0600). */
  readonly envFile: string;
  /** Host folder mounted as the service-account folder when the pod automounts its token. */
  readonly serviceAccountDir?: string;
  /** KUBERNETES_SERVICE_HOST/PORT for pods with a token. */
  readonly kubernetesService?: { host: string; port: number };
  /** Extra environment the rehearsal adds (its stand-in for IRSA credentials), set before the pod's own env. */
  readonly injectedEnv?: Record<string, string>;
  /** Named volume for each volumeClaimTemplate (StatefulSets). */
  readonly claimVolumes?: Readonly<Record<string, string>>;
}

export interface PodRun {
  readonly args: string[];
  readonly env: Map<string, string>;
  readonly user: string;
}

/** `podman run` arguments (after `podman`) for a one-container pod, and the env file's content. */
export function podRunArgs(pod: PodSpec, o: PodRunOptions): PodRun {
  if (pod.containers.length !== 1)
    throw new Error(
      `${o.podName}: ${pod.containers.length} containers; the rehearsal runs one-container pods`,
    );
  if (pod.initContainers?.length)
    throw new Error(`${o.podName}: init containers are not supported by the rehearsal`);
  const c = pod.containers[0]!;
  const sc: SecurityContext = { ...(pod.securityContext ?? {}), ...(c.securityContext ?? {}) };
  const uid = sc.runAsUser;
  if (sc.runAsNonRoot && (uid === undefined || uid === 0))
    throw new Error(
      `${o.podName}: runAsNonRoot without a non-zero runAsUser (the kubelet would refuse to start it)`,
    );
  const user = uid === undefined ? '' : `${uid}:${sc.runAsGroup ?? uid}`;
  const args = [
    'run',
    '-d',
    '--name',
    o.podName,
    '--hostname',
    o.podName,
    '--network',
    o.network,
    '--pull=never',
  ];
  for (const a of o.aliases) args.push('--network-alias', a);
  for (const [k, v] of Object.entries(o.labels)) args.push('--label', `${k}=${v}`);
  if (user) args.push('--user', user);
  if (sc.readOnlyRootFilesystem) args.push('--read-only', '--read-only-tmpfs=false');
  if (sc.capabilities?.drop?.some((d) => d.toUpperCase() === 'ALL')) args.push('--cap-drop=all');
  for (const cap of sc.capabilities?.add ?? []) args.push(`--cap-add=${cap}`);
  if (sc.allowPrivilegeEscalation === false) args.push('--security-opt', 'no-new-privileges');
  const limits = c.resources?.limits ?? {};
  if (limits.memory) args.push('--memory', String(quantityBytes(limits.memory)));
  if (limits.cpu) args.push('--cpus', String(cpuCores(limits.cpu)));
  const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
  for (const m of c.volumeMounts ?? []) {
    const claim = o.claimVolumes?.[m.name];
    const v = volumes.get(m.name);
    if (claim) {
      // fsGroup: the kubelet makes the volume writable by the pod's group; :U chowns it to the container user.
      args.push(
        '-v',
        `${claim}:${m.mountPath}${sc.fsGroup !== undefined ? ':U' : ''}${m.readOnly ? ',ro' : ''}`,
      );
    } else if (v?.emptyDir) {
      const size = v.emptyDir.sizeLimit ? `,tmpfs-size=${quantityBytes(v.emptyDir.sizeLimit)}` : '';
      args.push('--mount', `type=tmpfs,destination=${m.mountPath}${size},tmpfs-mode=1777`);
    } else throw new Error(`${o.podName}: volume ${m.name} is neither an emptyDir nor a claim template`);
  }
  const injected: Record<string, string> = { ...(o.injectedEnv ?? {}) };
  if (pod.automountServiceAccountToken) {
    if (!o.serviceAccountDir || !o.kubernetesService)
      throw new Error(
        `${o.podName}: automounts a service-account token but the rehearsal has no API server for it`,
      );
    args.push('-v', `${o.serviceAccountDir}:/var/run/secrets/kubernetes.io/serviceaccount:ro`);
    injected.KUBERNETES_SERVICE_HOST = o.kubernetesService.host;
    injected.KUBERNETES_SERVICE_PORT = String(o.kubernetesService.port);
  }
  const env = resolveEnv(c.env ?? [], o.lookups, injected);
  args.push('--env-file', o.envFile);
  if (c.command?.length) args.push('--entrypoint', JSON.stringify(c.command));
  args.push(c.image);
  const defined = new Map(env);
  for (const a of c.args ?? []) args.push(expandEnv(a, defined));
  return { args, env, user };
}

/** The env file podman reads (`NAME=value` per line; values with newlines are refused). */
export function envFileText(env: ReadonlyMap<string, string>): string {
  return [...env]
    .map(([k, v]) => {
      if (/[\r\n]/.test(v)) throw new Error(`env ${k} has a newline; podman env files cannot carry it`);
      return `${k}=${v}\n`;
    })
    .join('');
}

/**
 * The intent methods of `KioskChart` (cdk8s-plus style: `addContainer`, `connections.allowFrom`), so a lab can
 * add a sidecar to a kiosk pod or admit its own traffic through the chart's default-deny NetworkPolicies
 * without forking the chart. They work on the objects the chart exposes (`chart.api`, `chart.workers.cpu`,
 * `chart.trainingJob`, ...) and change what they synthesize through JSON patches, after the chart built them.
 */
import { ApiObject, JsonPatch } from 'cdk8s';
import { k8s } from 'cdk8s-plus-34';
import { Construct } from 'constructs';
import { KioskConfigError, requireIntInRange } from '../validation.js';
import { restrictedContainerSecurity } from './pod-defaults.js';
import type { KioskWorkload } from './workload.js';

/** What carries a kiosk pod template: a role's workload (its Deployment) or the training Job. */
export type KioskPodOwner = KioskWorkload | k8s.KubeJob;

export interface SidecarOptions {
  /**
   * Volumes the sidecar mounts besides those the pod has (the kiosk's are `scratch` on /tmp and, for the GPU
   * worker and trainer, `model-cache`; the sidecar may mount those by name too). @default - none
   */
  readonly volumes?: readonly k8s.Volume[];
}

/** Where traffic comes from (`allowFrom`) or goes to (`allowTo`). */
export type KioskPeer =
  /** Pods with these labels, in the kiosk's namespace or, with `namespaceLabels`, in the namespaces matching them. */
  | { readonly podLabels: Record<string, string>; readonly namespaceLabels?: Record<string, string> }
  /** Every pod of the namespaces with these labels, e.g. `{ 'kubernetes.io/metadata.name': 'monitoring' }`. */
  | { readonly namespaceLabels: Record<string, string> }
  /** An address range outside the cluster, e.g. '10.20.0.0/16'. */
  | { readonly cidr: string };

export interface AllowOptions {
  /** TCP ports the traffic may use (at least one). */
  readonly ports: readonly number[];
  /** The NetworkPolicy's name. @default - `kiosk-allow-<role>-from-<n>` / `-to-<n>`, n counting per chart */
  readonly name?: string;
}

const ownerObject = (owner: KioskPodOwner): ApiObject =>
  owner instanceof ApiObject ? owner : owner.deployment;

/**
 * Adds `container` to the pod of `owner`. The kiosk's namespace enforces Pod Security `restricted`, so a
 * container without a securityContext gets the kiosk containers' own (non-root, read-only root, no
 * capabilities, no privilege escalation); a given one is kept as it is (the admission check then judges it).
 * Throws when a container of that name is already in the pod.
 */
export function addSidecar(owner: KioskPodOwner, container: k8s.Container, opts: SidecarOptions = {}): void {
  const taken = podContainerNames(owner);
  if (taken.includes(container.name)) {
    throw new KioskConfigError(
      `sidecar '${container.name}': the pod of ${ownerObject(owner).name} already has a container of that name (${taken.join(', ')})`,
    );
  }
  taken.push(container.name);
  const obj = ownerObject(owner);
  // The typed form, not its JSON: the Kube* objects apply their patches before they map the typed props to
  // JSON (toJson_*), which renders Quantity and IntOrString values.
  const sidecar: k8s.Container = {
    ...container,
    securityContext: container.securityContext ?? restrictedContainerSecurity(),
  };
  obj.addJsonPatch(JsonPatch.add('/spec/template/spec/containers/-', sidecar));
  for (const v of opts.volumes ?? []) obj.addJsonPatch(JsonPatch.add('/spec/template/spec/volumes/-', v));
}

/** The containers a pod template will have: its own plus the sidecars added so far (kept on the object). */
const SIDECARS = Symbol('kiosk-sidecar-names');
function podContainerNames(owner: KioskPodOwner): string[] {
  const obj = ownerObject(owner) as ApiObject & { [SIDECARS]?: string[] };
  if (!obj[SIDECARS]) {
    const spec = (obj.toJson() as { spec?: { template?: { spec?: { containers?: { name: string }[] } } } })
      .spec?.template?.spec;
    obj[SIDECARS] = (spec?.containers ?? []).map((c) => c.name);
  }
  return obj[SIDECARS];
}

function peerOf(peer: KioskPeer): k8s.NetworkPolicyPeer {
  if ('cidr' in peer) {
    if (!/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(peer.cidr))
      throw new KioskConfigError(`peer cidr '${peer.cidr}' must be an address range such as 10.20.0.0/16`);
    return { ipBlock: { cidr: peer.cidr } };
  }
  return {
    ...('podLabels' in peer ? { podSelector: { matchLabels: peer.podLabels } } : {}),
    ...(peer.namespaceLabels ? { namespaceSelector: { matchLabels: peer.namespaceLabels } } : {}),
  };
}

/**
 * A NetworkPolicy admitting traffic between the pods of `owner` and `peer` on `opts.ports` (TCP), in one
 * direction: 'ingress' (peer → pods) or 'egress' (pods → peer). NetworkPolicies add up, so this opens exactly
 * that path through the chart's default deny and closes nothing.
 */
export function allowTraffic(
  scope: Construct,
  namespace: string,
  owner: KioskPodOwner,
  direction: 'ingress' | 'egress',
  peer: KioskPeer,
  opts: AllowOptions,
  index: number,
): k8s.KubeNetworkPolicy {
  if (opts.ports.length === 0) throw new KioskConfigError('allowFrom/allowTo: give at least one port');
  for (const p of opts.ports) requireIntInRange('port', p, 1, 65535);
  const labels = podLabelsOf(owner);
  const role = labels['app.kubernetes.io/component'] ?? 'pod';
  const name = opts.name ?? `kiosk-allow-${role}-${direction === 'ingress' ? 'from' : 'to'}-${index}`;
  const ports = opts.ports.map((port) => ({ protocol: 'TCP', port: k8s.IntOrString.fromNumber(port) }));
  const rule = direction === 'ingress' ? { from: [peerOf(peer)], ports } : { to: [peerOf(peer)], ports };
  return new k8s.KubeNetworkPolicy(scope, name, {
    metadata: { name, namespace },
    spec: {
      podSelector: { matchLabels: labels },
      policyTypes: [direction === 'ingress' ? 'Ingress' : 'Egress'],
      ...(direction === 'ingress' ? { ingress: [rule] } : { egress: [rule] }),
    },
  });
}

function podLabelsOf(owner: KioskPodOwner): Record<string, string> {
  if (!(owner instanceof ApiObject)) return owner.labels;
  const labels = (
    owner.toJson() as { spec?: { template?: { metadata?: { labels?: Record<string, string> } } } }
  ).spec?.template?.metadata?.labels;
  const own = Object.entries(labels ?? {}).filter(([k]) => k.startsWith('app.kubernetes.io/'));
  if (own.length === 0) throw new KioskConfigError(`${owner.name} has no pod labels to select its pods by`);
  return Object.fromEntries(own);
}

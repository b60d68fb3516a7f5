import { k8s } from 'cdk8s-plus-34';
import { Construct } from 'constructs';
import type { CloudProvider } from '../gpu-type.js';
import { HTTPS_EGRESS_LABEL, REDIS_CLIENT_LABEL } from './pod-defaults.js';

export interface KioskNetworkPoliciesProps {
  readonly namespace: string;
  readonly provider: CloudProvider;
  /** Pod labels of Redis. */
  readonly redisLabels: Record<string, string>;
  readonly redisPort: number;
  /** Pod labels of the API. */
  readonly apiLabels: Record<string, string>;
  readonly apiPort: number;
  /** Source ranges of the load balancer that fronts the API. */
  readonly loadBalancerCidrs: readonly string[];
}

const tcp = (port: number): k8s.NetworkPolicyPort => ({
  protocol: 'TCP',
  port: k8s.IntOrString.fromNumber(port),
});

/**
 * Default deny for every pod in the namespace, then only: DNS to kube-system (UDP/TCP 53); pods labelled
 * `kiosk.io/redis-client` → Redis 6379; the load balancer's ranges → API port; pods labelled
 * `kiosk.io/egress-https` → TCP 443 anywhere (cloud storage/IAM APIs and the Kubernetes API; NetworkPolicy
 * cannot name hosts), plus on GKE the node-local metadata server workload identity answers on
 * (169.254.169.254:80, 169.254.169.252:988).
 */
export class KioskNetworkPolicies extends Construct {
  constructor(scope: Construct, id: string, props: KioskNetworkPoliciesProps) {
    super(scope, id);
    const ns = props.namespace;
    const policy = (name: string, spec: k8s.NetworkPolicySpec) =>
      new k8s.KubeNetworkPolicy(this, name, { metadata: { name: `kiosk-${name}`, namespace: ns }, spec });

    policy('default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    policy('allow-dns', {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [
        {
          to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } }],
          ports: [
            { protocol: 'UDP', port: k8s.IntOrString.fromNumber(53) },
            { protocol: 'TCP', port: k8s.IntOrString.fromNumber(53) },
          ],
        },
      ],
    });
    const clients = { matchLabels: { [REDIS_CLIENT_LABEL]: 'true' } };
    policy('redis-ingress', {
      podSelector: { matchLabels: props.redisLabels },
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ podSelector: clients }], ports: [tcp(props.redisPort)] }],
    });
    policy('redis-clients-egress', {
      podSelector: clients,
      policyTypes: ['Egress'],
      egress: [{ to: [{ podSelector: { matchLabels: props.redisLabels } }], ports: [tcp(props.redisPort)] }],
    });
    policy('api-ingress', {
      podSelector: { matchLabels: props.apiLabels },
      policyTypes: ['Ingress'],
      ingress: [
        { from: props.loadBalancerCidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: [tcp(props.apiPort)] },
      ],
    });
    const metadataServer =
      props.provider === 'gke'
        ? [
            { to: [{ ipBlock: { cidr: '169.254.169.254/32' } }], ports: [tcp(80)] },
            { to: [{ ipBlock: { cidr: '169.254.169.252/32' } }], ports: [tcp(988)] },
          ]
        : [];
    policy('https-egress', {
      podSelector: { matchLabels: { [HTTPS_EGRESS_LABEL]: 'true' } },
      policyTypes: ['Egress'],
      egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [tcp(443)] }, ...metadataServer],
    });
  }
}

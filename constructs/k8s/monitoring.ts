import { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-34';
import { Construct } from 'constructs';
import type { CloudProvider } from '../gpu-type.js';
import { POOL_LABEL } from '../node-pool-props.js';
import { requireIntInRange } from '../validation.js';
import {
  componentLabels,
  HTTPS_EGRESS_LABEL,
  resourceRequirements,
  restrictedContainerSecurity,
  restrictedPodSecurity,
} from './pod-defaults.js';

export interface KioskMonitoringProps {
  readonly provider: CloudProvider;
  readonly namespace: string;
  /** Pod labels of the API, whose /metrics carries the whole kiosk's metrics (api/metrics.ts). */
  readonly apiLabels: Record<string, string>;
  /** Name of the API container port serving /metrics. */
  readonly apiPortName: string;
  readonly apiPort: number;
  /** How often to scrape. @default 30 */
  readonly scrapeIntervalSeconds?: number;
  /** EKS: the Prometheus image. @default 'quay.io/prometheus/prometheus:v3.5.0' */
  readonly prometheusImage?: string;
  /** EKS: the Prometheus volume. @default 10 */
  readonly prometheusStorageGiB?: number;
  /** EKS: how long Prometheus keeps samples. @default 15 */
  readonly retentionDays?: number;
  /** EKS: StorageClass of the Prometheus volume. */
  readonly storageClassName: string;
}

/** The namespace GKE's Managed Service for Prometheus runs its collectors in. */
export const GMP_NAMESPACE = 'gmp-system';
/** Port of the chart's own Prometheus (EKS). */
export const PROMETHEUS_PORT = 9090;
const PROMETHEUS_UID = 65534; // `nobody`, what the upstream image runs as

/**
 * Scraping of the kiosk's `/metrics` (the API's: it adds up the workers' and the autoscaler's metrics, so one
 * target covers every role) and the NetworkPolicy that lets the scraper past the namespace's default deny.
 * - GKE: a `PodMonitoring` (monitoring.googleapis.com/v1) for Managed Service for Prometheus (on by default on
 *   GKE Standard from 1.27; `GkeCluster` also turns on its DCGM GPU metrics); ingress to the API port from the
 *   collectors in `gmp-system`.
 * - EKS: a Prometheus of its own in the kiosk namespace (StatefulSet `kiosk-prometheus`, a PVC, Service
 *   `kiosk-prometheus:9090`), discovering the API pods through the Kubernetes API with a Role that can only
 *   list pods here; ingress to the API port from that Prometheus alone. Chosen over ADOT because it needs no
 *   add-on, no cert-manager and no Amazon Managed Prometheus workspace, runs at the restricted Pod Security
 *   level, and answers the same PromQL as GKE, so one Grafana dashboard (monitoring/grafana) serves both.
 * A NetworkPolicy cannot match a path: the scraper may reach the whole API port, which it could over the
 * Ingress anyway.
 */
export class KioskMonitoring extends Construct {
  readonly podMonitoring?: ApiObject;
  readonly prometheus?: k8s.KubeStatefulSet;

  constructor(scope: Construct, id: string, props: KioskMonitoringProps) {
    super(scope, id);
    const ns = props.namespace;
    const interval = props.scrapeIntervalSeconds ?? 30;
    requireIntInRange('scrapeIntervalSeconds', interval, 5, 3600);
    const apiPort: k8s.NetworkPolicyPort = {
      protocol: 'TCP',
      port: k8s.IntOrString.fromNumber(props.apiPort),
    };
    const policy = (name: string, spec: k8s.NetworkPolicySpec) =>
      new k8s.KubeNetworkPolicy(this, name, { metadata: { name: `kiosk-${name}`, namespace: ns }, spec });

    if (props.provider === 'gke') {
      this.podMonitoring = new ApiObject(this, 'pod-monitoring', {
        apiVersion: 'monitoring.googleapis.com/v1',
        kind: 'PodMonitoring',
        metadata: { name: 'kiosk-api', namespace: ns, labels: componentLabels('monitoring') },
        spec: {
          selector: { matchLabels: props.apiLabels },
          endpoints: [{ port: props.apiPortName, path: '/metrics', interval: `${interval}s` }],
        },
      });
      policy('metrics-ingress', {
        podSelector: { matchLabels: props.apiLabels },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': GMP_NAMESPACE } } }],
            ports: [apiPort],
          },
        ],
      });
      return;
    }

    const storageGiB = props.prometheusStorageGiB ?? 10;
    requireIntInRange('prometheusStorageGiB', storageGiB, 1, 16384);
    const retentionDays = props.retentionDays ?? 15;
    requireIntInRange('retentionDays', retentionDays, 1, 3650);
    const labels = componentLabels('prometheus');
    const name = 'kiosk-prometheus';
    new k8s.KubeServiceAccount(this, 'service-account', {
      metadata: { name, namespace: ns, labels },
      automountServiceAccountToken: false,
    });
    new k8s.KubeRole(this, 'role', {
      metadata: { name, namespace: ns, labels },
      rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }],
    });
    new k8s.KubeRoleBinding(this, 'role-binding', {
      metadata: { name, namespace: ns, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: ns }],
    });
    const keep = Object.entries(props.apiLabels).map(([k, v]) => ({
      source_labels: [`__meta_kubernetes_pod_label_${k.replace(/[^a-zA-Z0-9_]/g, '_')}`],
      regex: v,
      action: 'keep',
    }));
    const config = {
      global: { scrape_interval: `${interval}s`, evaluation_interval: `${interval}s` },
      scrape_configs: [
        {
          job_name: 'kiosk-api',
          metrics_path: '/metrics',
          kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: [ns] } }],
          relabel_configs: [
            ...keep,
            {
              source_labels: ['__meta_kubernetes_pod_container_port_name'],
              regex: props.apiPortName,
              action: 'keep',
            },
            { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
            { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
          ],
        },
      ],
    };
    new k8s.KubeConfigMap(this, 'config', {
      metadata: { name, namespace: ns, labels },
      data: { 'prometheus.yml': JSON.stringify(config, null, 2) },
    });
    this.prometheus = new k8s.KubeStatefulSet(this, 'statefulset', {
      metadata: { name, namespace: ns, labels },
      spec: {
        serviceName: name,
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          // Opts into the namespace's HTTPS egress policy: service discovery asks the Kubernetes API (443).
          metadata: { labels: { ...labels, [HTTPS_EGRESS_LABEL]: 'true' } },
          spec: {
            serviceAccountName: name,
            automountServiceAccountToken: true,
            nodeSelector: { [POOL_LABEL]: 'cpu' },
            securityContext: restrictedPodSecurity(PROMETHEUS_UID),
            containers: [
              {
                name: 'prometheus',
                image: props.prometheusImage ?? 'quay.io/prometheus/prometheus:v3.5.0',
                args: [
                  '--config.file=/etc/prometheus/prometheus.yml',
                  '--storage.tsdb.path=/prometheus',
                  `--storage.tsdb.retention.time=${retentionDays}d`,
                  // Leaves a tenth of the volume for the WAL and compaction.
                  `--storage.tsdb.retention.size=${Math.floor(storageGiB * 0.9 * 1024)}MB`,
                ],
                ports: [{ name: 'web', containerPort: PROMETHEUS_PORT }],
                securityContext: restrictedContainerSecurity(),
                resources: resourceRequirements('prometheus', {
                  cpuMillis: 100,
                  memoryMiB: 512,
                  cpuLimitMillis: 1000,
                  memoryLimitMiB: 1024,
                }),
                readinessProbe: {
                  httpGet: { path: '/-/ready', port: k8s.IntOrString.fromNumber(PROMETHEUS_PORT) },
                  periodSeconds: 10,
                },
                volumeMounts: [
                  { name: 'config', mountPath: '/etc/prometheus', readOnly: true },
                  { name: 'data', mountPath: '/prometheus' },
                ],
              },
            ],
            volumes: [{ name: 'config', configMap: { name } }],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data' },
            spec: {
              accessModes: ['ReadWriteOnce'],
              storageClassName: props.storageClassName,
              resources: { requests: { storage: k8s.Quantity.fromString(`${storageGiB}Gi`) } },
            },
          },
        ],
      },
    });
    new k8s.KubeService(this, 'service', {
      metadata: { name, namespace: ns, labels },
      spec: {
        type: 'ClusterIP',
        selector: labels,
        ports: [
          { name: 'web', port: PROMETHEUS_PORT, targetPort: k8s.IntOrString.fromNumber(PROMETHEUS_PORT) },
        ],
      },
    });
    const prometheusPods = { matchLabels: labels };
    policy('metrics-ingress', {
      podSelector: { matchLabels: props.apiLabels },
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ podSelector: prometheusPods }], ports: [apiPort] }],
    });
    policy('prometheus-scrape-egress', {
      podSelector: prometheusPods,
      policyTypes: ['Egress'],
      egress: [{ to: [{ podSelector: { matchLabels: props.apiLabels } }], ports: [apiPort] }],
    });
  }
}

import { ContainerCluster } from '@cdktf/provider-google/lib/container-cluster/index.js';
import { ProjectIamMember } from '@cdktf/provider-google/lib/project-iam-member/index.js';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account/index.js';
import { Construct } from 'constructs';
import type { GkeNetwork } from './network.js';

export interface GkeClusterProps {
  /** Cluster name and prefix of its node service account. */
  readonly name: string;
  readonly project: string;
  readonly region: string;
  /**
   * Zones for nodes. One zone → a zonal cluster there (cheapest: one control plane replica);
   * several → a regional cluster with nodes in these zones. Pick zones that sell your GPU.
   * @default - a regional cluster; GKE picks the zones
   */
  readonly zones?: readonly string[];
  readonly network: GkeNetwork;
  /** GKE release channel. @default 'REGULAR' */
  readonly releaseChannel?: 'RAPID' | 'REGULAR' | 'STABLE';
  /** /28 range for the control plane's private endpoint. @default '172.16.0.0/28' */
  readonly controlPlaneCidr?: string;
  /** CIDRs allowed to reach the public control-plane endpoint. @default - any address (Google auth still required) */
  readonly authorizedNetworks?: readonly string[];
  /** Refuse `terraform destroy` of the cluster. @default true */
  readonly deletionProtection?: boolean;
}

/** Roles the node service account needs to run nodes (logs, metrics, image pulls) and nothing more. */
const NODE_ROLES = [
  'roles/logging.logWriter',
  'roles/monitoring.metricWriter',
  'roles/monitoring.viewer',
  'roles/stackdriver.resourceMetadata.writer',
  'roles/artifactregistry.reader',
];

/**
 * A GKE Standard cluster with workload identity (`<project>.svc.id.goog`; pods get cloud access only through
 * their ServiceAccount's bound identity), private nodes, Dataplane V2 (enforces NetworkPolicies), shielded
 * nodes, and the default node pool removed (pools are separate `GkeNodePool`s). Nodes run as a dedicated
 * least-privilege service account instead of the Compute Engine default (project editor). Managed Service
 * for Prometheus is on, with the DCGM GPU metrics.
 */
export class GkeCluster extends Construct {
  readonly cluster: ContainerCluster;
  readonly nodeServiceAccount: ServiceAccount;
  readonly project: string;
  /** `--region R` or `--zone Z`, as gcloud wants for this cluster's location. */
  readonly locationFlag: string;
  /** Command that writes this cluster's credentials into ~/.kube/config. */
  readonly credentialsCommand: string;

  constructor(scope: Construct, id: string, props: GkeClusterProps) {
    super(scope, id);
    this.project = props.project;
    const zones = props.zones ?? [];
    const zonal = zones.length === 1;
    const location = zonal ? zones[0]! : props.region;
    this.locationFlag = zonal ? `--zone ${location}` : `--region ${location}`;
    this.credentialsCommand = `gcloud container clusters get-credentials ${props.name} ${this.locationFlag} --project ${props.project}`;

    this.nodeServiceAccount = new ServiceAccount(this, 'node-sa', {
      accountId: `${props.name}-nodes`,
      displayName: `cellkiosk ${props.name} GKE nodes`,
      project: props.project,
    });
    NODE_ROLES.forEach((role) => {
      new ProjectIamMember(this, `node-sa-${role.replace('roles/', '')}`, {
        project: props.project,
        role,
        member: this.nodeServiceAccount.member,
      });
    });

    this.cluster = new ContainerCluster(this, 'cluster', {
      name: props.name,
      project: props.project,
      location,
      ...(zones.length > 1 ? { nodeLocations: [...zones] } : {}),
      network: props.network.network.id,
      subnetwork: props.network.subnet.id,
      networkingMode: 'VPC_NATIVE',
      ipAllocationPolicy: {
        clusterSecondaryRangeName: props.network.podRangeName,
        servicesSecondaryRangeName: props.network.serviceRangeName,
      },
      removeDefaultNodePool: true,
      initialNodeCount: 1,
      deletionProtection: props.deletionProtection ?? true,
      releaseChannel: { channel: props.releaseChannel ?? 'REGULAR' },
      workloadIdentityConfig: { workloadPool: `${props.project}.svc.id.goog` },
      datapathProvider: 'ADVANCED_DATAPATH',
      // Managed Service for Prometheus collects what the chart's PodMonitoring names; DCGM adds the GPU
      // nodes' utilisation and memory metrics (DCGM_FI_DEV_*) for the dashboard (monitoring/grafana).
      monitoringConfig: {
        enableComponents: ['SYSTEM_COMPONENTS', 'DCGM'],
        managedPrometheus: { enabled: true },
      },
      enableShieldedNodes: true,
      privateClusterConfig: {
        enablePrivateNodes: true,
        enablePrivateEndpoint: false,
        masterIpv4CidrBlock: props.controlPlaneCidr ?? '172.16.0.0/28',
      },
      ...(props.authorizedNetworks
        ? {
            masterAuthorizedNetworksConfig: {
              cidrBlocks: props.authorizedNetworks.map((cidrBlock) => ({ cidrBlock })),
            },
          }
        : {}),
      // The temporary default pool also runs as the least-privilege account.
      nodeConfig: { serviceAccount: this.nodeServiceAccount.email },
    });
  }
}

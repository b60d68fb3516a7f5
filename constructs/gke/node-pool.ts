import { ContainerNodePool } from '@cdktf/provider-google/lib/container-node-pool/index.js';
import { Construct } from 'constructs';
import {
  POOL_LABEL,
  resolveNodePool,
  Taint,
  type NodePoolProps,
  type ResolvedNodePool,
} from '../node-pool-props.js';
import type { GkeCluster } from './cluster.js';

export interface GkeNodePoolProps extends NodePoolProps {
  readonly cluster: GkeCluster;
  /** Node pool name (unique in the cluster). */
  readonly name: string;
}

/**
 * An autoscaled GKE node pool (`autoscaling.total_min/max_node_count`, location policy ANY so spot capacity
 * is taken from whichever zone has it). With `gpu`: `guest_accelerator` of that type and count with GKE's
 * driver installation (`gpu_driver_installation_config.gpu_driver_version = LATEST`), the taint
 * `nvidia.com/gpu=present:NoSchedule`, spot VMs by default, min 0 nodes by default. Nodes carry the label
 * `kiosk.io/pool=cpu|gpu`, use the GKE metadata server (workload identity) and shielded VM secure boot.
 */
export class GkeNodePool extends Construct {
  readonly pool: ContainerNodePool;
  readonly settings: ResolvedNodePool;

  constructor(scope: Construct, id: string, props: GkeNodePoolProps) {
    super(scope, id);
    const s = resolveNodePool('gke', props);
    this.settings = s;
    const taint = Taint.gpu();
    this.pool = new ContainerNodePool(this, 'pool', {
      name: props.name,
      project: props.cluster.project,
      cluster: props.cluster.cluster.id,
      location: props.cluster.cluster.location,
      initialNodeCount: s.minNodes,
      autoscaling: { totalMinNodeCount: s.minNodes, totalMaxNodeCount: s.maxNodes, locationPolicy: 'ANY' },
      management: { autoRepair: true, autoUpgrade: true },
      nodeConfig: {
        machineType: s.machineType,
        diskSizeGb: s.diskSizeGiB,
        spot: s.spot,
        serviceAccount: props.cluster.nodeServiceAccount.email,
        oauthScopes: ['https://www.googleapis.com/auth/cloud-platform'],
        workloadMetadataConfig: { mode: 'GKE_METADATA' },
        shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
        labels: { [POOL_LABEL]: s.poolLabel },
        ...(s.gpu
          ? {
              guestAccelerator: [
                {
                  type: s.gpu.type.nameOn('gke'),
                  count: s.gpu.count,
                  gpuDriverInstallationConfig: { gpuDriverVersion: 'LATEST' },
                },
              ],
              taint: [{ key: taint.key, value: taint.value, effect: taint.cloudEffect }],
            }
          : {}),
      },
    });
  }
}

import { AutoscalingGroupTagA as AutoscalingGroupTag } from '@cdktf/provider-aws/lib/autoscaling-group-tag/index.js';
import { EksNodeGroup } from '@cdktf/provider-aws/lib/eks-node-group/index.js';
import { Construct } from 'constructs';
import {
  POOL_LABEL,
  resolveNodePool,
  Taint,
  type NodePoolProps,
  type ResolvedNodePool,
} from '../node-pool-props.js';
import type { EksKubeCluster } from './cluster.js';

export interface EksNodePoolProps extends NodePoolProps {
  readonly cluster: EksKubeCluster;
  /** Node group name (unique in the cluster). */
  readonly name: string;
}

/**
 * An EKS managed node group in the private subnets, scaling min..max. With `gpu`: the EKS-optimized NVIDIA
 * AMI (`AL2023_x86_64_NVIDIA`: driver and container toolkit preinstalled), the instance type carrying that
 * GPU count, spot capacity by default, min 0 by default, and the taint `nvidia.com/gpu=present:NoSchedule`.
 * Nodes carry `kiosk.io/pool=cpu|gpu`. `desired_size` is left to the cluster autoscaler after creation
 * (ignored by Terraform), and the group is tagged for cluster-autoscaler auto-discovery; the node-template
 * label/taint/GPU tags it needs to scale a pool up from zero are also put on the group's Auto Scaling group
 * (`aws_autoscaling_group_tag`), where the autoscaler reads them.
 */
export class EksNodePool extends Construct {
  readonly nodeGroup: EksNodeGroup;
  readonly settings: ResolvedNodePool;
  /** The node-template tags copied onto the node group's Auto Scaling group. */
  readonly autoscalingGroupTags: AutoscalingGroupTag[];

  constructor(scope: Construct, id: string, props: EksNodePoolProps) {
    super(scope, id);
    const s = resolveNodePool('eks', props);
    this.settings = s;
    const taint = Taint.gpu();
    const ca = 'k8s.io/cluster-autoscaler';
    // What a node of this group would offer, for the cluster-autoscaler to scale the group up from 0 nodes:
    // with none running it has no node to read the label, the taint and the GPUs from.
    const nodeTemplate: Record<string, string> = {
      [`${ca}/node-template/label/${POOL_LABEL}`]: s.poolLabel,
      ...(s.gpu
        ? {
            [`${ca}/node-template/taint/${taint.key}`]: `${taint.value}:${taint.effect}`,
            [`${ca}/node-template/resources/nvidia.com/gpu`]: String(s.gpu.count),
          }
        : {}),
    };
    this.nodeGroup = new EksNodeGroup(this, 'nodes', {
      clusterName: props.cluster.cluster.name,
      nodeGroupName: props.name,
      nodeRoleArn: props.cluster.nodeRole.arn,
      subnetIds: props.cluster.network.privateSubnets.map((sn) => sn.id),
      amiType: s.gpu ? 'AL2023_x86_64_NVIDIA' : 'AL2023_x86_64_STANDARD',
      capacityType: s.spot ? 'SPOT' : 'ON_DEMAND',
      instanceTypes: [s.machineType],
      diskSize: s.diskSizeGiB,
      scalingConfig: { minSize: s.minNodes, maxSize: s.maxNodes, desiredSize: s.minNodes },
      updateConfig: { maxUnavailable: 1 },
      labels: { [POOL_LABEL]: s.poolLabel },
      ...(s.gpu ? { taint: [{ key: taint.key, value: taint.value, effect: taint.cloudEffect }] } : {}),
      tags: { [`${ca}/enabled`]: 'true', [`${ca}/${props.cluster.name}`]: 'owned', ...nodeTemplate },
      lifecycle: { ignoreChanges: ['scaling_config[0].desired_size'] },
      dependsOn: props.cluster.nodeRolePolicies,
    });
    // EKS tags the group's Auto Scaling group with the two auto-discovery tags itself, but not with a node
    // group's own tags, and the autoscaler reads node templates from the Auto Scaling group: copy them there.
    const asgName = this.nodeGroup.resources.get(0).autoscalingGroups.get(0).name;
    this.autoscalingGroupTags = Object.entries(nodeTemplate).map(
      ([key, value]) =>
        new AutoscalingGroupTag(this, `asg-tag-${key.slice(ca.length + 1).replace(/[^a-zA-Z0-9-]/g, '-')}`, {
          autoscalingGroupName: asgName,
          tag: { key, value, propagateAtLaunch: false },
        }),
    );
  }
}

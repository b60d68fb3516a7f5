import { EksAddon } from '@cdktf/provider-aws/lib/eks-addon/index.js';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role/index.js';
import { IamRolePolicyAttachment } from '@cdktf/provider-aws/lib/iam-role-policy-attachment/index.js';
import type { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';
import { guardUniqueCloudNames } from '../unique-names.js';
import type { EksKubeCluster } from './cluster.js';
import { irsaTrustPolicy } from './identity.js';

export interface EksEbsCsiDriverProps {
  readonly cluster: EksKubeCluster;
  /** Lab name; the driver's IAM role is `<name>-ebs-csi`. */
  readonly name: string;
  /**
   * What the add-on waits for: a node group its controller can run on. Created before any node exists, the
   * add-on stays DEGRADED and `terraform apply` times out waiting for it to become ACTIVE.
   */
  readonly dependsOn: readonly ITerraformDependable[];
  /** @default - the add-on's default version for the cluster's Kubernetes version */
  readonly addonVersion?: string;
}

/** The ServiceAccount the add-on's controller runs as (fixed by the add-on). */
export const EBS_CSI_SERVICE_ACCOUNT = { namespace: 'kube-system', name: 'ebs-csi-controller-sa' } as const;

/**
 * The Amazon EBS CSI driver as an EKS add-on (`aws-ebs-csi-driver`), with an IRSA role trusted by its controller's
 * ServiceAccount `kube-system/ebs-csi-controller-sa` alone and holding AWS's managed
 * `service-role/AmazonEBSCSIDriverPolicy`. EKS has no in-tree EBS provisioner from 1.27 and no default
 * StorageClass from 1.30: without the driver no PersistentVolumeClaim binds (Redis's `kiosk-gp3` class needs it).
 */
export class EksEbsCsiDriver extends Construct {
  readonly role: IamRole;
  readonly addon: EksAddon;

  constructor(scope: Construct, id: string, props: EksEbsCsiDriverProps) {
    super(scope, id);
    guardUniqueCloudNames(this);
    const sa = EBS_CSI_SERVICE_ACCOUNT;
    const trust = irsaTrustPolicy(this, 'trust', props.cluster, sa.namespace, sa.name);
    this.role = new IamRole(this, 'role', { name: `${props.name}-ebs-csi`, assumeRolePolicy: trust.json });
    const policy = new IamRolePolicyAttachment(this, 'policy', {
      role: this.role.name,
      policyArn: 'arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy',
    });
    this.addon = new EksAddon(this, 'addon', {
      clusterName: props.cluster.cluster.name,
      addonName: 'aws-ebs-csi-driver',
      ...(props.addonVersion ? { addonVersion: props.addonVersion } : {}),
      serviceAccountRoleArn: this.role.arn,
      // A driver someone installed by hand (Helm) before is taken over rather than failing the apply.
      resolveConflictsOnCreate: 'OVERWRITE',
      resolveConflictsOnUpdate: 'OVERWRITE',
      dependsOn: [policy, ...props.dependsOn],
    });
  }
}

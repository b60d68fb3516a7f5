import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document/index.js';
import { EksCluster } from '@cdktf/provider-aws/lib/eks-cluster/index.js';
import { IamOpenidConnectProvider } from '@cdktf/provider-aws/lib/iam-openid-connect-provider/index.js';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role/index.js';
import { IamRolePolicyAttachment } from '@cdktf/provider-aws/lib/iam-role-policy-attachment/index.js';
import { Fn } from 'cdktf';
import { Construct } from 'constructs';
import { EKS_KUBERNETES_VERSION } from './addons.js';
import type { EksNetwork } from './network.js';

export interface EksKubeClusterProps {
  /** Cluster name and prefix of its IAM roles. */
  readonly name: string;
  readonly region: string;
  readonly network: EksNetwork;
  /**
   * Kubernetes version; keep the cluster-autoscaler image (`CLUSTER_AUTOSCALER_IMAGE_TAG`) on the same minor.
   * @default EKS_KUBERNETES_VERSION
   */
  readonly kubernetesVersion?: string;
  /** CIDRs allowed to reach the public API endpoint. @default - any address (IAM auth still required) */
  readonly publicAccessCidrs?: readonly string[];
  /** Refuse `terraform destroy` of the cluster. @default true */
  readonly deletionProtection?: boolean;
}

/** A role that `service` (e.g. `eks.amazonaws.com`) may assume, with AWS-managed policies attached. */
function serviceRole(
  scope: Construct,
  id: string,
  name: string,
  service: string,
  policies: string[],
): { role: IamRole; attachments: IamRolePolicyAttachment[] } {
  const trust = new DataAwsIamPolicyDocument(scope, `${id}-trust`, {
    statement: [{ actions: ['sts:AssumeRole'], principals: [{ type: 'Service', identifiers: [service] }] }],
  });
  const role = new IamRole(scope, id, { name, assumeRolePolicy: trust.json });
  const attachments = policies.map(
    (policy) =>
      new IamRolePolicyAttachment(scope, `${id}-${policy}`, {
        role: role.name,
        policyArn: `arn:aws:iam::aws:policy/${policy}`,
      }),
  );
  return { role, attachments };
}

/**
 * An EKS cluster with IRSA: the cluster's OIDC issuer is registered as an IAM identity provider, so
 * `EksIrsaRole`s can trust exactly one Kubernetes ServiceAccount each. Access entries (`authenticationMode:
 * API`) instead of the aws-auth ConfigMap; control-plane audit logs on; nodes in private subnets with a node
 * role holding only the three policies EKS nodes need (worker, CNI, ECR read-only).
 */
export class EksKubeCluster extends Construct {
  readonly cluster: EksCluster;
  readonly nodeRole: IamRole;
  /** The node role's policy attachments: node groups must wait for them or their nodes never join. */
  readonly nodeRolePolicies: IamRolePolicyAttachment[];
  readonly oidcProvider: IamOpenidConnectProvider;
  /** The OIDC issuer without `https://`, as IAM condition keys want it (a Terraform expression). */
  readonly oidcIssuerHostPath: string;
  readonly name: string;
  readonly network: EksNetwork;
  /** Command that writes this cluster's credentials into ~/.kube/config. */
  readonly credentialsCommand: string;

  constructor(scope: Construct, id: string, props: EksKubeClusterProps) {
    super(scope, id);
    this.name = props.name;
    this.network = props.network;
    this.credentialsCommand = `aws eks update-kubeconfig --name ${props.name} --region ${props.region}`;
    const clusterRole = serviceRole(this, 'cluster-role', `${props.name}-eks-cluster`, 'eks.amazonaws.com', [
      'AmazonEKSClusterPolicy',
    ]);
    const nodeRole = serviceRole(this, 'node-role', `${props.name}-eks-nodes`, 'ec2.amazonaws.com', [
      'AmazonEKSWorkerNodePolicy',
      'AmazonEKS_CNI_Policy',
      'AmazonEC2ContainerRegistryReadOnly',
    ]);
    this.nodeRole = nodeRole.role;
    this.nodeRolePolicies = nodeRole.attachments;
    this.cluster = new EksCluster(this, 'cluster', {
      name: props.name,
      roleArn: clusterRole.role.arn,
      version: props.kubernetesVersion ?? EKS_KUBERNETES_VERSION,
      deletionProtection: props.deletionProtection ?? true,
      accessConfig: { authenticationMode: 'API', bootstrapClusterCreatorAdminPermissions: true },
      enabledClusterLogTypes: ['audit'],
      vpcConfig: {
        subnetIds: props.network.privateSubnets.map((s) => s.id),
        endpointPrivateAccess: true,
        endpointPublicAccess: true,
        ...(props.publicAccessCidrs ? { publicAccessCidrs: [...props.publicAccessCidrs] } : {}),
      },
      // The cluster role's policy must be attached before EKS uses the role (and detached only after delete).
      dependsOn: clusterRole.attachments,
    });
    const issuer = this.cluster.identity.get(0).oidc.get(0).issuer;
    this.oidcIssuerHostPath = Fn.replace(issuer, 'https://', '');
    this.oidcProvider = new IamOpenidConnectProvider(this, 'oidc', {
      url: issuer,
      clientIdList: ['sts.amazonaws.com'],
    });
  }
}

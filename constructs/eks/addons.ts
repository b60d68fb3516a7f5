import { IamRole } from '@cdktf/provider-aws/lib/iam-role/index.js';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy/index.js';
import { Fn, type ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';
import { POOL_LABEL } from '../node-pool-props.js';
import { guardUniqueCloudNames } from '../unique-names.js';
import type { EksKubeCluster } from './cluster.js';
import { HelmProvider, HelmRelease } from './helm.js';
import { irsaTrustPolicy } from './identity.js';

/**
 * Kubernetes minor version the EKS cluster runs (`EksKubeCluster`'s default) and the cluster-autoscaler image
 * must match: the autoscaler's minor version follows the cluster's.
 */
export const EKS_KUBERNETES_VERSION = '1.33';
/** cluster-autoscaler release for `EKS_KUBERNETES_VERSION`. */
export const CLUSTER_AUTOSCALER_IMAGE_TAG = 'v1.33.0';
/** Helm chart `cluster-autoscaler` of https://kubernetes.github.io/autoscaler (pinned). */
export const CLUSTER_AUTOSCALER_CHART_VERSION = '9.43.1';
/** Helm chart `aws-load-balancer-controller` of https://aws.github.io/eks-charts (pinned; controller v2.13). */
export const LOAD_BALANCER_CONTROLLER_CHART_VERSION = '1.13.0';

type Statement = { Effect: 'Allow'; Action: string[]; Resource: string | string[]; Condition?: unknown };
const policy = (statements: Statement[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });

/**
 * What the cluster-autoscaler may do (its AWS provider's documented minimum): read Auto Scaling groups, launch
 * templates, instance types and managed node groups (to learn a group's labels, taints and GPUs when it has no
 * node to look at), and change the size of / terminate instances in only the groups tagged
 * `k8s.io/cluster-autoscaler/<cluster>=owned` (EKS tags a managed node group's Auto Scaling group so).
 */
export function clusterAutoscalerPolicy(clusterName: string): string {
  return policy([
    {
      Effect: 'Allow',
      Action: ['autoscaling:SetDesiredCapacity', 'autoscaling:TerminateInstanceInAutoScalingGroup'],
      Resource: '*',
      Condition: { StringEquals: { [`aws:ResourceTag/k8s.io/cluster-autoscaler/${clusterName}`]: 'owned' } },
    },
    {
      Effect: 'Allow',
      Action: [
        'autoscaling:DescribeAutoScalingGroups',
        'autoscaling:DescribeAutoScalingInstances',
        'autoscaling:DescribeLaunchConfigurations',
        'autoscaling:DescribeScalingActivities',
        'ec2:DescribeImages',
        'ec2:DescribeInstanceTypes',
        'ec2:DescribeLaunchTemplateVersions',
        'ec2:GetInstanceTypesFromInstanceRequirements',
        'eks:DescribeNodegroup',
      ],
      Resource: '*',
    },
  ]);
}

/**
 * What the AWS Load Balancer Controller needs to run the kiosk's ALB, and no more: it reads the VPC, subnets,
 * security groups, instances and ACM certificates (certificate discovery); it creates load balancers, target
 * groups and security groups only with its cluster tag (`elbv2.k8s.aws/cluster`) and modifies or deletes only those carrying it. WAF, Shield and Cognito are left out: the release turns
 * those features off (`enableWaf`, `enableWafv2`, `enableShield`), and the chart's Ingress uses no Cognito
 * auth. Written after the controller's published policy (docs/install/iam_policy.json), less those features.
 */
export function loadBalancerControllerPolicy(): string {
  const taggedByController = { Null: { 'aws:ResourceTag/elbv2.k8s.aws/cluster': 'false' } };
  return policy([
    {
      Effect: 'Allow',
      Action: ['iam:CreateServiceLinkedRole'],
      Resource: '*',
      Condition: { StringEquals: { 'iam:AWSServiceName': 'elasticloadbalancing.amazonaws.com' } },
    },
    {
      Effect: 'Allow',
      Action: [
        'ec2:DescribeAccountAttributes',
        'ec2:DescribeAddresses',
        'ec2:DescribeAvailabilityZones',
        'ec2:DescribeInternetGateways',
        'ec2:DescribeVpcs',
        'ec2:DescribeVpcPeeringConnections',
        'ec2:DescribeSubnets',
        'ec2:DescribeSecurityGroups',
        'ec2:DescribeInstances',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeTags',
        'ec2:DescribeRouteTables',
        'ec2:GetSecurityGroupsForVpc',
        'elasticloadbalancing:DescribeLoadBalancers',
        'elasticloadbalancing:DescribeLoadBalancerAttributes',
        'elasticloadbalancing:DescribeListeners',
        'elasticloadbalancing:DescribeListenerCertificates',
        'elasticloadbalancing:DescribeListenerAttributes',
        'elasticloadbalancing:DescribeSSLPolicies',
        'elasticloadbalancing:DescribeRules',
        'elasticloadbalancing:DescribeTargetGroups',
        'elasticloadbalancing:DescribeTargetGroupAttributes',
        'elasticloadbalancing:DescribeTargetHealth',
        'elasticloadbalancing:DescribeTags',
        'elasticloadbalancing:DescribeTrustStores',
        'acm:ListCertificates',
        'acm:DescribeCertificate',
      ],
      Resource: '*',
    },
    // Security groups: the ALB's own (created with the cluster tag) and ingress rules on the nodes' group.
    { Effect: 'Allow', Action: ['ec2:CreateSecurityGroup'], Resource: '*' },
    {
      Effect: 'Allow',
      Action: ['ec2:CreateTags'],
      Resource: 'arn:aws:ec2:*:*:security-group/*',
      Condition: {
        StringEquals: { 'ec2:CreateAction': 'CreateSecurityGroup' },
        Null: { 'aws:RequestTag/elbv2.k8s.aws/cluster': 'false' },
      },
    },
    {
      Effect: 'Allow',
      Action: ['ec2:CreateTags', 'ec2:DeleteTags'],
      Resource: 'arn:aws:ec2:*:*:security-group/*',
      Condition: {
        Null: {
          'aws:RequestTag/elbv2.k8s.aws/cluster': 'true',
          'aws:ResourceTag/elbv2.k8s.aws/cluster': 'false',
        },
      },
    },
    {
      Effect: 'Allow',
      Action: ['ec2:AuthorizeSecurityGroupIngress', 'ec2:RevokeSecurityGroupIngress'],
      Resource: '*',
    },
    { Effect: 'Allow', Action: ['ec2:DeleteSecurityGroup'], Resource: '*', Condition: taggedByController },
    // Load balancers and target groups: created only with the cluster tag, changed only when they carry it.
    {
      Effect: 'Allow',
      Action: ['elasticloadbalancing:CreateLoadBalancer', 'elasticloadbalancing:CreateTargetGroup'],
      Resource: '*',
      Condition: { Null: { 'aws:RequestTag/elbv2.k8s.aws/cluster': 'false' } },
    },
    {
      Effect: 'Allow',
      Action: ['elasticloadbalancing:AddTags'],
      Resource: [
        'arn:aws:elasticloadbalancing:*:*:targetgroup/*/*',
        'arn:aws:elasticloadbalancing:*:*:loadbalancer/net/*/*',
        'arn:aws:elasticloadbalancing:*:*:loadbalancer/app/*/*',
      ],
      Condition: {
        StringEquals: { 'elasticloadbalancing:CreateAction': ['CreateTargetGroup', 'CreateLoadBalancer'] },
        Null: { 'aws:RequestTag/elbv2.k8s.aws/cluster': 'false' },
      },
    },
    {
      Effect: 'Allow',
      Action: ['elasticloadbalancing:AddTags', 'elasticloadbalancing:RemoveTags'],
      Resource: [
        'arn:aws:elasticloadbalancing:*:*:targetgroup/*/*',
        'arn:aws:elasticloadbalancing:*:*:loadbalancer/net/*/*',
        'arn:aws:elasticloadbalancing:*:*:loadbalancer/app/*/*',
      ],
      Condition: {
        Null: {
          'aws:RequestTag/elbv2.k8s.aws/cluster': 'true',
          'aws:ResourceTag/elbv2.k8s.aws/cluster': 'false',
        },
      },
    },
    {
      Effect: 'Allow',
      Action: [
        'elasticloadbalancing:ModifyLoadBalancerAttributes',
        'elasticloadbalancing:SetIpAddressType',
        'elasticloadbalancing:SetSecurityGroups',
        'elasticloadbalancing:SetSubnets',
        'elasticloadbalancing:DeleteLoadBalancer',
        'elasticloadbalancing:ModifyTargetGroup',
        'elasticloadbalancing:ModifyTargetGroupAttributes',
        'elasticloadbalancing:DeleteTargetGroup',
        'elasticloadbalancing:ModifyListenerAttributes',
      ],
      Resource: '*',
      Condition: taggedByController,
    },
    {
      Effect: 'Allow',
      Action: ['elasticloadbalancing:RegisterTargets', 'elasticloadbalancing:DeregisterTargets'],
      Resource: 'arn:aws:elasticloadbalancing:*:*:targetgroup/*/*',
    },
    // Listeners and rules of its load balancers (they carry no tag of their own).
    {
      Effect: 'Allow',
      Action: [
        'elasticloadbalancing:CreateListener',
        'elasticloadbalancing:DeleteListener',
        'elasticloadbalancing:CreateRule',
        'elasticloadbalancing:DeleteRule',
        'elasticloadbalancing:ModifyListener',
        'elasticloadbalancing:AddListenerCertificates',
        'elasticloadbalancing:RemoveListenerCertificates',
        'elasticloadbalancing:ModifyRule',
      ],
      Resource: '*',
    },
  ]);
}

export interface EksClusterAddonsProps {
  readonly cluster: EksKubeCluster;
  /** Lab name: the IAM roles are `<name>-cluster-autoscaler` and `<name>-lb-controller`. */
  readonly name: string;
  readonly region: string;
  /**
   * What the releases wait for: a node group their pods can run on (the CPU pool) and its role's policies.
   */
  readonly dependsOn: readonly ITerraformDependable[];
}

/** The ServiceAccounts the two controllers run as (kube-system), each the only one its IRSA role trusts. */
export const CLUSTER_AUTOSCALER_SERVICE_ACCOUNT = 'cluster-autoscaler';
export const LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT = 'aws-load-balancer-controller';

/**
 * The two controllers an EKS cluster lacks and the kiosk needs, as Helm releases in kube-system (through a
 * `helm` provider of this cluster, aliased `<name>`, authenticated with `aws eks get-token` as the identity
 * running Terraform, which created the cluster and so is its admin):
 * - cluster-autoscaler (auto-discovery of this cluster's node groups; with the node-template tags
 *   `EksNodePool` puts on the Auto Scaling groups it starts the GPU pool from 0 for a pending pod that asks
 *   for `nvidia.com/gpu`), IAM role `<name>-cluster-autoscaler` with `clusterAutoscalerPolicy`;
 * - AWS Load Balancer Controller (serves the chart's `alb` Ingress and its HTTPS listener), IAM role
 *   `<name>-lb-controller` with `loadBalancerControllerPolicy`.
 * Both run on the CPU pool (`kiosk.io/pool=cpu`), each role trusted by its ServiceAccount alone (IRSA).
 */
export class EksClusterAddons extends Construct {
  readonly helm: HelmProvider;
  readonly clusterAutoscaler: HelmRelease;
  readonly clusterAutoscalerRole: IamRole;
  readonly loadBalancerController: HelmRelease;
  readonly loadBalancerControllerRole: IamRole;

  constructor(scope: Construct, id: string, props: EksClusterAddonsProps) {
    super(scope, id);
    guardUniqueCloudNames(this);
    const { cluster } = props;
    this.helm = new HelmProvider(this, 'helm', {
      alias: props.name,
      host: cluster.cluster.endpoint,
      clusterCaCertificate: Fn.base64decode(cluster.cluster.certificateAuthority.get(0).data),
      exec: {
        command: 'aws',
        args: ['eks', 'get-token', '--cluster-name', cluster.cluster.name, '--region', props.region],
      },
    });
    const irsaRole = (roleId: string, roleName: string, serviceAccount: string, policyJson: string) => {
      const trust = irsaTrustPolicy(this, `${roleId}-trust`, cluster, 'kube-system', serviceAccount);
      const role = new IamRole(this, `${roleId}-role`, { name: roleName, assumeRolePolicy: trust.json });
      const inline = new IamRolePolicy(this, `${roleId}-policy`, {
        role: role.name,
        name: roleId,
        policy: policyJson,
      });
      return { role, inline };
    };
    const onCpuPool = { nodeSelector: { [POOL_LABEL]: 'cpu' } };

    const ca = irsaRole(
      'cluster-autoscaler',
      `${props.name}-cluster-autoscaler`,
      CLUSTER_AUTOSCALER_SERVICE_ACCOUNT,
      clusterAutoscalerPolicy(cluster.name),
    );
    this.clusterAutoscalerRole = ca.role;
    this.clusterAutoscaler = new HelmRelease(this, 'cluster-autoscaler', {
      provider: this.helm,
      name: 'cluster-autoscaler',
      namespace: 'kube-system',
      repository: 'https://kubernetes.github.io/autoscaler',
      chart: 'cluster-autoscaler',
      version: CLUSTER_AUTOSCALER_CHART_VERSION,
      values: [
        Fn.jsonencode({
          cloudProvider: 'aws',
          awsRegion: props.region,
          autoDiscovery: { clusterName: cluster.cluster.name },
          image: { tag: CLUSTER_AUTOSCALER_IMAGE_TAG },
          rbac: {
            serviceAccount: {
              name: CLUSTER_AUTOSCALER_SERVICE_ACCOUNT,
              annotations: { 'eks.amazonaws.com/role-arn': ca.role.arn },
            },
          },
          extraArgs: {
            // Node groups alike but for their zone scale together; the cheapest fit wins.
            'balance-similar-node-groups': true,
            expander: 'least-waste',
            // A GPU node with no GPU pod left goes after 10 minutes (the default), not sooner.
            'scale-down-unneeded-time': '10m',
          },
          ...onCpuPool,
        }),
      ],
      dependsOn: [ca.inline, ...props.dependsOn],
    });

    const lbc = irsaRole(
      'lb-controller',
      `${props.name}-lb-controller`,
      LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT,
      loadBalancerControllerPolicy(),
    );
    this.loadBalancerControllerRole = lbc.role;
    this.loadBalancerController = new HelmRelease(this, 'aws-load-balancer-controller', {
      provider: this.helm,
      name: 'aws-load-balancer-controller',
      namespace: 'kube-system',
      repository: 'https://aws.github.io/eks-charts',
      chart: 'aws-load-balancer-controller',
      version: LOAD_BALANCER_CONTROLLER_CHART_VERSION,
      values: [
        Fn.jsonencode({
          clusterName: cluster.cluster.name,
          region: props.region,
          vpcId: cluster.network.vpc.id,
          serviceAccount: {
            create: true,
            name: LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT,
            annotations: { 'eks.amazonaws.com/role-arn': lbc.role.arn },
          },
          enableShield: false,
          enableWaf: false,
          enableWafv2: false,
          ...onCpuPool,
        }),
      ],
      dependsOn: [lbc.inline, ...props.dependsOn],
    });
  }
}

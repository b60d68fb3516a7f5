import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document/index.js';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role/index.js';
import { Construct } from 'constructs';
import { awsRoleName } from '../identity-names.js';
import { serviceAccountName, type KioskRole } from '../roles.js';
import { guardUniqueCloudNames } from '../unique-names.js';
import { KioskConfigError } from '../validation.js';
import type { EksKubeCluster } from './cluster.js';

export interface EksIrsaRoleProps {
  readonly cluster: EksKubeCluster;
  /** Lab name; the role is named `<name>-kiosk-<role>` unless `roleName` says otherwise. */
  readonly name: string;
  readonly role: KioskRole;
  /**
   * The IAM role's name (1..64 of letters, digits and `+=,.@_-`). Give one when the stack holds another role
   * of the same lab name and kiosk role (the `KioskCluster`'s own): IAM role names are unique per account,
   * so synth refuses two alike (`guardUniqueCloudNames`).
   * @default - `<name>-kiosk-<role>` (`awsRoleName`), what the chart's ServiceAccount annotations name
   */
  readonly roleName?: string;
  /** Kubernetes namespace of the only ServiceAccount allowed to assume the role. */
  readonly namespace: string;
}

/** Who an S3 grant is for: an IAM role to attach inline policies to. */
export interface AwsGrantee {
  readonly role: IamRole;
  /** Stable id fragment used to name the grant resources (unique among a bucket's grantees). */
  readonly grantId: string;
}

/**
 * The trust policy of an IRSA role: `sts:AssumeRoleWithWebIdentity` through the cluster's OIDC provider, for the
 * one ServiceAccount `<namespace>/<serviceAccount>` with audience `sts.amazonaws.com`.
 */
export function irsaTrustPolicy(
  scope: Construct,
  id: string,
  cluster: EksKubeCluster,
  namespace: string,
  serviceAccount: string,
): DataAwsIamPolicyDocument {
  const issuer = cluster.oidcIssuerHostPath;
  return new DataAwsIamPolicyDocument(scope, id, {
    statement: [
      {
        actions: ['sts:AssumeRoleWithWebIdentity'],
        principals: [{ type: 'Federated', identifiers: [cluster.oidcProvider.arn] }],
        condition: [
          {
            test: 'StringEquals',
            variable: `${issuer}:sub`,
            values: [`system:serviceaccount:${namespace}:${serviceAccount}`],
          },
          { test: 'StringEquals', variable: `${issuer}:aud`, values: ['sts.amazonaws.com'] },
        ],
      },
    ],
  });
}

/**
 * An IAM role for one kiosk role, assumable only through the cluster's OIDC provider by the ServiceAccount
 * `<namespace>/kiosk-<role>` with audience `sts.amazonaws.com` (IRSA). It has no policies of its own; grant
 * it bucket prefixes with `S3KioskBucket.grant*`.
 */
export class EksIrsaRole extends Construct implements AwsGrantee {
  readonly role: IamRole;
  readonly grantId: string;

  constructor(scope: Construct, id: string, props: EksIrsaRoleProps) {
    super(scope, id);
    const roleName = props.roleName ?? awsRoleName(props.name, props.role);
    if (!/^[\w+=,.@-]{1,64}$/.test(roleName)) {
      throw new KioskConfigError(`'roleName' ('${roleName}') must be 1..64 letters, digits or +=,.@_-`);
    }
    guardUniqueCloudNames(this);
    this.grantId = props.roleName ?? props.role;
    const trust = irsaTrustPolicy(
      this,
      'trust',
      props.cluster,
      props.namespace,
      serviceAccountName(props.role),
    );
    this.role = new IamRole(this, 'role', {
      name: roleName,
      assumeRolePolicy: trust.json,
    });
  }

  /** The role's ARN (a Terraform reference). */
  get arn(): string {
    return this.role.arn;
  }
}

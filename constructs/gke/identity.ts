import { ServiceAccount } from '@cdktf/provider-google/lib/service-account/index.js';
import { ServiceAccountIamMember } from '@cdktf/provider-google/lib/service-account-iam-member/index.js';
import { Construct } from 'constructs';
import { gcpServiceAccountId } from '../identity-names.js';
import { serviceAccountName, type KioskRole } from '../roles.js';
import { guardUniqueCloudNames } from '../unique-names.js';
import { KioskConfigError } from '../validation.js';
import type { GkeCluster } from './cluster.js';

export interface GkeWorkloadIdentityProps {
  /**
   * The cluster whose pods act as this identity. Its creation makes the project's workload identity pool
   * (`<project>.svc.id.goog`) exist, so the binding waits for it: made earlier, on a project that never had
   * such a cluster, IAM refuses it ("Identity Pool does not exist").
   */
  readonly cluster: GkeCluster;
  readonly project: string;
  /** Lab name; the service account id is `<name>-<short role>` unless `serviceAccountId` says otherwise. */
  readonly name: string;
  readonly role: KioskRole;
  /**
   * The service account id (6..30 lowercase letters, digits, '-'). Give one when the stack holds another
   * identity of the same lab name and role (the `KioskCluster`'s own: `<name>-api` etc.): two service accounts
   * with one id fail at apply, so synth refuses them (`guardUniqueCloudNames`).
   * @default - `<name>-<short role>` (`gcpServiceAccountId`), what the chart's ServiceAccount annotations name
   */
  readonly serviceAccountId?: string;
  /** Kubernetes namespace of the ServiceAccount allowed to act as this identity. */
  readonly namespace: string;
  /** Let the identity sign blobs as itself (V4 signed URLs for downloads). @default false */
  readonly allowSignBlob?: boolean;
}

/** Who a bucket grant is for: an IAM member string such as `serviceAccount:x@p.iam.gserviceaccount.com`. */
export interface GcpGrantee {
  readonly member: string;
  /** Stable id fragment used to name the grant resources (unique among a bucket's grantees). */
  readonly grantId: string;
}

/**
 * A Google service account for one kiosk role, usable only by the Kubernetes ServiceAccount
 * `<namespace>/kiosk-<role>` (workload identity: `roles/iam.workloadIdentityUser` on
 * `serviceAccount:<project>.svc.id.goog[<namespace>/kiosk-<role>]`). It holds no project roles; grant it
 * bucket prefixes with `GcsBucket.grant*`.
 */
export class GkeWorkloadIdentity extends Construct implements GcpGrantee {
  readonly serviceAccount: ServiceAccount;
  readonly member: string;
  readonly grantId: string;

  constructor(scope: Construct, id: string, props: GkeWorkloadIdentityProps) {
    super(scope, id);
    const accountId = props.serviceAccountId ?? gcpServiceAccountId(props.name, props.role);
    if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(accountId)) {
      throw new KioskConfigError(
        `'serviceAccountId' ('${accountId}') must be 6..30 lowercase letters, digits or '-', start with a letter and end with a letter or digit`,
      );
    }
    guardUniqueCloudNames(this);
    // The role alone names the kiosk's own grants (`api results-read`); an identity with an id of its own
    // grants under that id, so it can share a bucket with the kiosk identity of the same role.
    this.grantId = props.serviceAccountId ?? props.role;
    this.serviceAccount = new ServiceAccount(this, 'sa', {
      accountId,
      displayName: `cellkiosk ${props.name} ${props.role}`,
      project: props.project,
    });
    this.member = this.serviceAccount.member;
    const ksa = `serviceAccount:${props.project}.svc.id.goog[${props.namespace}/${serviceAccountName(props.role)}]`;
    new ServiceAccountIamMember(this, 'workload-identity', {
      serviceAccountId: this.serviceAccount.name,
      role: 'roles/iam.workloadIdentityUser',
      member: ksa,
      dependsOn: [props.cluster.cluster],
    });
    if (props.allowSignBlob) {
      new ServiceAccountIamMember(this, 'sign-blob', {
        serviceAccountId: this.serviceAccount.name,
        role: 'roles/iam.serviceAccountTokenCreator',
        member: this.serviceAccount.member,
      });
    }
  }

  /** The service account's e-mail (a Terraform reference). */
  get email(): string {
    return this.serviceAccount.email;
  }
}

import type { KioskRole } from './roles.js';

/**
 * Cloud identity names are derived, not generated, so the Terraform side (which creates them) and the
 * Kubernetes side (which annotates ServiceAccounts with them, in a separate synth) always agree.
 */

const SHORT: Readonly<Record<KioskRole, string>> = {
  api: 'api',
  'cpu-worker': 'cpu',
  'gpu-worker': 'gpu',
  trainer: 'train',
  autoscaler: 'scale',
};

/** GCP service-account id (6..30 chars) for a role: `<name>-<short role>`, e.g. `lab1-gpu`. */
export function gcpServiceAccountId(name: string, role: KioskRole): string {
  return `${name}-${SHORT[role]}`;
}

/** The e-mail GCP assigns that service account: `<id>@<project>.iam.gserviceaccount.com`. */
export function gcpServiceAccountEmail(project: string, name: string, role: KioskRole): string {
  return `${gcpServiceAccountId(name, role)}@${project}.iam.gserviceaccount.com`;
}

/** IAM role name for a role's IRSA role: `<name>-kiosk-<role>`. */
export function awsRoleName(name: string, role: KioskRole): string {
  return `${name}-kiosk-${role}`;
}

/** The ARN AWS assigns that role in `accountId`. */
export function awsRoleArn(accountId: string, name: string, role: KioskRole): string {
  return `arn:aws:iam::${accountId}:role/${awsRoleName(name, role)}`;
}

/** Where to find a role's cloud identity, for the ServiceAccount annotation. */
export type IdentityTarget =
  | { readonly provider: 'gke'; readonly project: string; readonly name: string }
  | { readonly provider: 'eks'; readonly accountId: string; readonly name: string };

/**
 * The annotations that bind a Kubernetes ServiceAccount to the role's cloud identity:
 * GKE workload identity `iam.gke.io/gcp-service-account`, EKS IRSA `eks.amazonaws.com/role-arn`.
 */
export function workloadIdentityAnnotations(target: IdentityTarget, role: KioskRole): Record<string, string> {
  return target.provider === 'gke'
    ? { 'iam.gke.io/gcp-service-account': gcpServiceAccountEmail(target.project, target.name, role) }
    : { 'eks.amazonaws.com/role-arn': awsRoleArn(target.accountId, target.name, role) };
}

/**
 * Name of the global static IP the GKE load balancer of a lab with a domain takes: `<name>-web`. The stack
 * creates it (`KioskCluster`, output `web_address`), the chart's Ingress names it.
 */
export function webAddressName(name: string): string {
  return `${name}-web`;
}

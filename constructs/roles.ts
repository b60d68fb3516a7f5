/**
 * The kiosk's workload roles and the least bucket access each one needs. Both clouds' identity constructs
 * and the Kubernetes chart read this one table, so a grant can't drift between GKE, EKS and the pods.
 */

/** A kiosk workload that runs under its own cloud identity and Kubernetes ServiceAccount. */
export type KioskRole = 'api' | 'cpu-worker' | 'gpu-worker' | 'trainer' | 'autoscaler';

/** Every role, in a fixed order (construct ids and output order depend on it). */
export const KIOSK_ROLES: readonly KioskRole[] = ['api', 'cpu-worker', 'gpu-worker', 'trainer', 'autoscaler'];

/** Object access on one key prefix of the bucket. `write` is create/overwrite; `readWrite` adds read and delete. */
export type BucketAccess = 'read' | 'write' | 'readWrite';

/** One grant: an access level on the objects under `prefix` (ends with `/`). */
export interface PrefixGrant {
  readonly prefix: string;
  readonly access: BucketAccess;
}

/**
 * Who may touch which prefix (see DESIGN.md's bucket layout):
 * - api: writes uploads, reads them back for previews, reads results to sign downloads, reads the model registry.
 * - cpu-worker: reads uploads, writes and re-reads intermediate and final results, reads models.
 * - gpu-worker: reads tiles and writes raw maps under results/, reads models.
 * - trainer: reads uploaded training data, publishes models.
 * - autoscaler: nothing on the bucket (it reads queue depth from Redis and scales Deployments).
 */
export const ROLE_BUCKET_GRANTS: Readonly<Record<KioskRole, readonly PrefixGrant[]>> = {
  api: [
    { prefix: 'uploads/', access: 'readWrite' },
    { prefix: 'results/', access: 'read' },
    { prefix: 'models/', access: 'read' },
  ],
  'cpu-worker': [
    { prefix: 'uploads/', access: 'read' },
    { prefix: 'results/', access: 'readWrite' },
    { prefix: 'models/', access: 'read' },
  ],
  'gpu-worker': [
    { prefix: 'results/', access: 'readWrite' },
    { prefix: 'models/', access: 'read' },
  ],
  trainer: [
    { prefix: 'uploads/', access: 'read' },
    { prefix: 'models/', access: 'readWrite' },
  ],
  autoscaler: [],
};

/** The Kubernetes ServiceAccount name a role's pods run as (the cloud identity is bound to exactly this name). */
export function serviceAccountName(role: KioskRole): string {
  return `kiosk-${role}`;
}

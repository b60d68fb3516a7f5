import { k8s } from 'cdk8s-plus-34';
import { requireIntInRange } from '../validation.js';

/** Requests and limits of one container; units are in the names. */
export interface ComputeResources {
  /** CPU request in millicores (1000 = one core). */
  readonly cpuMillis: number;
  /** Memory request in MiB. */
  readonly memoryMiB: number;
  /** CPU limit in millicores. @default - twice `cpuMillis` */
  readonly cpuLimitMillis?: number;
  /** Memory limit in MiB. @default - `memoryMiB` (memory is not overcommitted) */
  readonly memoryLimitMiB?: number;
}

/** Renders requests/limits; `extraLimits` adds e.g. `nvidia.com/gpu`. Throws on limits below requests. */
export function resourceRequirements(
  prop: string,
  r: ComputeResources,
  extraLimits: Record<string, k8s.Quantity> = {},
): k8s.ResourceRequirements {
  const cpuLimit = r.cpuLimitMillis ?? 2 * r.cpuMillis;
  const memLimit = r.memoryLimitMiB ?? r.memoryMiB;
  requireIntInRange(`${prop}.cpuMillis`, r.cpuMillis, 10, 256_000);
  requireIntInRange(`${prop}.memoryMiB`, r.memoryMiB, 16, 4_096_000);
  requireIntInRange(`${prop}.cpuLimitMillis`, cpuLimit, r.cpuMillis, 256_000);
  requireIntInRange(`${prop}.memoryLimitMiB`, memLimit, r.memoryMiB, 4_096_000);
  return {
    requests: {
      cpu: k8s.Quantity.fromString(`${r.cpuMillis}m`),
      memory: k8s.Quantity.fromString(`${r.memoryMiB}Mi`),
    },
    limits: {
      cpu: k8s.Quantity.fromString(`${cpuLimit}m`),
      memory: k8s.Quantity.fromString(`${memLimit}Mi`),
      ...extraLimits,
    },
  };
}

/** The Pod Security Standard "restricted" pod context: non-root, fixed uid/gid, RuntimeDefault seccomp. */
export function restrictedPodSecurity(uid = 1000): k8s.PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    fsGroup: uid,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** The "restricted" container context: no privilege escalation, read-only root filesystem, no capabilities. */
export function restrictedContainerSecurity(): k8s.SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Standard labels: `app.kubernetes.io/{name,component,part-of}`. */
export function componentLabels(component: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': `kiosk-${component}`,
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': 'cellkiosk',
  };
}

/** Label on pods allowed to reach Redis (and that Redis admits). */
export const REDIS_CLIENT_LABEL = 'kiosk.io/redis-client';
/** Label on pods allowed HTTPS egress (cloud storage and IAM APIs, the Kubernetes API). */
export const HTTPS_EGRESS_LABEL = 'kiosk.io/egress-https';

/** A writable scratch `emptyDir` at /tmp, since the root filesystem is read-only. */
export function scratchVolume(sizeLimitMiB = 1024): { volume: k8s.Volume; mount: k8s.VolumeMount } {
  return {
    volume: { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString(`${sizeLimitMiB}Mi`) } },
    mount: { name: 'tmp', mountPath: '/tmp' },
  };
}

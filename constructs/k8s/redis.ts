import { k8s } from 'cdk8s-plus-34';
import { Construct } from 'constructs';
import { requireIntInRange } from '../validation.js';
import {
  componentLabels,
  resourceRequirements,
  restrictedContainerSecurity,
  restrictedPodSecurity,
  scratchVolume,
  type ComputeResources,
} from './pod-defaults.js';

/** Where the Redis password lives: a Secret the operator creates (never synthesized into YAML). */
export interface SecretKeyRef {
  readonly name: string;
  readonly key: string;
}

export interface KioskRedisProps {
  readonly namespace: string;
  /** Secret holding the password Redis requires (`--requirepass`). */
  readonly passwordSecret: SecretKeyRef;
  /** @default 'redis:7.4-alpine' */
  readonly image?: string;
  /** Size of the AOF volume. @default 10 */
  readonly storageGiB?: number;
  /** StorageClass of the volume. @default - the cluster's default class */
  readonly storageClassName?: string;
  /** @default - 250m / 512 MiB requested, 1 core / 1 GiB limit (`maxmemory` follows the limit) */
  readonly resources?: ComputeResources;
  /** Node selector (the CPU pool). */
  readonly nodeSelector: Record<string, string>;
}

/** Port Redis listens on. */
export const REDIS_PORT = 6379;

/** Requests and limits of the Redis container when not configured. */
const DEFAULT_REDIS_RESOURCES: ComputeResources = {
  cpuMillis: 250,
  memoryMiB: 512,
  cpuLimitMillis: 1000,
  memoryLimitMiB: 1024,
};

/**
 * `maxmemory` as a share of the container's memory limit. Redis counts its dataset (`used_memory`) against
 * maxmemory, but the cgroup also charges what lies beyond it: allocator fragmentation, client buffers, and
 * during an AOF rewrite the pages the forked child keeps while Redis changes them (copy on write). Measured
 * with redis-server 7.0 (jemalloc) at ~700 MiB of BullMQ-like job hashes, AOF on, rewriting while a client
 * added and updated jobs (60k-110k writes during the 6-12 s rewrite): parent RSS plus the child's private
 * pages peaked at 1.24, 1.25 and 1.29 × used_memory (script: constructs/k8s/testing/redis-rewrite-memory.mjs).
 * At 70 % that peak stays under 0.91 of the limit; at 75 % it would reach 0.97, and 80 % would be OOM-killed
 * by the worst of those runs — exactly what `noeviction` is there to prevent (writes are refused instead).
 */
export const REDIS_MAXMEMORY_SHARE = 0.7;

/** `--maxmemory` for a memory limit in MiB, in Redis's `mb` unit (MiB). */
export function redisMaxmemory(memoryLimitMiB: number): string {
  return `${Math.floor(memoryLimitMiB * REDIS_MAXMEMORY_SHARE)}mb`;
}

/**
 * Redis for BullMQ job state: a one-replica StatefulSet with append-only persistence (`appendonly yes`,
 * `appendfsync everysec`) on a PersistentVolumeClaim, `maxmemory` at 70 % of the memory limit with
 * `maxmemory-policy noeviction` (BullMQ requires it: a full Redis refuses writes instead of being OOM-killed),
 * a password from a Secret, a headless Service `kiosk-redis`, and a PodDisruptionBudget that keeps it from
 * being evicted voluntarily (a drain waits until an operator moves it). Runs as uid 999 (the image's redis user).
 */
export class KioskRedis extends Construct {
  /** DNS name clients use: `kiosk-redis:6379`. */
  readonly serviceName = 'kiosk-redis';
  readonly labels = componentLabels('redis');

  constructor(scope: Construct, id: string, props: KioskRedisProps) {
    super(scope, id);
    const storageGiB = props.storageGiB ?? 10;
    requireIntInRange('redis.storageGiB', storageGiB, 1, 16384);
    const ns = props.namespace;
    const scratch = scratchVolume(64);
    const resources = props.resources ?? DEFAULT_REDIS_RESOURCES;
    const memoryLimitMiB = resources.memoryLimitMiB ?? resources.memoryMiB;
    new k8s.KubeService(this, 'service', {
      metadata: { name: this.serviceName, namespace: ns, labels: this.labels },
      spec: {
        clusterIp: 'None',
        selector: this.labels,
        ports: [{ name: 'redis', port: REDIS_PORT, targetPort: k8s.IntOrString.fromNumber(REDIS_PORT) }],
      },
    });
    new k8s.KubeStatefulSet(this, 'statefulset', {
      metadata: { name: this.serviceName, namespace: ns, labels: this.labels },
      spec: {
        serviceName: this.serviceName,
        replicas: 1,
        selector: { matchLabels: this.labels },
        template: {
          metadata: { labels: this.labels },
          spec: {
            automountServiceAccountToken: false,
            securityContext: restrictedPodSecurity(999),
            nodeSelector: props.nodeSelector,
            containers: [
              {
                name: 'redis',
                image: props.image ?? 'redis:7.4-alpine',
                command: ['redis-server'],
                args: [
                  '--appendonly', 'yes',
                  '--appendfsync', 'everysec',
                  '--dir', '/data',
                  '--maxmemory', redisMaxmemory(memoryLimitMiB),
                  '--maxmemory-policy', 'noeviction',
                  '--requirepass', '$(REDIS_PASSWORD)',
                ], // prettier-ignore
                env: [
                  {
                    name: 'REDIS_PASSWORD',
                    valueFrom: {
                      secretKeyRef: { name: props.passwordSecret.name, key: props.passwordSecret.key },
                    },
                  },
                ],
                ports: [{ name: 'redis', containerPort: REDIS_PORT }],
                readinessProbe: {
                  tcpSocket: { port: k8s.IntOrString.fromNumber(REDIS_PORT) },
                  periodSeconds: 5,
                },
                livenessProbe: {
                  tcpSocket: { port: k8s.IntOrString.fromNumber(REDIS_PORT) },
                  initialDelaySeconds: 15,
                  periodSeconds: 20,
                },
                resources: resourceRequirements('redis.resources', resources),
                securityContext: restrictedContainerSecurity(),
                volumeMounts: [{ name: 'data', mountPath: '/data' }, scratch.mount],
              },
            ],
            volumes: [scratch.volume],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data' },
            spec: {
              accessModes: ['ReadWriteOnce'],
              ...(props.storageClassName ? { storageClassName: props.storageClassName } : {}),
              resources: { requests: { storage: k8s.Quantity.fromString(`${storageGiB}Gi`) } },
            },
          },
        ],
      },
    });
    new k8s.KubePodDisruptionBudget(this, 'pdb', {
      metadata: { name: this.serviceName, namespace: ns, labels: this.labels },
      spec: { minAvailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: this.labels } },
    });
  }
}

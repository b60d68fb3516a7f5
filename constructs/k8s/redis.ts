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
  /** @default - 250m / 512 MiB requested, 1 core / 1 GiB limit */
  readonly resources?: ComputeResources;
  /** Node selector (the CPU pool). */
  readonly nodeSelector: Record<string, string>;
}

/** Port Redis listens on. */
export const REDIS_PORT = 6379;

/**
 * Redis for BullMQ job state: a one-replica StatefulSet with append-only persistence (`appendonly yes`,
 * `appendfsync everysec`) on a PersistentVolumeClaim, `maxmemory-policy noeviction` (BullMQ requires it),
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
                resources: resourceRequirements(
                  'redis.resources',
                  props.resources ?? {
                    cpuMillis: 250,
                    memoryMiB: 512,
                    cpuLimitMillis: 1000,
                    memoryLimitMiB: 1024,
                  },
                ),
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

import { k8s } from 'cdk8s-plus-34';
import { Construct } from 'constructs';
import { Taint } from '../node-pool-props.js';
import { serviceAccountName, type KioskRole } from '../roles.js';
import { requireIntInRange } from '../validation.js';
import {
  componentLabels,
  resourceRequirements,
  restrictedContainerSecurity,
  restrictedPodSecurity,
  scratchVolume,
  type ComputeResources,
} from './pod-defaults.js';

/** The pod template of one kiosk role; shared by Deployments and the training Job. */
export interface KioskPodProps {
  readonly role: KioskRole;
  readonly image: string;
  /** Arguments to the image's entrypoint (`node bin/kiosk.mjs`). */
  readonly args: readonly string[];
  readonly env: readonly k8s.EnvVar[];
  readonly resources: ComputeResources;
  readonly nodeSelector: Record<string, string>;
  /** GPUs per pod (`nvidia.com/gpu` limit) plus the GPU taint toleration. @default 0 */
  readonly gpus?: number;
  /** Extra pod labels (e.g. the network-policy opt-ins). @default - none */
  readonly podLabels?: Record<string, string>;
  readonly ports?: readonly k8s.ContainerPort[];
  readonly readinessProbe?: k8s.Probe;
  readonly livenessProbe?: k8s.Probe;
  /** Mount a Kubernetes API token (only the autoscaler needs one). @default false */
  readonly kubernetesApiAccess?: boolean;
  /** Size of the /tmp scratch volume. @default 1024 */
  readonly scratchMiB?: number;
  /** More writable volumes besides /tmp (the root filesystem is read-only), e.g. the model cache. @default - none */
  readonly volumes?: readonly PodVolume[];
}

/** A pod volume and where the container mounts it. */
export interface PodVolume {
  readonly volume: k8s.Volume;
  readonly mount: k8s.VolumeMount;
}

/** Renders a restricted pod spec for one role, running as `kiosk-<role>`. */
export function kioskPodTemplate(props: KioskPodProps): k8s.PodTemplateSpec {
  const gpus = props.gpus ?? 0;
  requireIntInRange(`${props.role}.gpus`, gpus, 0, 16);
  const scratch = scratchVolume(props.scratchMiB ?? 1024);
  const taint = Taint.gpu();
  return {
    metadata: { labels: { ...componentLabels(props.role), ...props.podLabels } },
    spec: {
      serviceAccountName: serviceAccountName(props.role),
      automountServiceAccountToken: props.kubernetesApiAccess ?? false,
      securityContext: restrictedPodSecurity(),
      nodeSelector: props.nodeSelector,
      ...(gpus > 0
        ? { tolerations: [{ key: taint.key, operator: 'Equal', value: taint.value, effect: taint.effect }] }
        : {}),
      containers: [
        {
          name: props.role,
          image: props.image,
          args: [...props.args],
          env: [...props.env],
          ...(props.ports ? { ports: [...props.ports] } : {}),
          ...(props.readinessProbe ? { readinessProbe: props.readinessProbe } : {}),
          ...(props.livenessProbe ? { livenessProbe: props.livenessProbe } : {}),
          resources: resourceRequirements(
            `${props.role}.resources`,
            props.resources,
            gpus > 0 ? { 'nvidia.com/gpu': k8s.Quantity.fromNumber(gpus) } : {},
          ),
          securityContext: restrictedContainerSecurity(),
          volumeMounts: [scratch.mount, ...(props.volumes ?? []).map((v) => v.mount)],
        },
      ],
      volumes: [scratch.volume, ...(props.volumes ?? []).map((v) => v.volume)],
    },
  };
}

export interface KioskWorkloadProps extends KioskPodProps {
  readonly namespace: string;
  /** Annotations binding the ServiceAccount to the role's cloud identity. */
  readonly serviceAccountAnnotations: Record<string, string>;
  /** Initial replicas; the autoscaler owns the count of worker Deployments after that. */
  readonly replicas: number;
  /** PodDisruptionBudget: at most this many pods down during voluntary disruptions. @default - no PDB */
  readonly maxUnavailable?: number;
  /** PodDisruptionBudget: at least this many pods up. @default - no PDB */
  readonly minAvailable?: number;
}

/** A role's ServiceAccount, Deployment (name `kiosk-<role>`) and, when asked, PodDisruptionBudget. */
export class KioskWorkload extends Construct {
  readonly role: KioskRole;
  /** The Deployment's and ServiceAccount's name, `kiosk-<role>`. */
  readonly name: string;
  /** The pods' selector labels (`componentLabels(role)`). */
  readonly labels: Record<string, string>;
  readonly serviceAccount: k8s.KubeServiceAccount;
  /** The Deployment; `KioskChart.addSidecar` adds containers to its pod template. */
  readonly deployment: k8s.KubeDeployment;
  readonly podDisruptionBudget?: k8s.KubePodDisruptionBudget;

  constructor(scope: Construct, id: string, props: KioskWorkloadProps) {
    super(scope, id);
    requireIntInRange(`${props.role}.replicas`, props.replicas, 0, 1000);
    this.role = props.role;
    this.name = serviceAccountName(props.role);
    this.labels = componentLabels(props.role);
    const metadata = { name: this.name, namespace: props.namespace, labels: this.labels };
    this.serviceAccount = new k8s.KubeServiceAccount(this, 'service-account', {
      metadata: { ...metadata, annotations: props.serviceAccountAnnotations },
      automountServiceAccountToken: props.kubernetesApiAccess ?? false,
    });
    this.deployment = new k8s.KubeDeployment(this, 'deployment', {
      metadata,
      spec: {
        replicas: props.replicas,
        selector: { matchLabels: this.labels },
        // CPU pods surge (new pod up before an old one goes); GPU pods replace one at a time instead, since a
        // surge pod would need a GPU the pool may not have.
        strategy: {
          type: 'RollingUpdate',
          rollingUpdate:
            (props.gpus ?? 0) > 0
              ? { maxUnavailable: k8s.IntOrString.fromNumber(1), maxSurge: k8s.IntOrString.fromNumber(0) }
              : { maxUnavailable: k8s.IntOrString.fromNumber(0) },
        },
        template: kioskPodTemplate(props),
      },
    });
    if (props.maxUnavailable !== undefined || props.minAvailable !== undefined) {
      this.podDisruptionBudget = new k8s.KubePodDisruptionBudget(this, 'pdb', {
        metadata,
        spec: {
          selector: { matchLabels: this.labels },
          ...(props.maxUnavailable !== undefined
            ? { maxUnavailable: k8s.IntOrString.fromNumber(props.maxUnavailable) }
            : { minAvailable: k8s.IntOrString.fromNumber(props.minAvailable!) }),
        },
      });
    }
  }
}

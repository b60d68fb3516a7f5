import { k8s } from 'cdk8s-plus-34';
import { Construct } from 'constructs';
import { POOL_LABEL, Taint } from '../node-pool-props.js';

export interface NvidiaDevicePluginProps {
  /** @default 'nvcr.io/nvidia/k8s-device-plugin:v0.17.1' */
  readonly image?: string;
}

/**
 * NVIDIA's device plugin DaemonSet (kube-system, GPU pool nodes only), which advertises `nvidia.com/gpu` to
 * the kubelet. EKS needs it: the NVIDIA AMI ships the driver but not the plugin. GKE installs its own, so
 * the chart adds this only for EKS. Mounts the kubelet's device-plugin socket directory (hostPath), hence it
 * lives outside the kiosk namespace, whose Pod Security level is `restricted`.
 */
export class NvidiaDevicePlugin extends Construct {
  constructor(scope: Construct, id: string, props: NvidiaDevicePluginProps = {}) {
    super(scope, id);
    const labels = {
      'app.kubernetes.io/name': 'nvidia-device-plugin',
      'app.kubernetes.io/part-of': 'cellkiosk',
    };
    const taint = Taint.gpu();
    new k8s.KubeDaemonSet(this, 'daemonset', {
      metadata: { name: 'nvidia-device-plugin', namespace: 'kube-system', labels },
      spec: {
        selector: { matchLabels: labels },
        updateStrategy: { type: 'RollingUpdate' },
        template: {
          metadata: { labels },
          spec: {
            priorityClassName: 'system-node-critical',
            nodeSelector: { [POOL_LABEL]: 'gpu' },
            tolerations: [{ key: taint.key, operator: 'Exists', effect: taint.effect }],
            automountServiceAccountToken: false,
            containers: [
              {
                name: 'nvidia-device-plugin',
                image: props.image ?? 'nvcr.io/nvidia/k8s-device-plugin:v0.17.1',
                env: [{ name: 'FAIL_ON_INIT_ERROR', value: 'false' }],
                securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
                resources: {
                  requests: { cpu: k8s.Quantity.fromString('10m'), memory: k8s.Quantity.fromString('32Mi') },
                  limits: { cpu: k8s.Quantity.fromString('100m'), memory: k8s.Quantity.fromString('128Mi') },
                },
                volumeMounts: [{ name: 'device-plugin', mountPath: '/var/lib/kubelet/device-plugins' }],
              },
            ],
            volumes: [{ name: 'device-plugin', hostPath: { path: '/var/lib/kubelet/device-plugins' } }],
          },
        },
      },
    });
  }
}

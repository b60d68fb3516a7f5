import { k8s } from 'cdk8s-plus-34';
import { Construct } from 'constructs';
import { serviceAccountName } from '../roles.js';

export interface AutoscalerRbacProps {
  readonly namespace: string;
  /** Names of the Deployments the autoscaler may resize; it can touch nothing else. */
  readonly deployments: readonly string[];
}

/**
 * A Role allowing only `get` and `patch` on the `deployments/scale` subresource of the named worker
 * Deployments (`resourceNames`), bound to the `kiosk-autoscaler` ServiceAccount. The autoscaler cannot
 * read Secrets, create pods or change images.
 */
export class AutoscalerRbac extends Construct {
  constructor(scope: Construct, id: string, props: AutoscalerRbacProps) {
    super(scope, id);
    const name = 'kiosk-autoscaler';
    new k8s.KubeRole(this, 'role', {
      metadata: { name, namespace: props.namespace },
      rules: [
        {
          apiGroups: ['apps'],
          resources: ['deployments/scale'],
          resourceNames: [...props.deployments],
          verbs: ['get', 'patch'],
        },
      ],
    });
    new k8s.KubeRoleBinding(this, 'binding', {
      metadata: { name, namespace: props.namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [
        { kind: 'ServiceAccount', name: serviceAccountName('autoscaler'), namespace: props.namespace },
      ],
    });
  }
}

/**
 * cellkiosk's construct library: `import { KioskCluster, KioskChart, GpuType } from 'cellkiosk/constructs'`.
 * cdktf constructs build the cloud side (GKE or EKS), cdk8s constructs the Kubernetes side.
 */
export * from './cloud-locations.js';
export * from './eks/index.js';
export * from './gke/index.js';
export * from './gpu-images.js';
export * from './gpu-type.js';
export * from './identity-names.js';
export * from './k8s/index.js';
export * from './kiosk-cluster.js';
export * from './node-pool-props.js';
export * from './roles.js';
export * from './unique-names.js';
export * from './validation.js';

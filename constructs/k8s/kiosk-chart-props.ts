import type { IdentityTarget } from '../identity-names.js';
import type { KioskRole } from '../roles.js';
import type { ComputeResources } from './pod-defaults.js';
import type { SecretKeyRef } from './redis.js';

/** Full image references (`registry/name:tag`) per role. */
export interface KioskImages {
  readonly api: string;
  readonly cpuWorker: string;
  /**
   * The GPU image's `inference` target (docker/gpu.Dockerfile: CUDA 12, onnxruntime's CUDA provider); its
   * in-process training runs on the CPU.
   */
  readonly gpuWorker: string;
  /**
   * The image of the suspended `kiosk-train` Job: the GPU image's `training` target (CUDA 11.2,
   * tfjs-node-gpu) trains on T4, V100, A10G and A100 GPUs (docs/deploy.md). @default - `gpuWorker`
   */
  readonly trainer?: string;
  readonly autoscaler: string;
}

export interface KioskChartProps {
  /** Cloud and account whose identities the ServiceAccounts are bound to (must match the Terraform stack). */
  readonly identity: IdentityTarget;
  readonly bucketName: string;
  readonly images: KioskImages;
  /** Cloud region, passed to pods as KIOSK_REGION (and AWS_REGION on EKS). */
  readonly region: string;
  /** @default 'cellkiosk' */
  readonly namespace?: string;
  /**
   * Host name of the web UI / API on the Ingress. With it the Ingress serves HTTPS (see `tls`); on GKE it
   * also takes the global static IP `<name>-web` that `KioskCluster` creates for a domain.
   * @default - any host, plain HTTP
   */
  readonly domain?: string;
  /**
   * HTTPS on `domain` with HTTP redirected to it (`KioskApiIngress`): GKE a Google-managed certificate, EKS
   * the ACM certificate `KioskCluster` requests for the domain. `false` serves plain HTTP on the domain.
   * @default - true when `domain` is given
   */
  readonly tls?: boolean;
  /** EKS: the ACM certificate's ARN. @default - the ALB controller discovers it from the domain */
  readonly certificateArn?: string;
  /**
   * Ingress class for a third-party controller.
   * @default - GKE: the built-in controller (annotation `kubernetes.io/ingress.class: gce`); EKS: 'alb' (AWS Load Balancer Controller)
   */
  readonly ingressClassName?: string;
  /** Where load-balancer traffic to the API comes from. @default - GKE: Google's LB ranges; EKS: 10.0.0.0/16 (the VPC) */
  readonly loadBalancerCidrs?: readonly string[];
  /**
   * The API's KIOSK_TRUST_PROXY (core/config.ts): which proxies in front of it may name the client's address in
   * X-Forwarded-For, so the failed-login count and the token-less rate limit are per user, not per load
   * balancer. A hop count (the client is that many entries from the end of X-Forwarded-For) or the
   * proxies' addresses/CIDRs; `false` leaves it unset (the TCP peer is the
   * client). The defaults follow what the clouds document (docs/deploy.md):
   * @default - GKE's `gce` Ingress: 2 (Google's load balancer appends the client and its forwarding rule's
   *   address); EKS's `alb` Ingress: 1 (the ALB appends the client); another ingressClassName: unset, as
   *   only its operator knows how many proxies it puts in front
   */
  readonly trustProxy?: number | readonly string[] | false;
  /**
   * Scraping of the kiosk's /metrics (`KioskMonitoring`): GKE a PodMonitoring for Managed Service for
   * Prometheus, EKS a Prometheus in the namespace; each with the NetworkPolicy that admits its scraper.
   * @default true
   */
  readonly monitoring?: boolean;
  /** @default 2 */
  readonly apiReplicas?: number;
  /** Initial CPU worker replicas (the autoscaler adjusts). @default 1 */
  readonly cpuWorkerReplicas?: number;
  /** Ceiling the autoscaler may scale the CPU workers to. @default 8 */
  readonly cpuWorkerMaxReplicas?: number;
  /** Ceiling for GPU workers; match GPU pool max nodes × GPUs per node / `gpusPerWorker`. @default 2 */
  readonly gpuWorkerMaxReplicas?: number;
  /** GPUs each GPU worker (and training pod) requests. @default 1 */
  readonly gpusPerWorker?: number;
  /** Secret with the Redis password, created by the operator (see docs/deploy.md). @default kiosk-redis/password */
  readonly redisPasswordSecret?: SecretKeyRef;
  /** @default 10 */
  readonly redisStorageGiB?: number;
  /**
   * StorageClass of the Redis volume.
   * @default - EKS: `kiosk-gp3`, synthesized here (EBS CSI driver, gp3, encrypted); GKE: `standard-rwo`
   */
  readonly redisStorageClassName?: string;
  /**
   * Size of the model cache volume of the GPU worker and trainer pods, where the models they load from the
   * bucket are copied (`models/nuclear/1` is 16 MiB). @default 2048
   */
  readonly modelCacheMiB?: number;
  /** Per-role requests/limits. @default - see `DEFAULT_RESOURCES` */
  readonly resources?: Partial<Record<KioskRole, ComputeResources>>;
}

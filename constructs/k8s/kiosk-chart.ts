import { Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-34';
import type { Construct } from 'constructs';
import type { CloudProvider } from '../gpu-type.js';
import { webAddressName, workloadIdentityAnnotations, type IdentityTarget } from '../identity-names.js';
import { POOL_LABEL } from '../node-pool-props.js';
import { serviceAccountName, type KioskRole } from '../roles.js';
import { domainProblem, KioskConfigError, requireIntInRange } from '../validation.js';
import { KioskApiIngress } from './api-ingress.js';
import { AutoscalerRbac } from './autoscaler-rbac.js';
import { KioskMonitoring } from './monitoring.js';
import { KioskNetworkPolicies } from './network-policies.js';
import { NvidiaDevicePlugin } from './nvidia-device-plugin.js';
import { HTTPS_EGRESS_LABEL, REDIS_CLIENT_LABEL, type ComputeResources } from './pod-defaults.js';
import { KioskRedis, REDIS_PORT, type SecretKeyRef } from './redis.js';
import { kioskPodTemplate, KioskWorkload, type PodVolume } from './workload.js';

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

/** Requests/limits per role when not configured. */
export const DEFAULT_RESOURCES: Readonly<Record<KioskRole, ComputeResources>> = {
  api: { cpuMillis: 250, memoryMiB: 512, cpuLimitMillis: 1000, memoryLimitMiB: 1024 },
  'cpu-worker': { cpuMillis: 1000, memoryMiB: 3072, cpuLimitMillis: 2000, memoryLimitMiB: 4096 },
  'gpu-worker': { cpuMillis: 2000, memoryMiB: 8192, cpuLimitMillis: 4000, memoryLimitMiB: 12288 },
  trainer: { cpuMillis: 2000, memoryMiB: 8192, cpuLimitMillis: 4000, memoryLimitMiB: 12288 },
  autoscaler: { cpuMillis: 50, memoryMiB: 128, cpuLimitMillis: 200, memoryLimitMiB: 256 },
};

/**
 * KIOSK_TRUST_PROXY for the chart's own Ingress. fastify counts the TCP peer as hop 0 and the entries of
 * X-Forwarded-For from the end. GKE's external Application Load Balancer (`gce` class) appends
 * `<client>, <forwarding rule address>` and the peer is one of its proxies (130.211.0.0/22, 35.191.0.0/16):
 * 2 hops. The ALB (IP targets, `xff_header_processing.mode` left at its default `append`) appends
 * `<client>` and the peer is the ALB node: 1 hop. A third-party controller: unknown, so unset.
 */
function defaultTrustProxy(provider: CloudProvider, ingressClassName: string | undefined): number | false {
  if (provider === 'gke') return ingressClassName === undefined ? 2 : false;
  return (ingressClassName ?? 'alb') === 'alb' ? 1 : false;
}
/** An IPv4 or IPv6 address or CIDR (what core/config.ts's KIOSK_TRUST_PROXY accepts in a list). */
const PROXY_ADDRESS = /^((\d{1,3})(\.\d{1,3}){3}(\/\d{1,2})?|[0-9a-fA-F:]*:[0-9a-fA-F:.]*(\/\d{1,3})?)$/;

/** Source ranges of Google's HTTP(S) load balancers and health checks. */
const GOOGLE_LB_CIDRS = ['130.211.0.0/22', '35.191.0.0/16'];
const API_PORT = 8080;

/**
 * KIOSK_MODEL_CACHE of the roles that load models (the GPU worker's predict copies each bucket model version
 * there before loading it: workers/registry/registry.ts): a volume of its own, so cached models never fill
 * the /tmp scratch space a job or a training run needs.
 */
export const MODEL_CACHE_PATH = '/var/cache/kiosk/models';
/**
 * KIOSK_MODEL_CACHE of the other roles (API, CPU worker, autoscaler): they list and resolve models but never
 * copy one. The setting still points into their /tmp emptyDir, since core/config.ts's default
 * (`.kiosk/model-cache`, relative to /app) lies on the read-only root filesystem.
 */
export const SCRATCH_MODEL_CACHE_PATH = '/tmp/kiosk-model-cache';
/**
 * The Redis volume's class on GKE: `standard-rwo` (pd-balanced through the Compute Engine PD CSI driver) is
 * on every GKE cluster and its default class since 1.24. Named rather than left to the default because a
 * PVC's class can't change once created: Redis keeps the disk the chart says, whatever a lab later makes the
 * default (on a cluster older than 1.24 the default was the in-tree `standard`, pd-standard).
 */
export const GKE_REDIS_STORAGE_CLASS = 'standard-rwo';
/**
 * The class synthesized for Redis on EKS, which has no default StorageClass from 1.30 on (before, a `gp2` class
 * of the in-tree plugin, removed in 1.27 anyway): gp3 volumes through the EBS CSI driver add-on that
 * `EksEbsCsiDriver` installs with the cluster.
 */
export const EKS_REDIS_STORAGE_CLASS = 'kiosk-gp3';

/** /tmp of the pods that train (the trainer Job and the GPU worker): a training run's data and checkpoints. */
const TRAINING_SCRATCH_MIB = 16384;

/**
 * The whole kiosk on Kubernetes: a namespace at Pod Security level `restricted`; Redis; the API (Deployment,
 * Service, Ingress); CPU and GPU worker Deployments; a suspended training Job template; the autoscaler with
 * RBAC limited to scaling the workers; default-deny NetworkPolicies with the needed allowances;
 * PodDisruptionBudgets; one ServiceAccount per role annotated with its cloud identity. On EKS it adds the
 * NVIDIA device plugin and the gp3 StorageClass of Redis's volume. Every object has a fixed name, so re-applying updates in place.
 */
export class KioskChart extends Chart {
  readonly namespaceName: string;
  /** The API's Ingress (and its TLS objects). */
  readonly ingress: KioskApiIngress;
  /** The scrape configuration of /metrics (and, on EKS, the Prometheus that scrapes). */
  readonly monitoring?: KioskMonitoring;

  constructor(scope: Construct, id: string, props: KioskChartProps) {
    super(scope, id);
    const provider = props.identity.provider;
    const ns = (this.namespaceName = props.namespace ?? 'cellkiosk');
    const gpusPerWorker = props.gpusPerWorker ?? 1;
    requireIntInRange('gpusPerWorker', gpusPerWorker, 1, 16);
    const cpuMax = props.cpuWorkerMaxReplicas ?? 8;
    const gpuMax = props.gpuWorkerMaxReplicas ?? 2;
    requireIntInRange('cpuWorkerMaxReplicas', cpuMax, 1, 1000);
    requireIntInRange('gpuWorkerMaxReplicas', gpuMax, 0, 1000);
    const badDomain = props.domain === undefined ? undefined : domainProblem(props.domain);
    if (badDomain) throw new KioskConfigError(`'domain' ('${props.domain}') ${badDomain}`);
    const resources = (role: KioskRole) => props.resources?.[role] ?? DEFAULT_RESOURCES[role];
    const annotations = (role: KioskRole) => workloadIdentityAnnotations(props.identity, role);
    const cpuNodes = { [POOL_LABEL]: 'cpu' };
    const gpuNodes = { [POOL_LABEL]: 'gpu' };
    const secret = props.redisPasswordSecret ?? { name: 'kiosk-redis', key: 'password' };
    const modelCacheMiB = props.modelCacheMiB ?? 2048;
    requireIntInRange('modelCacheMiB', modelCacheMiB, 64, 1_048_576);
    const modelCache: PodVolume = {
      volume: {
        name: 'model-cache',
        emptyDir: { sizeLimit: k8s.Quantity.fromString(`${modelCacheMiB}Mi`) },
      },
      mount: { name: 'model-cache', mountPath: MODEL_CACHE_PATH },
    };
    const loadsModels = (role: KioskRole) => role === 'gpu-worker' || role === 'trainer';

    new k8s.KubeNamespace(this, 'namespace', {
      metadata: {
        name: ns,
        labels: {
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/warn': 'restricted',
        },
      },
    });
    const redisStorageClass =
      props.redisStorageClassName ?? (provider === 'eks' ? EKS_REDIS_STORAGE_CLASS : GKE_REDIS_STORAGE_CLASS);
    if (provider === 'eks' && redisStorageClass === EKS_REDIS_STORAGE_CLASS) {
      new k8s.KubeStorageClass(this, 'gp3-storage-class', {
        metadata: {
          name: EKS_REDIS_STORAGE_CLASS,
          labels: { 'app.kubernetes.io/part-of': 'cellkiosk' },
          // The cluster's default class (EKS has none from 1.30), so a PVC without a class binds too.
          annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
        },
        provisioner: 'ebs.csi.aws.com',
        parameters: { type: 'gp3', encrypted: 'true', 'csi.storage.k8s.io/fstype': 'ext4' },
        // An EBS volume lives in one zone: create it where the scheduler puts Redis, not in a random zone.
        volumeBindingMode: 'WaitForFirstConsumer',
        reclaimPolicy: 'Delete',
        allowVolumeExpansion: true,
      });
    }
    const redis = new KioskRedis(this, 'redis', {
      namespace: ns,
      passwordSecret: secret,
      nodeSelector: cpuNodes,
      storageClassName: redisStorageClass,
      ...(props.redisStorageGiB !== undefined ? { storageGiB: props.redisStorageGiB } : {}),
    });

    const trustProxy = props.trustProxy ?? defaultTrustProxy(provider, props.ingressClassName);
    if (typeof trustProxy === 'number') requireIntInRange('trustProxy', trustProxy, 1, 64);
    if (Array.isArray(trustProxy)) {
      const bad = trustProxy.find((a) => !PROXY_ADDRESS.test(a));
      if (bad !== undefined || trustProxy.length === 0)
        throw new KioskConfigError(
          `'trustProxy' (${JSON.stringify(trustProxy)}) must be a hop count or proxy addresses/CIDRs such as 10.0.0.0/16`,
        );
    }

    const env = (role: KioskRole): k8s.EnvVar[] => [
      { name: 'KIOSK_ROLE', value: role },
      { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: secret.name, key: secret.key } } },
      { name: 'REDIS_URL', value: `redis://:$(REDIS_PASSWORD)@${redis.serviceName}:${REDIS_PORT}` },
      { name: 'KIOSK_STORAGE', value: provider === 'gke' ? 'gcs' : 's3' },
      // A URL, not a bare name: core/config.ts opens a bare name as a local folder inside the pod.
      { name: 'KIOSK_BUCKET', value: `${provider === 'gke' ? 'gs' : 's3'}://${props.bucketName}` },
      { name: 'KIOSK_REGION', value: props.region },
      // Cloud mode: the API requires per-lab tokens (api/auth.ts) and refuses to start with KIOSK_AUTH=off.
      { name: 'KIOSK_MODE', value: 'cloud' },
      { name: 'KIOSK_AUTH', value: 'tokens' },
      { name: 'KIOSK_MODEL_CACHE', value: loadsModels(role) ? MODEL_CACHE_PATH : SCRATCH_MODEL_CACHE_PATH },
      ...(provider === 'eks' ? [{ name: 'AWS_REGION', value: props.region }] : []),
    ];
    const optIn = { [REDIS_CLIENT_LABEL]: 'true', [HTTPS_EGRESS_LABEL]: 'true' };

    const healthProbe: k8s.Probe = {
      httpGet: { path: '/api/health-check', port: k8s.IntOrString.fromNumber(API_PORT) },
      periodSeconds: 10,
    };
    const api = new KioskWorkload(this, 'api', {
      namespace: ns,
      role: 'api',
      image: props.images.api,
      args: ['start', '--role=api'],
      env: [
        ...env('api'),
        { name: 'PORT', value: String(API_PORT) },
        ...(trustProxy === false
          ? []
          : [
              {
                name: 'KIOSK_TRUST_PROXY',
                value: typeof trustProxy === 'number' ? String(trustProxy) : trustProxy.join(','),
              },
            ]),
      ],
      resources: resources('api'),
      nodeSelector: cpuNodes,
      podLabels: optIn,
      ports: [{ name: 'http', containerPort: API_PORT }],
      readinessProbe: healthProbe,
      livenessProbe: { ...healthProbe, initialDelaySeconds: 20, periodSeconds: 20 },
      serviceAccountAnnotations: annotations('api'),
      replicas: props.apiReplicas ?? 2,
      minAvailable: 1,
    });
    new k8s.KubeService(this, 'api-service', {
      metadata: {
        name: api.name,
        namespace: ns,
        labels: api.labels,
        ...(provider === 'gke' ? { annotations: { 'cloud.google.com/neg': '{"ingress": true}' } } : {}),
      },
      spec: {
        type: 'ClusterIP',
        selector: api.labels,
        ports: [{ name: 'http', port: 80, targetPort: k8s.IntOrString.fromNumber(API_PORT) }],
      },
    });
    this.ingress = new KioskApiIngress(this, 'api-ingress', {
      provider,
      namespace: ns,
      serviceName: api.name,
      labels: api.labels,
      ...(props.domain ? { domain: props.domain } : {}),
      ...(props.tls !== undefined ? { tls: props.tls } : {}),
      ...(provider === 'gke' && props.domain ? { staticIpName: webAddressName(props.identity.name) } : {}),
      ...(props.certificateArn ? { certificateArn: props.certificateArn } : {}),
      ...(props.ingressClassName ? { ingressClassName: props.ingressClassName } : {}),
    });

    const cpuWorker = new KioskWorkload(this, 'cpu-worker', {
      namespace: ns,
      role: 'cpu-worker',
      image: props.images.cpuWorker,
      args: ['start', '--role=cpu-worker'],
      env: env('cpu-worker'),
      resources: resources('cpu-worker'),
      nodeSelector: cpuNodes,
      podLabels: optIn,
      scratchMiB: 4096,
      serviceAccountAnnotations: annotations('cpu-worker'),
      replicas: props.cpuWorkerReplicas ?? 1,
      maxUnavailable: 1,
    });
    const gpuWorker = new KioskWorkload(this, 'gpu-worker', {
      namespace: ns,
      role: 'gpu-worker',
      image: props.images.gpuWorker,
      args: ['start', '--role=gpu-worker'],
      env: [
        ...env('gpu-worker'),
        // The GPU worker also takes the `train` queue (one training run at a time, in a child process): the
        // autoscaler scales this Deployment on predict and train (KIOSK_SCALE_GPU below), and the cluster has
        // no other GPU Deployment. The suspended `kiosk-train` Job is for a lab that wants dedicated training
        // pods instead; it then sets KIOSK_GPU_TRAIN=0 here. Its bucket grants are the GPU worker's
        // (ROLE_BUCKET_GRANTS['gpu-worker'] covers training/ and publishing under models/).
        { name: 'KIOSK_GPU_TRAIN', value: '1' },
      ],
      resources: resources('gpu-worker'),
      nodeSelector: gpuNodes,
      gpus: gpusPerWorker,
      podLabels: optIn,
      // Training runs in /tmp (the same room the trainer Job has); inference jobs need little of it.
      scratchMiB: TRAINING_SCRATCH_MIB,
      volumes: [modelCache],
      serviceAccountAnnotations: annotations('gpu-worker'),
      replicas: 0,
      maxUnavailable: 1,
    });

    new KioskWorkload(this, 'autoscaler', {
      namespace: ns,
      role: 'autoscaler',
      image: props.images.autoscaler,
      args: ['start', '--role=autoscaler'],
      env: [
        ...env('autoscaler'),
        { name: 'KIOSK_SCALE_CPU', value: `preprocess,postprocess=${cpuWorker.name}:0..${cpuMax}` },
        { name: 'KIOSK_SCALE_GPU', value: `predict,train=${gpuWorker.name}:0..${gpuMax}` },
      ],
      resources: resources('autoscaler'),
      nodeSelector: cpuNodes,
      podLabels: optIn,
      kubernetesApiAccess: true,
      serviceAccountAnnotations: annotations('autoscaler'),
      replicas: 1,
    });
    new AutoscalerRbac(this, 'autoscaler-rbac', {
      namespace: ns,
      deployments: [cpuWorker.name, gpuWorker.name],
    });

    new k8s.KubeServiceAccount(this, 'trainer-service-account', {
      metadata: { name: serviceAccountName('trainer'), namespace: ns, annotations: annotations('trainer') },
      automountServiceAccountToken: false,
    });
    new k8s.KubeJob(this, 'training-job', {
      metadata: { name: 'kiosk-train', namespace: ns, labels: { 'app.kubernetes.io/component': 'trainer' } },
      spec: {
        suspend: true,
        backoffLimit: 2,
        ttlSecondsAfterFinished: 7 * 24 * 3600,
        template: (() => {
          const t = kioskPodTemplate({
            role: 'trainer',
            image: props.images.trainer ?? props.images.gpuWorker,
            args: ['start', '--role=trainer'],
            env: env('trainer'),
            resources: resources('trainer'),
            nodeSelector: gpuNodes,
            gpus: gpusPerWorker,
            podLabels: optIn,
            scratchMiB: TRAINING_SCRATCH_MIB,
            volumes: [modelCache],
          });
          return { ...t, spec: { ...t.spec!, restartPolicy: 'Never' } };
        })(),
      },
    });

    new KioskNetworkPolicies(this, 'network-policies', {
      namespace: ns,
      provider,
      redisLabels: redis.labels,
      redisPort: REDIS_PORT,
      apiLabels: api.labels,
      apiPort: API_PORT,
      loadBalancerCidrs: props.loadBalancerCidrs ?? (provider === 'gke' ? GOOGLE_LB_CIDRS : ['10.0.0.0/16']),
    });
    if (provider === 'eks') new NvidiaDevicePlugin(this, 'nvidia-device-plugin');
    if (props.monitoring !== false) {
      this.monitoring = new KioskMonitoring(this, 'monitoring', {
        provider,
        namespace: ns,
        apiLabels: api.labels,
        apiPortName: 'http',
        apiPort: API_PORT,
        storageClassName: redisStorageClass,
      });
    }
  }
}

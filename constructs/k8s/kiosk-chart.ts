import { Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-34';
import type { Construct } from 'constructs';
import { webAddressName, workloadIdentityAnnotations } from '../identity-names.js';
import { POOL_LABEL } from '../node-pool-props.js';
import { serviceAccountName, type KioskRole } from '../roles.js';
import { domainProblem, KioskConfigError, requireIntInRange } from '../validation.js';
import { KioskApiIngress } from './api-ingress.js';
import { AutoscalerRbac } from './autoscaler-rbac.js';
import {
  addSidecar,
  allowTraffic,
  type AllowOptions,
  type KioskPeer,
  type KioskPodOwner,
  type SidecarOptions,
} from './chart-intents.js';
import { KioskMonitoring } from './monitoring.js';
import { KioskNetworkPolicies } from './network-policies.js';
import { NvidiaDevicePlugin } from './nvidia-device-plugin.js';
import { HTTPS_EGRESS_LABEL, REDIS_CLIENT_LABEL, type ComputeResources } from './pod-defaults.js';
import type { KioskChartProps } from './kiosk-chart-props.js';
import { KioskRedis, REDIS_PORT } from './redis.js';
import { trustProxyEnv } from './trust-proxy.js';
import { kioskPodTemplate, KioskWorkload, type PodVolume } from './workload.js';

export type { KioskChartProps, KioskImages } from './kiosk-chart-props.js';

/** Requests/limits per role when not configured. */
export const DEFAULT_RESOURCES: Readonly<Record<KioskRole, ComputeResources>> = {
  api: { cpuMillis: 250, memoryMiB: 512, cpuLimitMillis: 1000, memoryLimitMiB: 1024 },
  'cpu-worker': { cpuMillis: 1000, memoryMiB: 3072, cpuLimitMillis: 2000, memoryLimitMiB: 4096 },
  'gpu-worker': { cpuMillis: 2000, memoryMiB: 8192, cpuLimitMillis: 4000, memoryLimitMiB: 12288 },
  trainer: { cpuMillis: 2000, memoryMiB: 8192, cpuLimitMillis: 4000, memoryLimitMiB: 12288 },
  autoscaler: { cpuMillis: 50, memoryMiB: 128, cpuLimitMillis: 200, memoryLimitMiB: 256 },
};

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
 * It exposes what it made (`api`, `workers.cpu`, `workers.gpu`, `trainingJob`, ...) and, cdk8s-plus style,
 * `addSidecar`, `allowFrom` and `allowTo` (./chart-intents.ts), so a lab adds a container or a NetworkPolicy
 * without forking the chart.
 */
export class KioskChart extends Chart {
  readonly namespaceName: string;
  /** The API: Deployment `kiosk-api`, its ServiceAccount and PodDisruptionBudget. */
  readonly api: KioskWorkload;
  /** The API's ClusterIP Service (port 80 → 8080), the Ingress's backend. */
  readonly apiService: k8s.KubeService;
  /** The API's Ingress (and its TLS objects). */
  readonly ingress: KioskApiIngress;
  /** The worker Deployments: `cpu` (preprocess, postprocess, model imports), `gpu` (predict and training). */
  readonly workers: { readonly cpu: KioskWorkload; readonly gpu: KioskWorkload };
  readonly autoscaler: KioskWorkload;
  readonly redis: KioskRedis;
  /** The suspended `kiosk-train` Job (dedicated training pods; see `KioskImages.trainer`). */
  readonly trainingJob: k8s.KubeJob;
  /** The default-deny NetworkPolicies and the allowances the kiosk needs (add a lab's own with `allowFrom`/`allowTo`). */
  readonly networkPolicies: KioskNetworkPolicies;
  /** The scrape configuration of /metrics (and, on EKS, the Prometheus that scrapes). */
  readonly monitoring?: KioskMonitoring;
  private allowances = 0;

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
    const redis = (this.redis = new KioskRedis(this, 'redis', {
      namespace: ns,
      passwordSecret: secret,
      nodeSelector: cpuNodes,
      storageClassName: redisStorageClass,
      ...(props.redisStorageGiB !== undefined ? { storageGiB: props.redisStorageGiB } : {}),
    }));

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
    const api = (this.api = new KioskWorkload(this, 'api', {
      namespace: ns,
      role: 'api',
      image: props.images.api,
      args: ['start', '--role=api'],
      env: [
        ...env('api'),
        { name: 'PORT', value: String(API_PORT) },
        ...trustProxyEnv(provider, props.ingressClassName, props.trustProxy),
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
    }));
    this.apiService = new k8s.KubeService(this, 'api-service', {
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

    this.autoscaler = new KioskWorkload(this, 'autoscaler', {
      namespace: ns,
      role: 'autoscaler',
      image: props.images.autoscaler,
      args: ['start', '--role=autoscaler'],
      env: [
        ...env('autoscaler'),
        // The queues of workers/queues/names.ts's POOL_QUEUES (kiosk-chart.test.ts checks they agree): a model
        // import (`models`) wakes a CPU worker scaled to zero as an image job does.
        {
          name: 'KIOSK_SCALE_CPU',
          value: `preprocess,postprocess,models=${cpuWorker.name}:0..${cpuMax}`,
        },
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
    this.trainingJob = new k8s.KubeJob(this, 'training-job', {
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

    this.networkPolicies = new KioskNetworkPolicies(this, 'network-policies', {
      namespace: ns,
      provider,
      redisLabels: redis.labels,
      redisPort: REDIS_PORT,
      apiLabels: api.labels,
      apiPort: API_PORT,
      loadBalancerCidrs: props.loadBalancerCidrs ?? (provider === 'gke' ? GOOGLE_LB_CIDRS : ['10.0.0.0/16']),
    });
    this.workers = { cpu: cpuWorker, gpu: gpuWorker };
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

  /**
   * Adds a container to the pod of a kiosk workload (`chart.api`, `chart.workers.cpu`, ...) or of
   * `chart.trainingJob`, e.g. a log shipper or an auth proxy. Without a securityContext it gets the kiosk's
   * restricted one (the namespace enforces Pod Security `restricted`). Throws for a container name the pod has.
   */
  addSidecar(owner: KioskPodOwner, container: k8s.Container, opts?: SidecarOptions): void {
    addSidecar(owner, container, opts);
  }

  /**
   * Admits traffic from `peer` to the pods of `owner` on `opts.ports` through the default deny: a NetworkPolicy
   * of its own (returned), e.g. a lab's Prometheus in namespace `monitoring` scraping a sidecar's port.
   */
  allowFrom(owner: KioskPodOwner, peer: KioskPeer, opts: AllowOptions): k8s.KubeNetworkPolicy {
    return allowTraffic(this, this.namespaceName, owner, 'ingress', peer, opts, ++this.allowances);
  }

  /** Lets the pods of `owner` reach `peer` on `opts.ports` (egress), e.g. a sidecar's collector. */
  allowTo(owner: KioskPodOwner, peer: KioskPeer, opts: AllowOptions): k8s.KubeNetworkPolicy {
    return allowTraffic(this, this.namespaceName, owner, 'egress', peer, opts, ++this.allowances);
  }
}

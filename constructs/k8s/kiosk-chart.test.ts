import { Testing } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.js';
import { configFromEnv } from '../../workers/autoscaler/config.js';
import { POOL_QUEUES } from '../../workers/queues/names.js';
import { openStorage } from '../../workers/storage/index.js';
import { KioskChart, type KioskChartProps } from './kiosk-chart.js';
import { validateManifests, type Manifest } from './testing/validate-manifests.js';

const images = {
  api: 'reg.example/cellkiosk:1',
  cpuWorker: 'reg.example/cellkiosk:1',
  gpuWorker: 'reg.example/cellkiosk-gpu:1',
  autoscaler: 'reg.example/cellkiosk:1',
};
const gkeProps: KioskChartProps = {
  identity: { provider: 'gke', project: 'lab-project', name: 'lab1' },
  bucketName: 'lab1-data',
  images,
  region: 'us-central1',
};
const eksProps: KioskChartProps = {
  identity: { provider: 'eks', accountId: '123456789012', name: 'lab1' },
  bucketName: 'lab1-data',
  images,
  region: 'us-east-1',
};

function synth(props: KioskChartProps): Manifest[] {
  return Testing.synth(new KioskChart(Testing.app(), 'kiosk', props)) as Manifest[];
}
const find = (objs: Manifest[], kind: string, name: string) => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o as Manifest & { spec: any }; // eslint-disable-line @typescript-eslint/no-explicit-any
};
type Pod = { spec: { containers: any[]; [k: string]: any } }; // eslint-disable-line @typescript-eslint/no-explicit-any
const podOf = (o: { spec: any }): Pod['spec'] => o.spec.template.spec; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('KioskChart', () => {
  it.each([
    ['gke', gkeProps],
    ['eks', eksProps],
  ])('every object synthesized for %s is valid against the kubernetes-models schemas', (_p, props) => {
    const objs = synth(props);
    expect(validateManifests(objs)).toBeGreaterThan(20);
  });

  it('the schema check fails on a malformed object and on kinds it has no schema for', () => {
    const [deployment] = synth(gkeProps).filter((o) => o.kind === 'Deployment');
    const broken = JSON.parse(JSON.stringify(deployment)) as {
      spec: { template: { spec: { containers: unknown } } };
    };
    broken.spec.template.spec.containers = 'api';
    expect(() => validateManifests([broken as unknown as Manifest])).toThrow(
      /apps\/v1\/Deployment kiosk-api is invalid/,
    );
    const unknown = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' } };
    expect(() => validateManifests([unknown])).toThrow(
      /no kubernetes-models schema registered for v1\/Secret/,
    );
  });

  it('matches the snapshot (GKE)', () => {
    expect(synth(gkeProps)).toMatchSnapshot();
  });

  it('runs every pod restricted: non-root, read-only root, no capabilities, seccomp, requests and limits', () => {
    const objs = synth(gkeProps).filter((o) => o.metadata.namespace === 'cellkiosk');
    const podSpecs = objs
      .filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind))
      .map((o) => podOf(o as never));
    expect(podSpecs).toHaveLength(6);
    for (const pod of podSpecs) {
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      for (const c of pod.containers) {
        expect(c.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(Object.keys(c.resources.requests).sort()).toEqual(['cpu', 'memory']);
        expect(c.resources.limits.memory).toBeDefined();
      }
    }
    expect(find(synth(gkeProps), 'Namespace', 'cellkiosk').metadata.labels).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'restricted',
    });
  });

  it('runs every kiosk container in cloud mode with token authentication (KIOSK_MODE, KIOSK_AUTH)', () => {
    for (const props of [gkeProps, eksProps]) {
      const kiosk = synth(props)
        .filter((o) => ['Deployment', 'Job'].includes(o.kind))
        .flatMap((o) => podOf(o as never).containers)
        .filter((c: { env?: { name: string }[] }) => c.env?.some((e) => e.name === 'KIOSK_ROLE'));
      expect(kiosk).toHaveLength(5); // api, cpu-worker, gpu-worker, autoscaler, trainer
      for (const c of kiosk as { env: { name: string; value?: string }[] }[]) {
        expect(c.env).toContainEqual({ name: 'KIOSK_MODE', value: 'cloud' });
        expect(c.env).toContainEqual({ name: 'KIOSK_AUTH', value: 'tokens' });
      }
    }
  });

  it.each([
    ['gke', gkeProps, 'gcs'],
    ['eks', eksProps, 's3'],
  ])(
    'gives %s pods a bucket URL that the kiosk opens as the cloud bucket, not a local folder',
    async (_p, props, kind) => {
      const api = podOf(find(synth(props), 'Deployment', 'kiosk-api')).containers[0] as {
        env: { name: string; value?: string }[];
      };
      const env = Object.fromEntries(
        api.env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value]),
      );
      const config = loadConfig({ ...env, REDIS_URL: 'redis://redis:6379' });
      expect(config.mode).toBe('cloud');
      expect((await openStorage(config.bucket)).kind).toBe(kind);
    },
  );

  it('puts GPU workers on the GPU pool: nvidia.com/gpu limit (a number, not null), toleration, node selector', () => {
    const pod = podOf(find(synth({ ...gkeProps, gpusPerWorker: 2 }), 'Deployment', 'kiosk-gpu-worker'));
    expect(pod.containers[0].resources.limits['nvidia.com/gpu']).toBe(2);
    expect(pod.tolerations).toEqual([
      { key: 'nvidia.com/gpu', operator: 'Equal', value: 'present', effect: 'NoSchedule' },
    ]);
    expect(pod.nodeSelector).toEqual({ 'kiosk.io/pool': 'gpu' });
    // A surge pod would need a spare GPU: GPU workers are replaced one at a time instead.
    expect(find(synth(gkeProps), 'Deployment', 'kiosk-gpu-worker').spec.strategy.rollingUpdate).toEqual({
      maxUnavailable: 1,
      maxSurge: 0,
    });
    const cpuPod = podOf(find(synth(gkeProps), 'Deployment', 'kiosk-cpu-worker'));
    expect(cpuPod.tolerations).toBeUndefined();
    expect(cpuPod.nodeSelector).toEqual({ 'kiosk.io/pool': 'cpu' });
  });

  it('keeps the training Job a suspended template on the GPU pool', () => {
    const job = find(synth(gkeProps), 'Job', 'kiosk-train');
    expect(job.spec.suspend).toBe(true);
    expect(podOf(job).restartPolicy).toBe('Never');
    expect(podOf(job).serviceAccountName).toBe('kiosk-trainer');
    expect(podOf(job).containers[0].resources.limits['nvidia.com/gpu']).toBe(1);
  });

  it('runs Redis with AOF, a PVC and the password from a Secret', () => {
    const sts = find(synth(gkeProps), 'StatefulSet', 'kiosk-redis');
    const c = podOf(sts).containers[0];
    expect(c.args.join(' ')).toMatch(/--appendonly yes.*--requirepass \$\(REDIS_PASSWORD\)/);
    expect(c.env[0].valueFrom.secretKeyRef).toEqual({ name: 'kiosk-redis', key: 'password' });
    expect(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('10Gi');
  });

  it('scales the GPU Deployment on the predict and train queues (the GPU worker takes training jobs)', () => {
    const pod = podOf(find(synth(gkeProps), 'Deployment', 'kiosk-autoscaler'));
    const env = Object.fromEntries(
      (pod.containers[0].env as { name: string; value?: string }[]).map((e) => [e.name, e.value]),
    );
    const gpu = configFromEnv(env).pools.find((p) => p.pool === 'gpu');
    expect(gpu?.target).toBe('kiosk-gpu-worker');
    expect(gpu?.queues).toEqual(expect.arrayContaining(['predict', 'train']));
  });

  it('scales each worker Deployment on every queue its pool takes (POOL_QUEUES): model imports wake the CPU pool', () => {
    const pod = podOf(find(synth(gkeProps), 'Deployment', 'kiosk-autoscaler'));
    const env = Object.fromEntries(
      (pod.containers[0].env as { name: string; value?: string }[]).map((e) => [e.name, e.value]),
    );
    const pools = configFromEnv(env).pools;
    expect(pools.find((p) => p.pool === 'cpu')?.target).toBe('kiosk-cpu-worker');
    for (const pool of ['cpu', 'gpu'] as const)
      expect([...pools.find((p) => p.pool === pool)!.queues].sort()).toEqual([...POOL_QUEUES[pool]].sort());
  });

  it('limits the autoscaler to get/patch deployments/scale of the two worker Deployments', () => {
    const role = find(synth(gkeProps), 'Role', 'kiosk-autoscaler') as unknown as { rules: unknown };
    expect(role.rules).toEqual([
      {
        apiGroups: ['apps'],
        resources: ['deployments/scale'],
        resourceNames: ['kiosk-cpu-worker', 'kiosk-gpu-worker'],
        verbs: ['get', 'patch'],
      },
    ]);
    const binding = find(synth(gkeProps), 'RoleBinding', 'kiosk-autoscaler') as unknown as {
      subjects: unknown;
    };
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'kiosk-autoscaler', namespace: 'cellkiosk' },
    ]);
  });

  it('denies all traffic by default and opens only DNS, Redis, the API port, HTTPS egress and the scrape', () => {
    const objs = synth(gkeProps);
    const names = objs.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.metadata.name);
    expect(names).toEqual([
      'kiosk-default-deny',
      'kiosk-allow-dns',
      'kiosk-redis-ingress',
      'kiosk-redis-clients-egress',
      'kiosk-api-ingress',
      'kiosk-https-egress',
      'kiosk-metrics-ingress', // GKE's Managed Prometheus collectors → the API port (issue 20 #2)
    ]);
    expect(find(objs, 'NetworkPolicy', 'kiosk-default-deny').spec).toEqual({
      podSelector: {},
      policyTypes: ['Ingress', 'Egress'],
    });
    expect(find(objs, 'NetworkPolicy', 'kiosk-redis-ingress').spec.ingress[0].ports).toEqual([
      { protocol: 'TCP', port: 6379 },
    ]);
    const gkeEgress = find(objs, 'NetworkPolicy', 'kiosk-https-egress').spec.egress;
    expect(gkeEgress.map((e: { to: { ipBlock: { cidr: string } }[] }) => e.to[0]!.ipBlock.cidr)).toContain(
      '169.254.169.252/32',
    );
    const eksEgress = find(synth(eksProps), 'NetworkPolicy', 'kiosk-https-egress').spec.egress;
    expect(eksEgress).toHaveLength(1);
  });

  it('annotates ServiceAccounts with workload identity (GKE) or IRSA role ARNs (EKS)', () => {
    expect(find(synth(gkeProps), 'ServiceAccount', 'kiosk-cpu-worker').metadata.annotations).toEqual({
      'iam.gke.io/gcp-service-account': 'lab1-cpu@lab-project.iam.gserviceaccount.com',
    });
    expect(find(synth(eksProps), 'ServiceAccount', 'kiosk-gpu-worker').metadata.annotations).toEqual({
      'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/lab1-kiosk-gpu-worker',
    });
  });

  it('uses provider defaults for the Ingress and adds the NVIDIA device plugin only on EKS', () => {
    const gke = synth(gkeProps);
    const eks = synth(eksProps);
    // GKE's controller only honours the annotation; with spec.ingressClassName set it would ignore the Ingress.
    expect(find(gke, 'Ingress', 'kiosk-api').spec.ingressClassName).toBeUndefined();
    expect(find(gke, 'Ingress', 'kiosk-api').metadata.annotations).toEqual({
      'kubernetes.io/ingress.class': 'gce',
    });
    expect(find(eks, 'Ingress', 'kiosk-api').spec.ingressClassName).toBe('alb');
    expect(gke.some((o) => o.kind === 'DaemonSet')).toBe(false);
    expect(find(eks, 'DaemonSet', 'nvidia-device-plugin').metadata.namespace).toBe('kube-system');
  });

  it('applies configured values over the defaults', () => {
    const objs = synth({
      ...gkeProps,
      namespace: 'lab-kiosk',
      domain: 'kiosk.example.org',
      apiReplicas: 3,
      ingressClassName: 'nginx',
      resources: { api: { cpuMillis: 500, memoryMiB: 1024 } },
    });
    const ingress = find(objs, 'Ingress', 'kiosk-api');
    expect(ingress.metadata.namespace).toBe('lab-kiosk');
    expect(ingress.spec.rules[0].host).toBe('kiosk.example.org');
    expect(ingress.spec.ingressClassName).toBe('nginx');
    expect(ingress.metadata.annotations).toBeUndefined();
    const api = find(objs, 'Deployment', 'kiosk-api');
    expect(api.spec.replicas).toBe(3);
    expect(podOf(api).containers[0].resources).toEqual({
      requests: { cpu: '500m', memory: '1024Mi' },
      limits: { cpu: '1000m', memory: '1024Mi' },
    });
  });

  it.each([
    [{ gpusPerWorker: 0 }, /'gpusPerWorker' \(0\) must be an integer in 1\.\.16/],
    [{ gpuWorkerMaxReplicas: -1 }, /'gpuWorkerMaxReplicas' \(-1\) must be an integer in 0\.\.1000/],
    [{ domain: 'Kiosk_Example' }, /'domain' \('Kiosk_Example'\) must be a lowercase DNS name/],
    [{ apiReplicas: 1.5 }, /'api\.replicas' \(1\.5\) must be an integer/],
    [
      { resources: { api: { cpuMillis: 500, memoryMiB: 512, memoryLimitMiB: 256 } } },
      /'api\.resources\.memoryLimitMiB' \(256\) must be an integer in 512\.\./,
    ],
  ])('rejects %j', (override, message) => {
    expect(() => synth({ ...gkeProps, ...override })).toThrow(message);
  });
});

type Env = { name: string; value?: string }[];
type Volume = { name: string; emptyDir?: { sizeLimit?: string } };
type Mount = { name: string; mountPath: string };
const envOf = (c: { env?: Env }) =>
  Object.fromEntries((c.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
/** Every kiosk container (it has KIOSK_ROLE) with its pod, from Deployments and the training Job. */
const kioskContainers = (objs: Manifest[]) =>
  objs
    .filter((o) => ['Deployment', 'Job'].includes(o.kind))
    .flatMap((o) => {
      const pod = podOf(o as never);
      return (pod.containers as { env?: Env; volumeMounts?: Mount[] }[])
        .filter((c) => c.env?.some((e) => e.name === 'KIOSK_ROLE'))
        .map((c) => ({ c, pod, role: envOf(c).KIOSK_ROLE! }));
    });
const mebibytes = (q: string) => {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  if (!m) throw new Error(`unexpected quantity ${q}`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
};

describe('KioskChart: writable paths and roles (issue 17)', () => {
  it.each([
    ['gke', gkeProps],
    ['eks', eksProps],
  ])(
    '%s: every kiosk role keeps its model cache on a writable emptyDir, the GPU roles on one sized for models',
    (_p, props) => {
      const found = kioskContainers(synth(props));
      expect(found.map((f) => f.role).sort()).toEqual([
        'api',
        'autoscaler',
        'cpu-worker',
        'gpu-worker',
        'trainer',
      ]);
      for (const { c, pod, role } of found) {
        // The path the kiosk itself computes from the container's environment (core/config.ts).
        const dir = loadConfig({ ...envOf(c), REDIS_URL: 'redis://redis:6379' }).modelCacheDir;
        expect(dir, role).toMatch(/^\//); // a relative default would land under /app: the read-only root
        const mount = (c.volumeMounts ?? []).find(
          (m) => dir === m.mountPath || dir.startsWith(`${m.mountPath}/`),
        );
        expect(mount, `${role}: ${dir} is on no volume`).toBeDefined();
        const volume = (pod.volumes as Volume[]).find((v) => v.name === mount!.name);
        expect(volume?.emptyDir, role).toBeDefined();
        if (role === 'gpu-worker' || role === 'trainer') {
          // Loaded bucket models are copied there: a volume of its own, so models never eat the scratch space.
          expect(mount!.mountPath, role).not.toBe('/tmp');
          // models/nuclear/1 is 16 MiB; room for dozens of trained versions.
          expect(mebibytes(volume!.emptyDir!.sizeLimit!), role).toBeGreaterThanOrEqual(1024);
        }
      }
    },
  );

  it('runs training inside the GPU worker: KIOSK_GPU_TRAIN=1 on the Deployment the autoscaler scales on train', () => {
    const objs = synth(gkeProps);
    const scaler = podOf(find(objs, 'Deployment', 'kiosk-autoscaler')).containers[0] as { env: Env };
    const trainPool = configFromEnv(envOf(scaler)).pools.find((p) => p.queues.includes('train'));
    expect(trainPool).toBeDefined();
    const target = podOf(find(objs, 'Deployment', trainPool!.target)).containers[0] as { env: Env };
    expect(envOf(target).KIOSK_GPU_TRAIN).toBe('1');
    // It trains in its /tmp, as the dedicated trainer Job does: the same room for a training run.
    const scratch = (name: string, kind: string) =>
      (podOf(find(objs, kind, name)).volumes as Volume[]).find((v) => v.name === 'tmp')!.emptyDir!.sizeLimit;
    expect(scratch(trainPool!.target, 'Deployment')).toBe(scratch('kiosk-train', 'Job'));
  });
});

describe("KioskChart: the API trusts its own Ingress's load balancer hops (issue 18 #10, KIOSK_TRUST_PROXY)", () => {
  const apiEnv = (props: KioskChartProps) =>
    envOf(podOf(find(synth(props), 'Deployment', 'kiosk-api')).containers[0] as { env: Env });

  it.each([
    // GKE's load balancer appends "<client>, <forwarding rule>"; its proxy is the TCP peer
    ['gke', gkeProps, '2', 2],
    // the ALB (IP targets) appends "<client>"; the ALB node is the TCP peer
    ['eks', eksProps, '1', 1],
  ])(
    '%s: KIOSK_TRUST_PROXY=%s on the API, which the API reads as that many hops',
    (_p, props, value, hops) => {
      const env = apiEnv(props);
      expect(env.KIOSK_TRUST_PROXY).toBe(value);
      expect(loadConfig({ ...env, REDIS_URL: 'redis://redis:6379' }).trustProxy).toBe(hops);
      // only the API answers clients; the workers and the autoscaler do not get it
      for (const name of ['kiosk-cpu-worker', 'kiosk-gpu-worker', 'kiosk-autoscaler']) {
        const c = podOf(find(synth(props), 'Deployment', name)).containers[0] as { env: Env };
        expect(envOf(c).KIOSK_TRUST_PROXY, name).toBeUndefined();
      }
    },
  );

  it('a third-party ingress class leaves it unset unless given; a given value is passed on, a bad one refused', () => {
    expect(apiEnv({ ...gkeProps, ingressClassName: 'nginx' }).KIOSK_TRUST_PROXY).toBeUndefined();
    expect(apiEnv({ ...eksProps, ingressClassName: 'nginx' }).KIOSK_TRUST_PROXY).toBeUndefined();
    expect(apiEnv({ ...gkeProps, trustProxy: false }).KIOSK_TRUST_PROXY).toBeUndefined();
    const nginx = apiEnv({ ...eksProps, ingressClassName: 'nginx', trustProxy: ['10.0.0.0/16', 'fd00::/8'] });
    expect(nginx.KIOSK_TRUST_PROXY).toBe('10.0.0.0/16,fd00::/8');
    expect(loadConfig({ ...nginx, REDIS_URL: 'redis://redis:6379' }).trustProxy).toEqual([
      '10.0.0.0/16',
      'fd00::/8',
    ]);
    expect(apiEnv({ ...gkeProps, trustProxy: 3 }).KIOSK_TRUST_PROXY).toBe('3');
    expect(() => synth({ ...gkeProps, trustProxy: 0 })).toThrow(
      /'trustProxy' \(0\) must be an integer in 1..64/,
    );
    expect(() => synth({ ...eksProps, trustProxy: ['the ingress'] })).toThrow(/'trustProxy'/);
    expect(() => synth({ ...eksProps, trustProxy: [] })).toThrow(/'trustProxy'/);
  });
});

describe('KioskChart: the Redis volume gets a storage class that exists (issue 17)', () => {
  const pvcClass = (objs: Manifest[]) =>
    find(objs, 'StatefulSet', 'kiosk-redis').spec.volumeClaimTemplates[0].spec.storageClassName as string;

  it('EKS (no default class from 1.30): a gp3 class of the EBS CSI driver, encrypted, bound where Redis lands', () => {
    const objs = synth(eksProps);
    const sc = find(objs, 'StorageClass', pvcClass(objs)) as unknown as Record<string, unknown>;
    expect(sc).toMatchObject({
      apiVersion: 'storage.k8s.io/v1',
      provisioner: 'ebs.csi.aws.com',
      volumeBindingMode: 'WaitForFirstConsumer',
      parameters: { type: 'gp3', encrypted: 'true' },
    });
    expect((sc.metadata as { namespace?: string }).namespace).toBeUndefined(); // cluster-scoped
  });

  it("GKE: names GKE's own standard-rwo (PD CSI) class and synthesizes none", () => {
    const objs = synth(gkeProps);
    expect(pvcClass(objs)).toBe('standard-rwo');
    expect(objs.some((o) => o.kind === 'StorageClass')).toBe(false);
  });
});

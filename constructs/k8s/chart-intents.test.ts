import { Testing } from 'cdk8s';
import { k8s } from 'cdk8s-plus-34';
import { describe, expect, it } from 'vitest';
import { KioskChart, type KioskChartProps } from './kiosk-chart.js';
import { componentLabels } from './pod-defaults.js';
import { validateManifests, type Manifest } from './testing/validate-manifests.js';

const props: KioskChartProps = {
  identity: { provider: 'gke', project: 'lab-project', name: 'lab1' },
  bucketName: 'lab1-data',
  images: {
    api: 'reg.example/cellkiosk:1',
    cpuWorker: 'reg.example/cellkiosk:1',
    gpuWorker: 'reg.example/cellkiosk-gpu:1',
    autoscaler: 'reg.example/cellkiosk:1',
  },
  region: 'us-central1',
};
const chartOf = (p: KioskChartProps = props) => new KioskChart(Testing.app(), 'kiosk', p);
const synth = (chart: KioskChart) => Testing.synth(chart) as Manifest[];
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Manifest & { spec: any };
const find = (objs: Manifest[], kind: string, name: string): Obj => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o as Obj;
};

const shipper: k8s.Container = {
  name: 'log-shipper',
  image: 'reg.example/fluent-bit:3',
  args: ['-c', '/etc/fluent-bit/fluent-bit.conf'],
  ports: [{ name: 'metrics', containerPort: 2020 }],
  volumeMounts: [{ name: 'shipper-config', mountPath: '/etc/fluent-bit' }],
  resources: {
    requests: { cpu: k8s.Quantity.fromString('50m'), memory: k8s.Quantity.fromString('64Mi') },
    limits: { cpu: k8s.Quantity.fromString('200m'), memory: k8s.Quantity.fromString('128Mi') },
  },
};

describe('KioskChart exposes what it made (issue 20 #6)', () => {
  it('names the workloads, the API service, Redis, the training Job and the policies as they synthesize', () => {
    const chart = chartOf();
    const objs = synth(chart);
    expect(chart.api.name).toBe('kiosk-api');
    expect(
      find(objs, 'Deployment', chart.workers.cpu.deployment.name).spec.template.spec.containers[0].name,
    ).toBe('cpu-worker');
    expect(chart.workers.gpu.deployment.name).toBe('kiosk-gpu-worker');
    expect(chart.autoscaler.role).toBe('autoscaler');
    expect(find(objs, 'Service', chart.apiService.name).spec.selector).toEqual(chart.api.labels);
    expect(chart.trainingJob.name).toBe('kiosk-train');
    expect(chart.redis.serviceName).toMatch(/redis/);
    expect(chart.api.podDisruptionBudget?.name).toBe('kiosk-api');
    expect(chart.workers.cpu.serviceAccount.name).toBe('kiosk-cpu-worker');
  });

  it('runs the training Job on images.trainer when given (the GPU image training target), else on gpuWorker', () => {
    const image = (p: KioskChartProps) =>
      find(synth(chartOf(p)), 'Job', 'kiosk-train').spec.template.spec.containers[0].image;
    expect(image(props)).toBe('reg.example/cellkiosk-gpu:1');
    expect(
      image({ ...props, images: { ...props.images, trainer: 'reg.example/cellkiosk-gpu-train:1' } }),
    ).toBe('reg.example/cellkiosk-gpu-train:1');
  });
});

describe('KioskChart.addSidecar', () => {
  it('adds the container and its volumes to the pod, restricted by default, and the objects stay schema-valid', () => {
    const chart = chartOf();
    chart.addSidecar(chart.api, shipper, {
      volumes: [{ name: 'shipper-config', configMap: { name: 'lab-fluent-bit' } }],
    });
    const objs = synth(chart);
    expect(validateManifests(objs)).toBeGreaterThan(20);
    const pod = find(objs, 'Deployment', 'kiosk-api').spec.template.spec;
    expect(pod.containers.map((c: { name: string }) => c.name)).toEqual(['api', 'log-shipper']);
    const side = pod.containers[1];
    expect(side.resources.limits).toEqual({ cpu: '200m', memory: '128Mi' });
    expect(side.securityContext).toEqual(pod.containers[0].securityContext);
    expect(side.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.volumes.map((v: { name: string }) => v.name)).toContain('shipper-config');
    // Only the API changed.
    const cpu = find(objs, 'Deployment', 'kiosk-cpu-worker').spec.template.spec;
    expect(cpu.containers).toHaveLength(1);
  });

  it('keeps a securityContext the lab gives, works on the training Job, and refuses a name the pod has', () => {
    const chart = chartOf();
    chart.addSidecar(chart.trainingJob, {
      ...shipper,
      volumeMounts: [],
      securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: false },
    });
    const job = find(synth(chart), 'Job', 'kiosk-train').spec.template.spec;
    expect(job.containers[1].securityContext).toEqual({ runAsNonRoot: true, readOnlyRootFilesystem: false });
    expect(() => chart.addSidecar(chart.trainingJob, { ...shipper, volumeMounts: [] })).toThrow(
      /sidecar 'log-shipper': the pod of kiosk-train already has a container of that name \(trainer, log-shipper\)/,
    );
    expect(() => chart.addSidecar(chart.workers.gpu, { name: 'gpu-worker', image: 'x' })).toThrow(
      /already has a container of that name \(gpu-worker\)/,
    );
  });
});

describe('KioskChart.allowFrom / allowTo', () => {
  it("admits a lab's own traffic through the default deny with a NetworkPolicy of its own", () => {
    const chart = chartOf();
    chart.addSidecar(chart.api, { ...shipper, volumeMounts: [] });
    const scrape = chart.allowFrom(
      chart.api,
      { namespaceLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
      { ports: [2020] },
    );
    chart.allowTo(chart.workers.gpu, { cidr: '10.20.0.0/16' }, { ports: [24224], name: 'lab-log-collector' });
    chart.allowFrom(chart.trainingJob, { podLabels: { app: 'lab-debugger' } }, { ports: [9229] });
    const objs = synth(chart);
    expect(validateManifests(objs)).toBeGreaterThan(20);

    const from = find(objs, 'NetworkPolicy', scrape.name).spec;
    expect(scrape.name).toBe('kiosk-allow-api-from-1');
    expect(from.podSelector.matchLabels).toEqual(chart.api.labels);
    expect(from.policyTypes).toEqual(['Ingress']);
    expect(from.ingress).toEqual([
      {
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
        ports: [{ protocol: 'TCP', port: 2020 }],
      },
    ]);
    const to = find(objs, 'NetworkPolicy', 'lab-log-collector').spec;
    expect(to.podSelector.matchLabels).toEqual(chart.workers.gpu.labels);
    expect(to.egress).toEqual([
      { to: [{ ipBlock: { cidr: '10.20.0.0/16' } }], ports: [{ protocol: 'TCP', port: 24224 }] },
    ]);
    const job = find(objs, 'NetworkPolicy', 'kiosk-allow-trainer-from-3').spec;
    expect(job.podSelector.matchLabels).toEqual(componentLabels('trainer'));
    expect(job.ingress[0].from).toEqual([{ podSelector: { matchLabels: { app: 'lab-debugger' } } }]);
    // The chart's own policies are all still there.
    expect(objs.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.metadata.name)).toContain(
      'kiosk-default-deny',
    );
  });

  it('refuses no ports, a bad port and a bad range, naming the value', () => {
    const chart = chartOf();
    expect(() => chart.allowFrom(chart.api, { cidr: '10.0.0.0/8' }, { ports: [] })).toThrow(
      /at least one port/,
    );
    expect(() => chart.allowFrom(chart.api, { cidr: '10.0.0.0/8' }, { ports: [70000] })).toThrow(/port/);
    expect(() => chart.allowTo(chart.api, { cidr: 'lab.example.org' }, { ports: [443] })).toThrow(
      /peer cidr 'lab\.example\.org' must be an address range such as 10\.20\.0\.0\/16/,
    );
  });
});

describe("KioskChart composed with a lab's own objects", () => {
  it('takes objects a lab adds to the chart next to its own, synthesized into the same manifest', () => {
    const chart = chartOf();
    new k8s.KubeConfigMap(chart, 'lab-fluent-bit', {
      metadata: { name: 'lab-fluent-bit', namespace: chart.namespaceName },
      data: { 'fluent-bit.conf': '[INPUT]\n    Name tail\n' },
    });
    const objs = synth(chart);
    expect(find(objs, 'ConfigMap', 'lab-fluent-bit').metadata.namespace).toBe('cellkiosk');
    expect(validateManifests(objs)).toBeGreaterThan(20);
  });
});

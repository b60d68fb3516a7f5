import { Testing } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { KioskChart, type KioskChartProps } from './kiosk-chart.js';
import { validateManifests, type Manifest } from './testing/validate-manifests.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- synthesized manifests are untyped */
const images = {
  api: 'reg.example/cellkiosk:1',
  cpuWorker: 'reg.example/cellkiosk:1',
  gpuWorker: 'reg.example/cellkiosk-gpu:1',
  autoscaler: 'reg.example/cellkiosk:1',
};
const domain = 'kiosk.lab1.example.org';
const gke: KioskChartProps = {
  identity: { provider: 'gke', project: 'lab-project', name: 'lab1' },
  bucketName: 'lab1-data',
  images,
  region: 'us-central1',
  domain,
};
const eks: KioskChartProps = {
  identity: { provider: 'eks', accountId: '123456789012', name: 'lab1' },
  bucketName: 'lab1-data',
  images,
  region: 'us-east-1',
  domain,
};
const synth = (props: KioskChartProps) =>
  Testing.synth(new KioskChart(Testing.app(), 'kiosk', props)) as (Manifest & { spec?: any })[];
const find = (objs: (Manifest & { spec?: any })[], kind: string, name: string) => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o as Manifest & { spec: any; data?: any; metadata: any };
};
const noDomain = ({ domain: _d, ...rest }: KioskChartProps): KioskChartProps => rest;

describe('KioskChart: HTTPS by default with a domain (issue 20 #1)', () => {
  it('GKE: a managed certificate, a FrontendConfig redirecting HTTP (301), the static IP, all schema-valid', () => {
    const objs = synth(gke);
    expect(validateManifests(objs)).toBe(objs.length);
    expect(find(objs, 'ManagedCertificate', 'kiosk-api').spec).toEqual({ domains: [domain] });
    expect(find(objs, 'FrontendConfig', 'kiosk-api').spec).toEqual({
      redirectToHttps: { enabled: true, responseCodeName: 'MOVED_PERMANENTLY_DEFAULT' },
    });
    const ingress = find(objs, 'Ingress', 'kiosk-api');
    expect(ingress.metadata.annotations).toEqual({
      'kubernetes.io/ingress.class': 'gce',
      'kubernetes.io/ingress.global-static-ip-name': 'lab1-web',
      'networking.gke.io/managed-certificates': 'kiosk-api',
      'networking.gke.io/v1beta1.FrontendConfig': 'kiosk-api',
    });
    expect(ingress.spec.rules[0].host).toBe(domain);
    // GKE would read spec.tls as a pre-shared certificate Secret: the managed one goes by annotation only.
    expect(ingress.spec.tls).toBeUndefined();
  });

  it('EKS: an HTTPS listener on the ALB (ACM certificate found from the host), HTTP redirected to 443', () => {
    const objs = synth(eks);
    expect(validateManifests(objs)).toBe(objs.length);
    const ingress = find(objs, 'Ingress', 'kiosk-api');
    expect(ingress.metadata.annotations).toMatchObject({
      'alb.ingress.kubernetes.io/listen-ports': '[{"HTTP": 80}, {"HTTPS": 443}]',
      'alb.ingress.kubernetes.io/ssl-redirect': '443',
      'alb.ingress.kubernetes.io/ssl-policy': 'ELBSecurityPolicy-TLS13-1-2-2021-06',
    });
    expect(JSON.parse(ingress.metadata.annotations['alb.ingress.kubernetes.io/listen-ports'])).toEqual([
      { HTTP: 80 },
      { HTTPS: 443 },
    ]);
    expect(ingress.spec.tls).toEqual([{ hosts: [domain] }]);
    expect(objs.filter((o) => o.kind === 'ManagedCertificate' || o.kind === 'FrontendConfig')).toEqual([]);
    const arn = 'arn:aws:acm:us-east-1:123456789012:certificate/abc';
    const pinned = find(synth({ ...eks, certificateArn: arn }), 'Ingress', 'kiosk-api');
    expect(pinned.metadata.annotations['alb.ingress.kubernetes.io/certificate-arn']).toBe(arn);
  });

  it('serves plain HTTP without a domain or with tls: false, and refuses tls without a domain', () => {
    for (const props of [noDomain(gke), { ...gke, tls: false }]) {
      const objs = synth(props);
      expect(objs.filter((o) => o.kind === 'ManagedCertificate' || o.kind === 'FrontendConfig')).toEqual([]);
      const a = find(objs, 'Ingress', 'kiosk-api').metadata.annotations as Record<string, string>;
      expect(Object.keys(a).filter((k) => k.startsWith('networking.gke.io'))).toEqual([]);
    }
    const eksHttp = find(synth(noDomain(eks)), 'Ingress', 'kiosk-api');
    expect(eksHttp.metadata.annotations['alb.ingress.kubernetes.io/listen-ports']).toBeUndefined();
    expect(eksHttp.spec.tls).toBeUndefined();
    expect(() => synth({ ...noDomain(gke), tls: true })).toThrow(/'tls' \(true\) needs 'domain'/);
  });

  it('a third-party ingress class gets spec.tls with the Secret its controller or cert-manager fills', () => {
    const ingress = find(synth({ ...eks, ingressClassName: 'nginx' }), 'Ingress', 'kiosk-api');
    expect(ingress.spec.tls).toEqual([{ hosts: [domain], secretName: 'kiosk-api-tls' }]);
  });

  it('the shape checks of the custom resources refuse what their controllers would', () => {
    const objs = synth(gke);
    const mutate = (kind: string, f: (o: any) => void) => {
      const o = JSON.parse(JSON.stringify(objs.find((x) => x.kind === kind)));
      f(o);
      return () => validateManifests([o]);
    };
    expect(mutate('ManagedCertificate', (o) => (o.spec.domains = []))).toThrow(
      /spec\.domains must list 1\.\.100/,
    );
    expect(mutate('ManagedCertificate', (o) => (o.spec.domains = ['*.example.org']))).toThrow(
      /not a DNS name/,
    );
    expect(mutate('FrontendConfig', (o) => (o.spec.redirectToHttps.responseCodeName = 'MOVED'))).toThrow(
      /responseCodeName must be one of MOVED_PERMANENTLY_DEFAULT/,
    );
    expect(mutate('FrontendConfig', (o) => (o.spec.redirectToHttp = {}))).toThrow(
      /unknown field spec\.redirectToHttp/,
    );
    expect(mutate('PodMonitoring', (o) => (o.spec.endpoints = []))).toThrow(/spec\.endpoints must list/);
    expect(mutate('PodMonitoring', (o) => (o.spec.endpoints[0].interval = '30'))).toThrow(
      /must be a duration/,
    );
    expect(mutate('PodMonitoring', (o) => delete o.metadata.namespace)).toThrow(
      /metadata\.namespace is required/,
    );
  });
});

describe('KioskChart: /metrics is scraped out of the box (issue 20 #2)', () => {
  it('GKE: a PodMonitoring of the API port /metrics, and the GMP collectors admitted to that port', () => {
    const objs = synth(gke);
    const api = find(objs, 'Deployment', 'kiosk-api');
    const pm = find(objs, 'PodMonitoring', 'kiosk-api');
    expect(pm.spec.selector.matchLabels).toEqual(api.spec.selector.matchLabels);
    const portNames = api.spec.template.spec.containers[0].ports.map((p: any) => p.name);
    expect(portNames).toContain(pm.spec.endpoints[0].port);
    expect(pm.spec.endpoints[0]).toMatchObject({ path: '/metrics', interval: '30s' });
    const np = find(objs, 'NetworkPolicy', 'kiosk-metrics-ingress');
    expect(np.spec.podSelector.matchLabels).toEqual(api.spec.selector.matchLabels);
    expect(np.spec.ingress).toEqual([
      {
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'gmp-system' } } }],
        ports: [{ protocol: 'TCP', port: 8080 }],
      },
    ]);
    expect(objs.filter((o) => o.metadata.name === 'kiosk-prometheus')).toEqual([]);
  });

  it('EKS: a restricted Prometheus that finds the API pods (and only may list pods), admitted both ways', () => {
    const objs = synth(eks);
    const api = find(objs, 'Deployment', 'kiosk-api');
    const apiLabels = api.spec.template.metadata.labels as Record<string, string>;
    const prom = find(objs, 'StatefulSet', 'kiosk-prometheus');
    const pod = prom.spec.template.spec;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.containers[0].securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(prom.spec.volumeClaimTemplates[0].spec.storageClassName).toBe('kiosk-gp3');
    expect(find(objs, 'Role', 'kiosk-prometheus').rules).toEqual([
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
    ]);
    // The scrape config keeps exactly the pods whose labels are the API's, on its named port.
    const config = parse(find(objs, 'ConfigMap', 'kiosk-prometheus').data['prometheus.yml']);
    const job = config.scrape_configs[0];
    expect(job.kubernetes_sd_configs).toEqual([{ role: 'pod', namespaces: { names: ['cellkiosk'] } }]);
    const meta = (labels: Record<string, string>, port: string): Record<string, string> => ({
      ...Object.fromEntries(
        Object.entries(labels).map(([k, v]) => [
          `__meta_kubernetes_pod_label_${k.replace(/[^a-zA-Z0-9_]/g, '_')}`,
          v,
        ]),
      ),
      __meta_kubernetes_pod_container_port_name: port,
    });
    const kept = (m: Record<string, string>) =>
      job.relabel_configs
        .filter((r: any) => r.action === 'keep')
        .every((r: any) =>
          new RegExp(`^(?:${r.regex})$`).test(r.source_labels.map((l: string) => m[l] ?? '').join(';')),
        );
    expect(kept(meta(apiLabels, 'http'))).toBe(true);
    const worker = find(objs, 'Deployment', 'kiosk-cpu-worker').spec.template.metadata.labels;
    expect(kept(meta(worker, 'http'))).toBe(false);
    expect(kept(meta(apiLabels, 'other'))).toBe(false);
    // Default deny stays; the scrape path is opened at both ends.
    const promLabels = prom.spec.selector.matchLabels;
    expect(find(objs, 'NetworkPolicy', 'kiosk-metrics-ingress').spec.ingress[0].from).toEqual([
      { podSelector: { matchLabels: promLabels } },
    ]);
    expect(find(objs, 'NetworkPolicy', 'kiosk-prometheus-scrape-egress').spec.egress[0]).toEqual({
      to: [{ podSelector: { matchLabels: api.spec.selector.matchLabels } }],
      ports: [{ protocol: 'TCP', port: 8080 }],
    });
    expect(validateManifests(objs)).toBe(objs.length);
  });

  it('monitoring: false leaves it out', () => {
    const objs = synth({ ...eks, monitoring: false });
    expect(objs.filter((o) => o.metadata.name.includes('prometheus') || o.kind === 'PodMonitoring')).toEqual(
      [],
    );
  });
});

describe('KioskChart on EKS: a default StorageClass (issue 20 #3)', () => {
  it('marks kiosk-gp3 the cluster default, so a PVC without a class binds', () => {
    const sc = find(synth(eks), 'StorageClass', 'kiosk-gp3');
    expect(sc.metadata.annotations).toEqual({ 'storageclass.kubernetes.io/is-default-class': 'true' });
  });
});

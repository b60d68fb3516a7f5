/**
 * The deploy rehearsal's readers, on the chart and the Terraform that `kiosk synth` writes for the rehearsal
 * lab: the pod → `podman run` translation, the IAM evaluator and the RBAC check. The rehearsal itself
 * (`npm run test:deploy`) runs them against real containers; these pin down the translation rules.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLabConfig } from '../../infra/lab-config.js';
import { synthLab } from '../../infra/lab-stack.js';
import {
  chartLookups,
  expandEnv,
  podRunArgs,
  quantityBytes,
  readManifests,
  serviceNamesFor,
  workloadsOf,
  type K8sObject,
} from './chart-to-podman.js';
import { iamDenial, readRolePolicies, type RolePolicies } from './iam-policy.js';
import { rbacAllows, rulesFor } from './kube-api.js';

let dir: string;
let objects: K8sObject[];
let policies: RolePolicies;
const BUCKET = 'rehearsal-kiosk-data';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'chart-to-podman-'));
  const config = await loadLabConfig('test/deploy/rehearsal-lab.json');
  const { terraformDir, kubernetesDir } = synthLab(config, {
    terraformDir: join(dir, 'tf'),
    kubernetesDir: join(dir, 'k8s'),
  });
  objects = readdirSync(kubernetesDir).flatMap((f) =>
    readManifests(readFileSync(join(kubernetesDir, f), 'utf8')),
  );
  policies = readRolePolicies(join(terraformDir, 'stacks/kiosk/cdk.tf.json'), config.name);
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('chart → podman run', () => {
  const lookups = () => chartLookups(objects, { 'kiosk-redis': { password: 'pw' } });
  const argsFor = (name: string, extra: Partial<Parameters<typeof podRunArgs>[1]> = {}) => {
    const w = workloadsOf(objects).find((x) => x.name === name)!;
    return podRunArgs(w.pod, {
      podName: `${name}-1`,
      network: 'net',
      aliases: serviceNamesFor(objects, w.labels),
      lookups: lookups(),
      labels: {},
      envFile: '/tmp/x.env',
      claimVolumes: Object.fromEntries(w.claims.map((c) => [c, `${c}-vol`])),
      serviceAccountDir: '/sa',
      kubernetesService: { host: '10.0.0.1', port: 443 },
      ...extra,
    });
  };

  it('runs Redis as the StatefulSet says: uid 999, read-only, its volume, the password expanded into args', () => {
    const r = argsFor('kiosk-redis');
    expect(r.user).toBe('999:999');
    expect(r.args).toContain('--read-only');
    expect(r.args).toContain('--cap-drop=all');
    expect(r.args.join(' ')).toContain('-v data-vol:/data:U');
    expect(r.args.join(' ')).toMatch(/--requirepass pw\b/);
    expect(r.args).toContain('--network-alias');
    expect(r.args[r.args.indexOf('--network-alias') + 1]).toBe('kiosk-redis');
    expect(r.args[r.args.indexOf('--entrypoint') + 1]).toBe('["redis-server"]');
  });

  it('gives the API its env with $(REDIS_PASSWORD) expanded, a /tmp tmpfs of its sizeLimit and its memory limit', () => {
    const r = argsFor('kiosk-api');
    expect(r.env.get('REDIS_URL')).toBe('redis://:pw@kiosk-redis:6379');
    expect(r.env.get('KIOSK_AUTH')).toBe('tokens');
    expect(r.user).toBe('1000:1000');
    expect(r.args.join(' ')).toContain(`type=tmpfs,destination=/tmp,tmpfs-size=${1024 * 2 ** 20}`);
    expect(r.args[r.args.indexOf('--memory') + 1]).toBe(String(1024 * 2 ** 20));
    expect(r.args.slice(-3)).toEqual([
      expect.stringContaining('/cellkiosk:rehearsal'),
      'start',
      '--role=api',
    ]);
  });

  it('mounts the service-account folder only where the chart automounts a token (the autoscaler)', () => {
    expect(argsFor('kiosk-autoscaler').args.join(' ')).toContain(
      '/sa:/var/run/secrets/kubernetes.io/serviceaccount:ro',
    );
    expect(argsFor('kiosk-autoscaler').env.get('KUBERNETES_SERVICE_HOST')).toBe('10.0.0.1');
    expect(argsFor('kiosk-cpu-worker').args.join(' ')).not.toContain('serviceaccount');
  });

  it('refuses what it cannot mirror instead of running something else', () => {
    expect(() => argsFor('kiosk-api', { lookups: chartLookups(objects, {}) })).toThrow(
      /secret kiosk-redis has no key password/,
    );
    const w = workloadsOf(objects).find((x) => x.name === 'kiosk-api')!;
    const rootPod = { ...w.pod, securityContext: { ...w.pod.securityContext, runAsUser: 0 } };
    expect(() =>
      podRunArgs(rootPod, {
        podName: 'p',
        network: 'n',
        aliases: [],
        lookups: lookups(),
        labels: {},
        envFile: 'f',
      }),
    ).toThrow(/runAsNonRoot/);
  });

  it('expands $(VAR) like the kubelet: earlier variables only, $$ escapes, unknown references stay', () => {
    const env = new Map([['A', 'x']]);
    expect(expandEnv('$(A)-$(B)-$$(A)', env)).toBe('x-$(B)-$(A)');
    expect(quantityBytes('64Mi')).toBe(64 * 2 ** 20);
    expect(quantityBytes('1G')).toBe(1e9);
    expect(() => quantityBytes('lots')).toThrow(/unsupported quantity/);
  });
});

describe('IAM policies read from the synthesized stack', () => {
  const allowed = (
    role: Parameters<typeof iamDenial>[1],
    action: Parameters<typeof iamDenial>[2]['action'],
    keyOrPrefix: string,
  ) =>
    iamDenial(
      policies,
      role,
      action === 's3:ListBucket'
        ? { action, bucket: BUCKET, prefix: keyOrPrefix }
        : { action, bucket: BUCKET, key: keyOrPrefix },
    ) === undefined;

  it('allows each role what the grant table gives it and nothing else', () => {
    expect(allowed('api', 's3:PutObject', 'uploads/lab/1/a.png')).toBe(true);
    expect(allowed('api', 's3:PutObject', 'models/nuclear/9/card.json')).toBe(false);
    expect(allowed('cpu-worker', 's3:GetObject', 'uploads/lab/1/a.png')).toBe(true);
    expect(allowed('cpu-worker', 's3:PutObject', 'uploads/lab/1/a.png')).toBe(false);
    // a model import is published by the CPU worker, never by the internet-facing API
    expect(allowed('cpu-worker', 's3:PutObject', 'models/fg-web/1/card.json')).toBe(true);
    expect(allowed('autoscaler', 's3:GetObject', 'models/nuclear/1/card.json')).toBe(false);
    expect(allowed('api', 's3:ListBucket', 'models/')).toBe(true);
    expect(allowed('api', 's3:ListBucket', '')).toBe(false);
    expect(allowed('gpu-worker', 's3:GetObject', 'other-bucket/x')).toBe(false);
  });

  it('checks the bucket in the resource ARN', () => {
    expect(
      iamDenial(policies, 'api', { action: 's3:GetObject', bucket: 'someone-else', key: 'models/a' }),
    ).toMatch(/does not allow/);
  });
});

describe("the chart's RBAC, as the stand-in API server applies it", () => {
  it('lets the autoscaler get and patch the worker Deployments’ scale, nothing else', () => {
    const rules = rulesFor(objects, 'cellkiosk', 'kiosk-autoscaler');
    expect(rbacAllows(rules, 'patch', 'deployments/scale', 'kiosk-gpu-worker')).toBe(true);
    expect(rbacAllows(rules, 'get', 'deployments/scale', 'kiosk-cpu-worker')).toBe(true);
    expect(rbacAllows(rules, 'patch', 'deployments/scale', 'kiosk-api')).toBe(false);
    expect(rbacAllows(rules, 'delete', 'deployments/scale', 'kiosk-gpu-worker')).toBe(false);
    expect(rulesFor(objects, 'cellkiosk', 'kiosk-api')).toEqual([]);
  });
});

/**
 * The Kubernetes driver with a FAKE API CLIENT (no API server runs here): the requests it would send for a
 * given queue state are captured and checked against the Kubernetes types (kubernetes-models' autoscaling/v1
 * Scale schema), and — through the real generated AppsV1Api with a fake HTTP transport — as the HTTP
 * request the client library would put on the wire (method, path, Content-Type, body).
 */
import {
  ApiException,
  AppsV1Api,
  createConfiguration,
  ResponseContext,
  ServerConfiguration,
  wrapHttpLibrary,
  type AppsV1ApiPatchNamespacedDeploymentScaleRequest,
  type AppsV1ApiReadNamespacedDeploymentScaleRequest,
  type ConfigurationOptions,
  type RequestContext,
  type V1Scale,
} from '@kubernetes/client-node';
import { Scale } from 'kubernetes-models/autoscaling/v1';
import { describe, expect, it } from 'vitest';
import { configFromEnv } from './config.js';
import {
  inClusterNamespace,
  KubernetesDriver,
  KubernetesScaleError,
  scalePatch,
  type DeploymentScaleApi,
} from './drivers/kubernetes.js';
import { decideAll, type QueueCounts } from './policy.js';

/** A fake API client: Deployments' scale held in memory; every request recorded. */
class FakeScaleApi implements DeploymentScaleApi {
  readonly reads: AppsV1ApiReadNamespacedDeploymentScaleRequest[] = [];
  readonly patches: {
    param: AppsV1ApiPatchNamespacedDeploymentScaleRequest;
    options?: ConfigurationOptions;
  }[] = [];
  constructor(readonly replicas: Record<string, number>) {}

  scaleOf(name: string, namespace: string): V1Scale {
    const n = this.replicas[name]!;
    return {
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      metadata: { name, namespace },
      spec: n > 0 ? { replicas: n } : {}, // the API server omits replicas: 0 (omitempty)
      status: { replicas: n, selector: `app.kubernetes.io/name=${name}` },
    };
  }

  async readNamespacedDeploymentScale(p: AppsV1ApiReadNamespacedDeploymentScaleRequest): Promise<V1Scale> {
    this.reads.push(p);
    if (!(p.name in this.replicas)) throw new ApiException(404, 'not found', {}, {});
    return this.scaleOf(p.name, p.namespace);
  }

  async patchNamespacedDeploymentScale(
    param: AppsV1ApiPatchNamespacedDeploymentScaleRequest,
    options?: ConfigurationOptions,
  ): Promise<V1Scale> {
    this.patches.push({ param, ...(options ? { options } : {}) });
    if (!(param.name in this.replicas)) throw new ApiException(403, 'forbidden', {}, {});
    this.replicas[param.name] = (param.body as { spec: { replicas: number } }).spec.replicas;
    return this.scaleOf(param.name, param.namespace);
  }
}

/** RFC 7386 merge patch of plain JSON objects. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const env = {
  KIOSK_SCALE_CPU: 'preprocess,postprocess=kiosk-cpu-worker:0..8',
  KIOSK_SCALE_GPU: 'predict=kiosk-gpu-worker:0..4',
};

describe('KubernetesDriver (fake API client)', () => {
  it('for a burst of 40 images sends one merge patch per pool that changes, each a valid autoscaling/v1 Scale', async () => {
    const { pools } = configFromEnv(env);
    const api = new FakeScaleApi({ 'kiosk-cpu-worker': 1, 'kiosk-gpu-worker': 0 });
    const driver = new KubernetesDriver({
      api,
      namespace: 'cellkiosk',
      deployments: Object.fromEntries(pools.map((p) => [p.pool, p.target])),
    });
    // 40 images just submitted: preprocess holds them, predict/postprocess wait for their children.
    const counts: Record<string, QueueCounts> = {
      preprocess: { waiting: 39, active: 1 },
      predict: { waitingChildren: 40 },
      postprocess: { waitingChildren: 40 },
    };
    const current = { cpu: await driver.replicas('cpu'), gpu: await driver.replicas('gpu') };
    expect(current).toEqual({ cpu: 1, gpu: 0 });
    const { decisions } = decideAll(pools, counts, current, 0);
    for (const d of decisions) if (d.desired !== d.current) await driver.scale(d.pool, d.desired);

    // cpu: 40 jobs / 2 → 8 (max); gpu: 40 upstream / 8 → 5 → max 4 (before any predict job is ready)
    expect(api.patches.map((p) => p.param)).toEqual([
      {
        name: 'kiosk-cpu-worker',
        namespace: 'cellkiosk',
        body: { spec: { replicas: 8 } },
        fieldManager: 'kiosk-autoscaler',
      },
      {
        name: 'kiosk-gpu-worker',
        namespace: 'cellkiosk',
        body: { spec: { replicas: 4 } },
        fieldManager: 'kiosk-autoscaler',
      },
    ]);
    for (const { param, options } of api.patches) {
      // The patch body, and the Scale it produces, validate against the Kubernetes schema.
      expect(() => new Scale(param.body as Scale).validate()).not.toThrow();
      const before = api.scaleOf(param.name, param.namespace);
      const after = mergePatch({ ...before, spec: {} }, param.body) as Scale;
      expect(() => new Scale(after).validate()).not.toThrow();
      expect(after.spec?.replicas).toBe((param.body as { spec: { replicas: number } }).spec.replicas);
      // Sent as a JSON merge patch (the header middleware the generated client runs).
      expect(options?.middleware).toHaveLength(1);
    }
    expect(await driver.replicas('gpu')).toBe(4);
    expect(await driver.actual('gpu')).toBe(4);
    // It only ever touched deployments/scale of the two named Deployments.
    expect(new Set([...api.reads, ...api.patches.map((p) => p.param)].map((p) => p.name))).toEqual(
      new Set(['kiosk-cpu-worker', 'kiosk-gpu-worker']),
    );
  });

  it('reads a Deployment at 0 replicas (spec.replicas omitted) as 0 and scales it from there', async () => {
    const api = new FakeScaleApi({ 'kiosk-gpu-worker': 0 });
    const driver = new KubernetesDriver({
      api,
      namespace: 'lab-1',
      deployments: { gpu: 'kiosk-gpu-worker' },
    });
    expect(await driver.replicas('gpu')).toBe(0);
    await driver.scale('gpu', 1);
    await driver.scale('gpu', 0);
    expect(api.patches.map((p) => p.param.body)).toEqual([
      { spec: { replicas: 1 } },
      { spec: { replicas: 0 } },
    ]);
  });

  it('through the real AppsV1Api: PATCH /apis/apps/v1/namespaces/NS/deployments/NAME/scale as merge-patch+json', async () => {
    const seen: { method: string; url: string; headers: Record<string, string>; body: string }[] = [];
    const http = wrapHttpLibrary({
      async send(req: RequestContext) {
        seen.push({
          method: req.getHttpMethod(),
          url: req.getUrl(),
          headers: req.getHeaders(),
          body: String(req.getBody() ?? ''),
        });
        const scale = {
          apiVersion: 'autoscaling/v1',
          kind: 'Scale',
          metadata: { name: 'kiosk-gpu-worker' },
          spec: { replicas: 3 },
        };
        const text = JSON.stringify(scale);
        return new ResponseContext(
          200,
          { 'content-type': 'application/json' },
          {
            text: async () => text,
            binary: async () => Buffer.from(text),
          },
        );
      },
    });
    const api = new AppsV1Api(
      createConfiguration({
        baseServer: new ServerConfiguration('https://kubernetes.test', {}),
        httpApi: http,
        authMethods: {},
      }),
    );
    const driver = new KubernetesDriver({
      api,
      namespace: 'cellkiosk',
      deployments: { gpu: 'kiosk-gpu-worker' },
    });
    await driver.scale('gpu', 3);
    expect(await driver.replicas('gpu')).toBe(3);
    expect(seen[0]).toMatchObject({
      method: 'PATCH',
      url: 'https://kubernetes.test/apis/apps/v1/namespaces/cellkiosk/deployments/kiosk-gpu-worker/scale?fieldManager=kiosk-autoscaler',
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    expect(JSON.parse(seen[0]!.body)).toEqual({ spec: { replicas: 3 } });
    expect(seen[1]).toMatchObject({
      method: 'GET',
      url: 'https://kubernetes.test/apis/apps/v1/namespaces/cellkiosk/deployments/kiosk-gpu-worker/scale',
    });
  });

  it('turns API errors into KubernetesScaleErrors naming the Deployment, namespace and status', async () => {
    const api = new FakeScaleApi({});
    const driver = new KubernetesDriver({
      api,
      namespace: 'cellkiosk',
      deployments: { gpu: 'kiosk-gpu-worker' },
    });
    await expect(driver.replicas('gpu')).rejects.toThrow(
      /get deployments\/scale kiosk-gpu-worker in namespace cellkiosk failed: HTTP 404 \(not found/,
    );
    await expect(driver.scale('gpu', 2)).rejects.toThrow(KubernetesScaleError);
    await expect(driver.scale('gpu', 2)).rejects.toThrow(/HTTP 403 \(forbidden: the kiosk-autoscaler Role/);
    await expect(driver.scale('cpu', 1)).rejects.toThrow(
      /no Deployment configured for pool 'cpu' \(configured: gpu\)/,
    );
    await expect(driver.scale('gpu', -1)).rejects.toThrow(/replicas must be an integer >= 0; got -1/);
    expect(() => scalePatch(2.5)).toThrow(/got 2.5/);
    expect(() => new KubernetesDriver({ api, namespace: 'Bad_NS', deployments: {} })).toThrow(
      /DNS-1123 label; got "Bad_NS"/,
    );
  });

  it('finds its namespace from KIOSK_NAMESPACE or the service-account file, else says how to set it', () => {
    expect(inClusterNamespace({ KIOSK_NAMESPACE: 'lab' })).toBe('lab');
    expect(() => inClusterNamespace({}, '/nonexistent/namespace')).toThrow(
      /set KIOSK_NAMESPACE or run in a pod/,
    );
  });
});

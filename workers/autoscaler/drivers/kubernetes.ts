/**
 * Kubernetes driver: reads and patches the `scale` subresource of the pool Deployments, nothing else (the
 * KioskChart's Role grants exactly get + patch on `deployments/scale` of the two worker Deployments). The
 * cluster autoscaler then adds or removes GPU nodes for pending or idle pods.
 *
 * The patch is a JSON merge patch `{"spec":{"replicas":N}}` (Content-Type application/merge-patch+json), as
 * `kubectl scale` sends: a JSON Patch `replace /spec/replicas` would fail on a Deployment at 0 replicas,
 * whose Scale omits `spec.replicas` (omitempty).
 */
import { readFileSync } from 'node:fs';
import {
  ApiException,
  AppsV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type AppsV1ApiPatchNamespacedDeploymentScaleRequest,
  type AppsV1ApiReadNamespacedDeploymentScaleRequest,
  type ConfigurationOptions,
  type V1Scale,
} from '@kubernetes/client-node';
import type { ScaleDriver } from './driver.js';

/** The two calls the driver makes — `AppsV1Api` fits; tests pass a fake API client. */
export interface DeploymentScaleApi {
  readNamespacedDeploymentScale(
    param: AppsV1ApiReadNamespacedDeploymentScaleRequest,
    options?: ConfigurationOptions,
  ): Promise<V1Scale>;
  patchNamespacedDeploymentScale(
    param: AppsV1ApiPatchNamespacedDeploymentScaleRequest,
    options?: ConfigurationOptions,
  ): Promise<V1Scale>;
}

/** A failed Kubernetes call, naming the Deployment, namespace and HTTP status. */
export class KubernetesScaleError extends Error {
  override readonly name = 'KubernetesScaleError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface KubernetesDriverOptions {
  readonly api: DeploymentScaleApi;
  readonly namespace: string;
  /** pool → Deployment name. */
  readonly deployments: Readonly<Record<string, string>>;
  /** `fieldManager` on patches (shows who set the count in managedFields). @default 'kiosk-autoscaler' */
  readonly fieldManager?: string;
}

/** The merge patch the driver sends to set a Deployment's replicas. */
export function scalePatch(replicas: number): { spec: { replicas: number } } {
  if (!Number.isInteger(replicas) || replicas < 0)
    throw new RangeError(`replicas must be an integer >= 0; got ${replicas}`);
  return { spec: { replicas } };
}

/** Request options that make the generated client send a merge patch. */
export const MERGE_PATCH_OPTIONS: ConfigurationOptions = setHeaderOptions(
  'Content-Type',
  PatchStrategy.MergePatch,
);

export class KubernetesDriver implements ScaleDriver {
  readonly name = 'kubernetes';
  private readonly fieldManager: string;

  constructor(private readonly o: KubernetesDriverOptions) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(o.namespace))
      throw new RangeError(`namespace must be a DNS-1123 label; got ${JSON.stringify(o.namespace)}`);
    this.fieldManager = o.fieldManager ?? 'kiosk-autoscaler';
  }

  private deployment(pool: string): string {
    const name = this.o.deployments[pool];
    if (!name)
      throw new RangeError(
        `no Deployment configured for pool '${pool}' (configured: ${Object.keys(this.o.deployments).join(', ') || 'none'})`,
      );
    return name;
  }

  private async read(pool: string): Promise<V1Scale> {
    const name = this.deployment(pool);
    try {
      return await this.o.api.readNamespacedDeploymentScale({ name, namespace: this.o.namespace });
    } catch (err) {
      throw wrap(err, `get deployments/scale ${name} in namespace ${this.o.namespace}`);
    }
  }

  async replicas(pool: string): Promise<number> {
    return (await this.read(pool)).spec?.replicas ?? 0;
  }

  async actual(pool: string): Promise<number> {
    return (await this.read(pool)).status?.replicas ?? 0;
  }

  async scale(pool: string, replicas: number): Promise<void> {
    const name = this.deployment(pool);
    const body = scalePatch(replicas);
    try {
      await this.o.api.patchNamespacedDeploymentScale(
        { name, namespace: this.o.namespace, body, fieldManager: this.fieldManager },
        MERGE_PATCH_OPTIONS,
      );
    } catch (err) {
      throw wrap(err, `patch deployments/scale ${name} in namespace ${this.o.namespace} to ${replicas}`);
    }
  }

  async close(): Promise<void> {}
}

function wrap(err: unknown, what: string): KubernetesScaleError {
  if (err instanceof ApiException) {
    const hint =
      err.code === 403
        ? " (forbidden: the kiosk-autoscaler Role allows only get/patch on the worker Deployments' scale)"
        : err.code === 404
          ? ' (not found: is the Deployment deployed in this namespace?)'
          : '';
    return new KubernetesScaleError(`${what} failed: HTTP ${err.code}${hint}`, err.code);
  }
  return new KubernetesScaleError(`${what} failed: ${err instanceof Error ? err.message : String(err)}`);
}

const SA_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/**
 * The namespace to scale in: `KIOSK_NAMESPACE`, else the pod's own (the service-account namespace file),
 * else an error saying how to set it.
 */
export function inClusterNamespace(env: NodeJS.ProcessEnv = process.env, file = SA_NAMESPACE_FILE): string {
  if (env.KIOSK_NAMESPACE) return env.KIOSK_NAMESPACE;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    throw new KubernetesScaleError(
      `no namespace: set KIOSK_NAMESPACE or run in a pod with a service-account token (${file} is missing)`,
    );
  }
}

/** An AppsV1Api from the pod's in-cluster config (service-account token and CA). */
export function inClusterAppsApi(): AppsV1Api {
  const kc = new KubeConfig();
  kc.loadFromCluster();
  return kc.makeApiClient(AppsV1Api);
}

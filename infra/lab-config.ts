import { readFile } from 'node:fs/promises';
// Narrow imports (not the library barrel): `kiosk init` loads this without cdktf/cdk8s.
import { GpuType, type CloudProvider } from '../constructs/gpu-type.js';
import {
  bucketNameProblem,
  domainProblem,
  KioskConfigError,
  requireIntInRange,
  requireOrdered,
  requireRegion,
  requireResourceName,
  requireZones,
} from '../constructs/validation.js';

/**
 * One lab's deployment, as `kiosk init` writes it to kiosk.config.json. Everything the Terraform stack and
 * the Kubernetes chart need; validated by `parseLabConfig` with messages naming the field and the value.
 */
export interface LabConfig {
  /** Lab name: cluster name and resource prefix (3..20 lowercase letters, digits, '-'). */
  readonly name: string;
  readonly provider: CloudProvider;
  /** GCP project id (GKE only). */
  readonly project?: string;
  /** 12-digit AWS account id (EKS only): Terraform refuses other accounts; IRSA role ARNs are built from it. */
  readonly accountId?: string;
  readonly region: string;
  /** GKE: optional node zones (one → zonal cluster). EKS: 2..3 availability zones, default `<region>a,b`. */
  readonly zones: readonly string[];
  readonly gpu: {
    /** GKE accelerator type (`nvidia-tesla-t4`) or EKS instance family (`g4dn`). */
    readonly type: string;
    /** GPUs per node. @default 1 */
    readonly countPerNode: number;
    /** @default 0 */
    readonly minNodes: number;
    readonly maxNodes: number;
    /** @default true */
    readonly spot: boolean;
  };
  readonly cpu: {
    /** @default 'e2-standard-4' (GKE) / 'm6i.xlarge' (EKS) */
    readonly machineType: string;
    /** @default 1 */
    readonly minNodes: number;
    /** @default 3 */
    readonly maxNodes: number;
  };
  /** Bucket name, globally unique, valid for the provider. */
  readonly bucket: string;
  readonly images: {
    /** e.g. `us-docker.pkg.dev/<project>/cellkiosk` or `<account>.dkr.ecr.<region>.amazonaws.com`. */
    readonly registry: string;
    /** @default 'latest' */
    readonly tag: string;
    /** CPU image (api, cpu-worker, autoscaler roles). @default 'cellkiosk' */
    readonly cpuImage: string;
    /** GPU image, docker/gpu.Dockerfile's `inference` target (gpu-worker). @default 'cellkiosk-gpu' */
    readonly gpuImage: string;
    /**
     * The GPU image's `training` target (tfjs-node-gpu, CUDA 11.2), for the `kiosk-train` Job; the stack
     * creates its ECR repository too. @default - none: the Job runs `gpuImage`
     */
    readonly trainImage?: string;
  };
  /**
   * Host name of the web UI. With it the Ingress serves HTTPS (Google-managed certificate on GKE, ACM on EKS),
   * redirects HTTP, and the bucket admits the origin `https://<domain>` alone. @default - none
   */
  readonly domain?: string;
  /**
   * Serve plain HTTP (no certificate; on a domain, the bucket's CORS origin is then `http://<domain>`). The
   * kiosk's API takes lab tokens (KIOSK_AUTH=tokens), which then cross the network in clear text, so a config
   * without a domain must say this knowingly. @default false
   */
  readonly insecureHttp: boolean;
  /** @default true */
  readonly deletionProtection: boolean;
}

type Json = Record<string, unknown>;

/** Why a config without a domain is refused unless it sets `insecureHttp`. */
export const NO_TLS_MESSAGE =
  "'domain' is missing: without a host name there is no certificate, so the Ingress serves plain HTTP and the " +
  "lab's API tokens (KIOSK_AUTH=tokens) cross the internet in clear text. Give 'domain' (HTTPS), or set " +
  "'insecureHttp': true to serve HTTP knowingly";

/** Whether the lab's Ingress serves HTTPS: it has a domain and did not ask for plain HTTP. */
export function labTls(config: LabConfig): boolean {
  return config.domain !== undefined && !config.insecureHttp;
}

function fail(message: string): never {
  throw new KioskConfigError(message);
}

function obj(v: unknown, path: string): Json {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`'${path}' must be an object`);
  return v as Json;
}

function str(o: Json, key: string, path: string, fallback?: string): string {
  const v = o[key] ?? fallback;
  if (v === undefined) fail(`'${path}${key}' is required`);
  if (typeof v !== 'string' || v === '')
    fail(`'${path}${key}' (${JSON.stringify(v)}) must be a non-empty string`);
  return v;
}

function int(o: Json, key: string, path: string, fallback?: number): number {
  const v = o[key] ?? fallback;
  if (v === undefined) fail(`'${path}${key}' is required`);
  if (typeof v !== 'number' || !Number.isInteger(v))
    fail(`'${path}${key}' (${JSON.stringify(v)}) must be an integer`);
  return v;
}

/** Validates untrusted JSON into a `LabConfig` with defaults applied; throws `KioskConfigError` naming the field. */
export function parseLabConfig(input: unknown): LabConfig {
  const c = obj(input, '(config)');
  const known = new Set([
    'name',
    'provider',
    'project',
    'accountId',
    'region',
    'zones',
    'gpu',
    'cpu',
    'bucket',
    'images',
    'domain',
    'insecureHttp',
    'deletionProtection',
    '$schema',
  ]);
  const unknown = Object.keys(c).filter((k) => !known.has(k));
  if (unknown.length) fail(`unknown field(s) ${unknown.map((k) => `'${k}'`).join(', ')}`);
  const name = str(c, 'name', '');
  requireResourceName('name', name);
  const provider = str(c, 'provider', '');
  if (provider !== 'gke' && provider !== 'eks') fail(`'provider' ('${provider}') must be 'gke' or 'eks'`);
  const region = str(c, 'region', '');
  requireRegion('region', provider, region);
  let project: string | undefined;
  let accountId: string | undefined;
  if (provider === 'gke') {
    project = str(c, 'project', '');
    if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(project)) {
      fail(`'project' ('${project}') is not a GCP project id (6..30 lowercase letters, digits, '-')`);
    }
  } else {
    accountId = str(c, 'accountId', '');
    if (!/^\d{12}$/.test(accountId)) fail(`'accountId' ('${accountId}') must be a 12-digit AWS account id`);
  }
  const zonesIn = c.zones ?? (provider === 'eks' ? [`${region}a`, `${region}b`] : []);
  if (!Array.isArray(zonesIn) || zonesIn.some((z) => typeof z !== 'string' || !z.startsWith(region))) {
    fail(`'zones' (${JSON.stringify(zonesIn)}) must be a list of zone names in ${region}`);
  }
  const zones = zonesIn as string[];
  requireZones('zones', provider, region, zones);
  if (provider === 'eks' && (zones.length < 2 || zones.length > 3)) {
    fail(`'zones' (${zones.length} zones) must list 2..3 availability zones for EKS`);
  }

  const g = obj(c.gpu, 'gpu');
  const gpuType = GpuType.of(provider, str(g, 'type', 'gpu.'));
  const gpu = {
    type: gpuType.nameOn(provider),
    countPerNode: int(g, 'countPerNode', 'gpu.', 1),
    minNodes: int(g, 'minNodes', 'gpu.', 0),
    maxNodes: int(g, 'maxNodes', 'gpu.', 2),
    spot: g.spot ?? true,
  };
  if (typeof gpu.spot !== 'boolean') fail(`'gpu.spot' (${JSON.stringify(gpu.spot)}) must be true or false`);
  gpuType.machineTypeFor(provider, gpu.countPerNode);
  requireIntInRange('gpu.minNodes', gpu.minNodes, 0, 1000);
  requireIntInRange('gpu.maxNodes', gpu.maxNodes, 1, 1000);
  requireOrdered('gpu.maxNodes', gpu.maxNodes, 'gpu.minNodes', gpu.minNodes);

  const p = obj(c.cpu, 'cpu');
  const cpu = {
    machineType: str(p, 'machineType', 'cpu.', provider === 'gke' ? 'e2-standard-4' : 'm6i.xlarge'),
    minNodes: int(p, 'minNodes', 'cpu.', 1),
    maxNodes: int(p, 'maxNodes', 'cpu.', 3),
  };
  requireIntInRange('cpu.minNodes', cpu.minNodes, 0, 1000);
  requireIntInRange('cpu.maxNodes', cpu.maxNodes, 1, 1000);
  requireOrdered('cpu.maxNodes', cpu.maxNodes, 'cpu.minNodes', cpu.minNodes);

  const bucket = str(c, 'bucket', '');
  const problem = bucketNameProblem(provider, bucket);
  if (problem)
    fail(
      `'bucket' ('${bucket}') is not a valid ${provider === 'gke' ? 'GCS' : 'S3'} bucket name: it ${problem}`,
    );

  const i = obj(c.images, 'images');
  const images = {
    registry: str(i, 'registry', 'images.'),
    tag: str(i, 'tag', 'images.', 'latest'),
    cpuImage: str(i, 'cpuImage', 'images.', 'cellkiosk'),
    gpuImage: str(i, 'gpuImage', 'images.', 'cellkiosk-gpu'),
    ...(i.trainImage !== undefined ? { trainImage: str(i, 'trainImage', 'images.') } : {}),
  };
  if (!/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*$/.test(images.registry)) {
    fail(
      `'images.registry' ('${images.registry}') must be a registry host with an optional path, without a trailing '/'`,
    );
  }
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(images.tag))
    fail(`'images.tag' ('${images.tag}') is not a valid image tag`);

  const domain = c.domain === undefined ? undefined : str(c, 'domain', '');
  const badDomain = domain === undefined ? undefined : domainProblem(domain);
  if (badDomain) fail(`'domain' ('${domain}') ${badDomain}`);
  const insecureHttp = c.insecureHttp ?? false;
  if (typeof insecureHttp !== 'boolean') fail(`'insecureHttp' must be true or false`);
  if (domain === undefined && !insecureHttp) fail(NO_TLS_MESSAGE);
  const deletionProtection = c.deletionProtection ?? true;
  if (typeof deletionProtection !== 'boolean') fail(`'deletionProtection' must be true or false`);
  return {
    name,
    provider,
    ...(project ? { project } : {}),
    ...(accountId ? { accountId } : {}),
    region,
    zones,
    gpu: gpu as LabConfig['gpu'],
    cpu,
    bucket,
    images,
    ...(domain ? { domain } : {}),
    insecureHttp,
    deletionProtection,
  };
}

/** Reads and validates a lab config file; errors name the file. */
export async function loadLabConfig(path: string): Promise<LabConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new KioskConfigError(
      code === 'ENOENT'
        ? `${path}: no such file (run \`npx kiosk init\` to write one)`
        : `${path}: ${String(err)}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new KioskConfigError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  try {
    return parseLabConfig(json);
  } catch (err) {
    throw new KioskConfigError(`${path}: ${(err as Error).message}`);
  }
}

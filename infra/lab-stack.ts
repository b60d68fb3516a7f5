import { mkdirSync } from 'node:fs';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider/index.js';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider/index.js';
import { App as K8sApp, YamlOutputType } from 'cdk8s';
import { App, TerraformStack } from 'cdktf';
import type { Construct } from 'constructs';
import {
  GpuType,
  KioskChart,
  KioskCluster,
  type IdentityTarget,
  type KioskImageRegistryProps,
  type KioskImages,
} from '../constructs/index.js';
import { labTls, type LabConfig } from './lab-config.js';

/** Terraform stack id: `cdktf deploy kiosk`, state under `terraform.kiosk.tfstate`. */
export const STACK_ID = 'kiosk';
/** cdk8s chart id: the YAML lands in `dist/k8s/kiosk.k8s.yaml`. */
export const CHART_ID = 'kiosk';

/** Image references for each role from the lab's registry/tag settings. */
export function labImages(config: LabConfig): KioskImages {
  const { registry, tag, cpuImage, gpuImage, trainImage } = config.images;
  const cpu = `${registry}/${cpuImage}:${tag}`;
  return {
    api: cpu,
    cpuWorker: cpu,
    autoscaler: cpu,
    gpuWorker: `${registry}/${gpuImage}:${tag}`,
    ...(trainImage ? { trainer: `${registry}/${trainImage}:${tag}` } : {}),
  };
}

/**
 * The repository the stack creates for the lab's images, read from `images.registry` when it names one in the
 * lab's own project/account and region: GKE `<location>-docker.pkg.dev/<project>/<repository>` (Artifact
 * Registry), EKS `<account>.dkr.ecr.<region>.amazonaws.com[/<prefix>]` (one ECR repository per image). Any
 * other registry is the lab's to manage: none is created.
 */
export function labRegistry(config: LabConfig): KioskImageRegistryProps | undefined {
  const { registry, cpuImage, gpuImage, trainImage } = config.images;
  if (config.provider === 'gke') {
    const m = /^([a-z0-9-]+)-docker\.pkg\.dev\/([a-z0-9-]+)\/([a-z0-9-]+)$/.exec(registry);
    if (!m || m[2] !== config.project) return undefined;
    return { location: m[1]!, repository: m[3]! };
  }
  const host = `${config.accountId}.dkr.ecr.${config.region}.amazonaws.com`;
  if (registry !== host && !registry.startsWith(`${host}/`)) return undefined;
  return {
    repository: registry.slice(host.length + 1),
    images: [cpuImage, gpuImage, ...(trainImage ? [trainImage] : [])],
  };
}

/** Where the chart's ServiceAccount annotations point: the identities the stack creates. */
export function labIdentityTarget(config: LabConfig): IdentityTarget {
  return config.provider === 'gke'
    ? { provider: 'gke', project: config.project!, name: config.name }
    : { provider: 'eks', accountId: config.accountId!, name: config.name };
}

/**
 * The lab's Terraform stack: the provider (GKE: `google` pinned to the project and region; EKS: `aws` pinned
 * to the region and, via `allowed_account_ids`, the account) and one `KioskCluster`.
 */
export class LabStack extends TerraformStack {
  readonly kiosk: KioskCluster;

  constructor(scope: Construct, id: string, config: LabConfig) {
    super(scope, id);
    const gpu = GpuType.of(config.provider, config.gpu.type);
    const tls = labTls(config);
    const registry = labRegistry(config);
    const common = {
      name: config.name,
      region: config.region,
      cpuPool: {
        machineType: config.cpu.machineType,
        minNodes: config.cpu.minNodes,
        maxNodes: config.cpu.maxNodes,
      },
      gpuPool: {
        gpu: { type: gpu, count: config.gpu.countPerNode },
        minNodes: config.gpu.minNodes,
        maxNodes: config.gpu.maxNodes,
        spot: config.gpu.spot,
      },
      bucket: {
        bucketName: config.bucket,
        // The web UI's one origin: HTTPS, where HTTP only redirects; `http://` only for a lab that serves
        // plain HTTP knowingly. Without a domain the bucket admits any origin (see bucketCorsOrigins).
        ...(config.domain ? { webOrigins: [`${tls ? 'https' : 'http'}://${config.domain}`] } : {}),
      },
      deletionProtection: config.deletionProtection,
      ...(config.domain ? { domain: config.domain, tls } : {}),
      ...(registry ? { registry } : {}),
    };
    if (config.provider === 'gke') {
      new GoogleProvider(this, 'google', {
        project: config.project!,
        region: config.region,
        defaultLabels: { 'cellkiosk-lab': config.name },
      });
      this.kiosk = new KioskCluster(this, 'kiosk', {
        provider: 'gke',
        project: config.project!,
        ...(config.zones.length ? { zones: config.zones } : {}),
        ...common,
      });
    } else {
      new AwsProvider(this, 'aws', {
        region: config.region,
        allowedAccountIds: [config.accountId!],
        defaultTags: [{ tags: { 'cellkiosk:lab': config.name } }],
      });
      this.kiosk = new KioskCluster(this, 'kiosk', { provider: 'eks', zones: config.zones, ...common });
    }
  }
}

/** The lab's Kubernetes chart, bound to the identities `LabStack` creates. */
export function labChart(scope: Construct, config: LabConfig): KioskChart {
  return new KioskChart(scope, CHART_ID, {
    identity: labIdentityTarget(config),
    bucketName: config.bucket,
    images: labImages(config),
    region: config.region,
    ...(config.domain ? { domain: config.domain, tls: labTls(config) } : {}),
    gpuWorkerMaxReplicas: config.gpu.maxNodes * config.gpu.countPerNode,
  });
}

/** Output folders of one synth. */
export interface SynthDirs {
  /** @default 'cdktf.out' */
  readonly terraformDir?: string;
  /** @default 'dist/k8s' */
  readonly kubernetesDir?: string;
}

/** Synthesizes both halves offline: Terraform JSON into `terraformDir`, Kubernetes YAML into `kubernetesDir`. */
export function synthLab(
  config: LabConfig,
  dirs: SynthDirs = {},
): { terraformDir: string; kubernetesDir: string } {
  const terraformDir = dirs.terraformDir ?? 'cdktf.out';
  const kubernetesDir = dirs.kubernetesDir ?? 'dist/k8s';
  mkdirSync(terraformDir, { recursive: true });
  const app = new App({ outdir: terraformDir, stackTraces: false });
  new LabStack(app, STACK_ID, config);
  app.synth();
  const k8sApp = new K8sApp({ outdir: kubernetesDir, yamlOutputType: YamlOutputType.FILE_PER_CHART });
  labChart(k8sApp, config);
  k8sApp.synth();
  return { terraformDir, kubernetesDir };
}

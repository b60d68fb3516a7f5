import { TerraformOutput } from 'cdktf';
import { Construct } from 'constructs';
import {
  EcrImageRepositories,
  EksClusterAddons,
  EksEbsCsiDriver,
  EksIrsaRole,
  EksKubeCluster,
  EksNetwork,
  EksNodePool,
  EksWebCertificate,
  S3KioskBucket,
} from './eks/index.js';
import {
  GcsBucket,
  GkeCluster,
  GkeNetwork,
  GkeImageRegistry,
  GkeNodePool,
  GkeWebAddress,
  GkeWorkloadIdentity,
  type KioskBucketProps,
} from './gke/index.js';
import type { NodeGpu, NodePoolProps } from './node-pool-props.js';
import { KIOSK_ROLES, ROLE_BUCKET_GRANTS, type KioskRole } from './roles.js';
import { guardUniqueCloudNames } from './unique-names.js';
import {
  domainProblem,
  KioskConfigError,
  requireRegion,
  requireResourceName,
  requireZones,
} from './validation.js';

/** Where the kiosk's images live: a repository the stack creates. */
export interface KioskImageRegistryProps {
  /**
   * GKE: the Artifact Registry repository id. EKS: the path prefix of the ECR repositories
   * (`<repository>/<image>`), '' for none.
   */
  readonly repository: string;
  /** GKE: the repository's location, a region or multi-region (`us`). @default - the cluster's region */
  readonly location?: string;
  /** Image names (EKS: one ECR repository each). @default ['cellkiosk', 'cellkiosk-gpu'] */
  readonly images?: readonly string[];
}

/** Settings shared by both clouds. */
interface KioskClusterCommonProps {
  /** Lab name: cluster name and prefix of every resource (3..20 lowercase letters, digits, '-'). */
  readonly name: string;
  readonly region: string;
  /**
   * Zones for nodes. GKE: one zone → zonal cluster, several → regional with these node zones.
   * EKS: 2..3 availability zones (required there).
   * @default - GKE: a regional cluster with GKE-chosen zones
   */
  readonly zones?: readonly string[];
  /** Namespace the kiosk's ServiceAccounts live in (the only one the identities trust). @default 'cellkiosk' */
  readonly namespace?: string;
  /** The CPU pool (API, CPU workers, Redis, autoscaler). @default - minNodes 1, maxNodes 3, e2-standard-4 / m6i.xlarge on demand */
  readonly cpuPool?: Omit<NodePoolProps, 'gpu'>;
  /** The GPU pool (inference, training): spot and min 0 unless set otherwise. */
  readonly gpuPool: NodePoolProps & { readonly gpu: NodeGpu };
  /** The bucket for uploads, results and models. */
  readonly bucket: KioskBucketProps;
  /** Refuse `terraform destroy` of the cluster. @default true */
  readonly deletionProtection?: boolean;
  /**
   * Host name of the web UI / API (the chart's `domain`). GKE: a global static IP `<name>-web` for its load
   * balancer (output `web_address`: the domain's A record). EKS: with `tls`, an ACM certificate for it
   * (outputs `certificate_arn`, `certificate_validation_records`: the CNAMEs ACM checks).
   * @default - none
   */
  readonly domain?: string;
  /** Request a certificate for `domain` (EKS; GKE's is the chart's ManagedCertificate). @default - true with a domain */
  readonly tls?: boolean;
  /**
   * A container registry for the images (GKE Artifact Registry repository, EKS ECR repositories), output as
   * `registry_url` (GKE) or `image_repository_<image>` (EKS).
   * @default - none: the images live in a registry the lab manages
   */
  readonly registry?: KioskImageRegistryProps;
  /**
   * EKS: the cluster-autoscaler and the AWS Load Balancer Controller as Helm releases (`EksClusterAddons`).
   * Without them the GPU pool never leaves 0 and the Ingress gets no load balancer.
   * @default true
   */
  readonly eksAddons?: boolean;
  /**
   * Prefix of this cluster's Terraform outputs (`<prefix>_cluster_endpoint`, ...): a stack holding more than one
   * KioskCluster gives each but one a prefix, since outputs of one name would overwrite each other (synth
   * refuses that). Letters, digits, '_' and '-', starting with a letter.
   * @default - none: `cluster_endpoint`, `credentials_command`, `bucket_name`, `identity_<role>`
   */
  readonly outputPrefix?: string;
}

export interface GkeKioskClusterProps extends KioskClusterCommonProps {
  readonly provider: 'gke';
  readonly project: string;
}

export interface EksKioskClusterProps extends KioskClusterCommonProps {
  readonly provider: 'eks';
  readonly zones: readonly string[];
}

/** Props of `KioskCluster`: the provider decides which per-cloud settings are required. */
export type KioskClusterProps = GkeKioskClusterProps | EksKioskClusterProps;

/**
 * Everything the kiosk needs in one cloud account: network, cluster with workload identity (GKE) or IRSA
 * (EKS), a CPU pool and a GPU pool, the bucket, one identity per role granted exactly `ROLE_BUCKET_GRANTS`,
 * and outputs `cluster_endpoint`, `credentials_command`, `bucket_name` and `identity_<role>` (prefixed by
 * `outputPrefix` when given). With `domain`: GKE a static IP for the load balancer (`web_address`), EKS an ACM
 * certificate (`certificate_arn`, `certificate_validation_records`). With `registry`: the image repository
 * (`registry_url` / `image_repository_<image>`). On EKS also the cluster-autoscaler and the AWS Load Balancer
 * Controller (`EksClusterAddons`) and the EBS CSI driver. Synth fails when two constructs of the stack would make one GCP service account,
 * IAM role or output (`guardUniqueCloudNames`).
 * The stack supplies the provider (`GoogleProvider` / `AwsProvider`); this construct creates none.
 */
export class KioskCluster extends Construct {
  /** Command that writes the cluster's credentials into ~/.kube/config. */
  readonly credentialsCommand: string;
  readonly namespace: string;
  /** The cluster's API endpoint (a Terraform reference). */
  readonly endpoint: string;
  /** Per role, the identity's e-mail (GKE) or role ARN (EKS), as Terraform references. */
  readonly identities: Readonly<Record<KioskRole, string>>;
  readonly gke?: { cluster: GkeCluster; cpuPool: GkeNodePool; gpuPool: GkeNodePool; bucket: GcsBucket };
  readonly eks?: {
    cluster: EksKubeCluster;
    cpuPool: EksNodePool;
    gpuPool: EksNodePool;
    bucket: S3KioskBucket;
    ebsCsi: EksEbsCsiDriver;
    addons?: EksClusterAddons;
    certificate?: EksWebCertificate;
    repositories?: EcrImageRepositories;
  };
  /** GKE: the load balancer's static IP (with a domain) and the image repository (with `registry`). */
  readonly gkeExtras?: { webAddress?: GkeWebAddress; registry?: GkeImageRegistry };

  constructor(scope: Construct, id: string, props: KioskClusterProps) {
    super(scope, id);
    requireResourceName('name', props.name);
    requireRegion('region', props.provider, props.region);
    requireZones('zones', props.provider, props.region, props.zones ?? []);
    if (props.outputPrefix !== undefined && !/^[a-zA-Z][a-zA-Z0-9_-]*$/.test(props.outputPrefix)) {
      throw new KioskConfigError(
        `'outputPrefix' ('${props.outputPrefix}') must be letters, digits, '_' or '-', starting with a letter`,
      );
    }
    if (props.domain !== undefined) {
      const problem = domainProblem(props.domain);
      if (problem) throw new KioskConfigError(`'domain' ('${props.domain}') ${problem}`);
    }
    const tls = props.tls ?? props.domain !== undefined;
    if (tls && props.domain === undefined) {
      throw new KioskConfigError(`'tls' (true) needs 'domain': a certificate is issued for a host name`);
    }
    const images = props.registry?.images ?? ['cellkiosk', 'cellkiosk-gpu'];
    guardUniqueCloudNames(this);
    const extraOutputs: [name: string, value: unknown, description: string][] = [];
    this.namespace = props.namespace ?? 'cellkiosk';
    const cpuPool = props.cpuPool ?? { minNodes: 1, maxNodes: 3 };
    const identities: Partial<Record<KioskRole, string>> = {};

    if (props.provider === 'gke') {
      const network = new GkeNetwork(this, 'network', {
        name: props.name,
        region: props.region,
        project: props.project,
      });
      const cluster = new GkeCluster(this, 'cluster', {
        name: props.name,
        project: props.project,
        region: props.region,
        network,
        ...(props.zones ? { zones: props.zones } : {}),
        ...(props.deletionProtection !== undefined ? { deletionProtection: props.deletionProtection } : {}),
      });
      const cpu = new GkeNodePool(this, 'cpu-pool', { cluster, name: 'cpu', ...cpuPool });
      const gpu = new GkeNodePool(this, 'gpu-pool', { cluster, name: 'gpu', ...props.gpuPool });
      const bucket = new GcsBucket(this, 'bucket', {
        ...props.bucket,
        project: props.project,
        location: props.region,
      });
      for (const role of KIOSK_ROLES) {
        const identity = new GkeWorkloadIdentity(this, `identity-${role}`, {
          cluster,
          project: props.project,
          name: props.name,
          role,
          namespace: this.namespace,
          allowSignBlob: role === 'api',
        });
        for (const grant of ROLE_BUCKET_GRANTS[role]) bucket.grant(identity, grant);
        identities[role] = identity.email;
      }
      this.gke = { cluster, cpuPool: cpu, gpuPool: gpu, bucket };
      const extras: { webAddress?: GkeWebAddress; registry?: GkeImageRegistry } = {};
      if (props.domain !== undefined) {
        extras.webAddress = new GkeWebAddress(this, 'web-address', {
          project: props.project,
          name: props.name,
        });
        extraOutputs.push([
          'web_address',
          extras.webAddress.address,
          `Point ${props.domain}'s A record here (the Ingress's load balancer)`,
        ]);
      }
      if (props.registry) {
        extras.registry = new GkeImageRegistry(this, 'registry', {
          project: props.project,
          location: props.registry.location ?? props.region,
          repositoryId: props.registry.repository,
        });
        extraOutputs.push([
          'registry_url',
          extras.registry.url,
          'Push the kiosk images here (docs/deploy.md)',
        ]);
      }
      this.gkeExtras = extras;
      this.credentialsCommand = cluster.credentialsCommand;
      this.endpoint = cluster.cluster.endpoint;
    } else {
      const network = new EksNetwork(this, 'network', { name: props.name, zones: props.zones });
      const cluster = new EksKubeCluster(this, 'cluster', {
        name: props.name,
        region: props.region,
        network,
        ...(props.deletionProtection !== undefined ? { deletionProtection: props.deletionProtection } : {}),
      });
      const cpu = new EksNodePool(this, 'cpu-pool', { cluster, name: 'cpu', ...cpuPool });
      const gpu = new EksNodePool(this, 'gpu-pool', { cluster, name: 'gpu', ...props.gpuPool });
      // Redis's volume (the chart's kiosk-gp3 StorageClass) is provisioned by this driver.
      const ebsCsi = new EksEbsCsiDriver(this, 'ebs-csi', {
        cluster,
        name: props.name,
        dependsOn: [cpu.nodeGroup],
      });
      const bucket = new S3KioskBucket(this, 'bucket', props.bucket);
      for (const role of KIOSK_ROLES) {
        const identity = new EksIrsaRole(this, `identity-${role}`, {
          cluster,
          name: props.name,
          role,
          namespace: this.namespace,
        });
        for (const grant of ROLE_BUCKET_GRANTS[role]) bucket.grant(identity, grant);
        identities[role] = identity.arn;
      }
      const addons =
        props.eksAddons === false
          ? undefined
          : new EksClusterAddons(this, 'addons', {
              cluster,
              name: props.name,
              region: props.region,
              dependsOn: [cpu.nodeGroup],
            });
      let certificate: EksWebCertificate | undefined;
      if (tls) {
        certificate = new EksWebCertificate(this, 'certificate', { domain: props.domain! });
        extraOutputs.push(['certificate_arn', certificate.arn, `ACM certificate of ${props.domain}`]);
        extraOutputs.push([
          'certificate_validation_records',
          certificate.validationRecords,
          `DNS records to create in ${props.domain}'s zone; ACM issues the certificate once they resolve`,
        ]);
      }
      let repositories: EcrImageRepositories | undefined;
      if (props.registry) {
        repositories = new EcrImageRepositories(this, 'registry', {
          prefix: props.registry.repository,
          images,
        });
        for (const [image, repo] of repositories.repositories) {
          extraOutputs.push([
            `image_repository_${image.replace(/[^a-zA-Z0-9_]/g, '_')}`,
            repo.repositoryUrl,
            `Push the ${image} image here (docs/deploy.md)`,
          ]);
        }
      }
      this.eks = {
        cluster,
        cpuPool: cpu,
        gpuPool: gpu,
        bucket,
        ebsCsi,
        ...(addons ? { addons } : {}),
        ...(certificate ? { certificate } : {}),
        ...(repositories ? { repositories } : {}),
      };
      this.credentialsCommand = cluster.credentialsCommand;
      this.endpoint = cluster.cluster.endpoint;
    }
    this.identities = identities as Record<KioskRole, string>;

    const output = (name: string, value: unknown, description: string) => {
      const id = props.outputPrefix ? `${props.outputPrefix}_${name}` : name;
      new TerraformOutput(this, id, { value, description }).overrideLogicalId(id);
    };
    output('cluster_endpoint', this.endpoint, 'Kubernetes API endpoint of the kiosk cluster');
    output('credentials_command', this.credentialsCommand, 'Run this to point kubectl at the cluster');
    output(
      'bucket_name',
      props.bucket.bucketName,
      'The kiosk bucket (its prefixes and who may touch them: ROLE_BUCKET_GRANTS)',
    );
    for (const role of KIOSK_ROLES) {
      output(
        `identity_${role.replace('-', '_')}`,
        this.identities[role],
        `Cloud identity of the ${role} pods`,
      );
    }
    for (const [name, value, description] of extraOutputs) output(name, value, description);
  }
}

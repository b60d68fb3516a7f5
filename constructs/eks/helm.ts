import { TerraformProvider, TerraformResource, type ITerraformDependable } from 'cdktf';
import type { Construct } from 'constructs';

/**
 * Just enough of the `hashicorp/helm` Terraform provider for the kiosk's EKS add-ons (no prebuilt cdktf
 * binding of it is a dependency here). Both classes write the provider's own JSON field names; a JSON object
 * is read the same whether the provider's schema calls `kubernetes`/`exec` blocks (2.x) or attributes (3.x).
 */
export const HELM_PROVIDER_VERSION = '~> 2.17';

export interface HelmProviderConfig {
  /** Provider alias (letters, digits, '_', '-'), so two clusters in one stack each get their own. */
  readonly alias: string;
  /** The cluster's API endpoint. */
  readonly host: string;
  /** The cluster CA certificate, PEM (not base64). */
  readonly clusterCaCertificate: string;
  /** Command and args that print an ExecCredential (`aws eks get-token ...`). */
  readonly exec: { readonly command: string; readonly args: readonly string[] };
}

export class HelmProvider extends TerraformProvider {
  private readonly config: HelmProviderConfig;

  constructor(scope: Construct, id: string, config: HelmProviderConfig) {
    super(scope, id, {
      terraformResourceType: 'helm',
      terraformGeneratorMetadata: { providerName: 'helm', providerVersionConstraint: HELM_PROVIDER_VERSION },
      terraformProviderSource: 'hashicorp/helm',
    });
    this.config = config;
  }

  override get alias(): string {
    return this.config.alias;
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return {
      alias: this.config.alias,
      kubernetes: {
        host: this.config.host,
        cluster_ca_certificate: this.config.clusterCaCertificate,
        exec: {
          api_version: 'client.authentication.k8s.io/v1beta1',
          command: this.config.exec.command,
          args: [...this.config.exec.args],
        },
      },
    };
  }
}

export interface HelmReleaseConfig {
  readonly provider: HelmProvider;
  /** Release name. */
  readonly name: string;
  readonly namespace: string;
  /** Chart repository URL. */
  readonly repository: string;
  readonly chart: string;
  /** Exact chart version (pinned: a chart upgrade is a reviewed change). */
  readonly version: string;
  /** Values documents (YAML or JSON; `Fn.jsonencode` of an object with Terraform references works). */
  readonly values: readonly string[];
  readonly dependsOn?: readonly ITerraformDependable[];
}

/** A `helm_release`: atomic (a failed install or upgrade is rolled back), waiting for the workloads to be ready. */
export class HelmRelease extends TerraformResource {
  readonly config: HelmReleaseConfig;

  constructor(scope: Construct, id: string, config: HelmReleaseConfig) {
    super(scope, id, {
      terraformResourceType: 'helm_release',
      terraformGeneratorMetadata: { providerName: 'helm', providerVersionConstraint: HELM_PROVIDER_VERSION },
      provider: config.provider,
      ...(config.dependsOn ? { dependsOn: [...config.dependsOn] } : {}),
    });
    this.config = config;
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    const c = this.config;
    return {
      name: c.name,
      namespace: c.namespace,
      repository: c.repository,
      chart: c.chart,
      version: c.version,
      values: [...c.values],
      atomic: true,
      wait: true,
      timeout: 600,
    };
  }
}

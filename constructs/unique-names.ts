import { EcrRepository } from '@cdktf/provider-aws/lib/ecr-repository/index.js';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role/index.js';
import { ArtifactRegistryRepository } from '@cdktf/provider-google/lib/artifact-registry-repository/index.js';
import { ComputeGlobalAddress } from '@cdktf/provider-google/lib/compute-global-address/index.js';
import { ProjectIamCustomRole } from '@cdktf/provider-google/lib/project-iam-custom-role/index.js';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account/index.js';
import { TerraformOutput, TerraformStack, Token } from 'cdktf';
import type { IConstruct } from 'constructs';

const guarded = new WeakSet<TerraformStack>();

/**
 * Makes synth of `scope`'s stack fail when two constructs would create the same cloud name or Terraform output:
 * a GCP service account id or custom role id (per project), an IAM role name, an ECR repository, an Artifact
 * Registry repository or global address (per project), or an output id. Terraform
 * itself can't tell: two
 * resources with one `account_id` are two resources until the second one's apply gets a 409, and two outputs
 * with one id silently become one (the last written wins). Idempotent per stack; the kiosk's constructs call it.
 */
export function guardUniqueCloudNames(scope: IConstruct): void {
  const stack = TerraformStack.of(scope);
  if (guarded.has(stack)) return;
  guarded.add(stack);
  stack.node.addValidation({ validate: () => duplicateCloudNames(stack) });
}

/** What `guardUniqueCloudNames` reports: one message per name made twice, naming both constructs. */
export function duplicateCloudNames(stack: TerraformStack): string[] {
  const first = new Map<string, string>();
  const problems: string[] = [];
  const claim = (key: string, what: string, path: string, hint: string) => {
    const earlier = first.get(key);
    if (earlier === undefined) first.set(key, path);
    else problems.push(`${what} is made twice: by ${earlier} and by ${path}; ${hint}`);
  };
  const literal = (v: string | undefined): v is string => typeof v === 'string' && !Token.isUnresolved(v);
  for (const c of stack.node.findAll()) {
    if (c instanceof ServiceAccount) {
      const id = c.accountIdInput;
      if (!literal(id)) continue;
      const project = literal(c.projectInput) ? c.projectInput : undefined;
      claim(
        `google_service_account:${project ?? ''}:${id}`,
        `google_service_account '${id}'${project ? ` in project ${project}` : ''}`,
        c.node.path,
        "give one a distinct 'serviceAccountId' (GkeWorkloadIdentity) or a different lab 'name'",
      );
    } else if (c instanceof ProjectIamCustomRole) {
      const id = c.roleIdInput;
      if (!literal(id)) continue;
      const project = literal(c.projectInput) ? c.projectInput : undefined;
      claim(
        `google_project_iam_custom_role:${project ?? ''}:${id}`,
        `google_project_iam_custom_role '${id}'${project ? ` in project ${project}` : ''}`,
        c.node.path,
        'give the buckets different names',
      );
    } else if (c instanceof IamRole) {
      const name = c.nameInput;
      if (!literal(name)) continue;
      claim(
        `aws_iam_role:${name}`,
        `aws_iam_role '${name}'`,
        c.node.path,
        "give one a distinct 'roleName' (EksIrsaRole) or a different lab 'name'",
      );
    } else if (c instanceof EcrRepository) {
      const name = c.nameInput;
      if (!literal(name)) continue;
      claim(
        `aws_ecr_repository:${name}`,
        `aws_ecr_repository '${name}'`,
        c.node.path,
        "give one cluster another 'registry.repository'",
      );
    } else if (c instanceof ArtifactRegistryRepository) {
      const id = c.repositoryIdInput;
      if (!literal(id)) continue;
      const where = `${literal(c.projectInput) ? c.projectInput : ''}:${literal(c.locationInput) ? c.locationInput : ''}`;
      claim(
        `google_artifact_registry_repository:${where}:${id}`,
        `google_artifact_registry_repository '${id}'`,
        c.node.path,
        "give one cluster another 'registry.repository'",
      );
    } else if (c instanceof ComputeGlobalAddress) {
      const name = c.nameInput;
      if (!literal(name)) continue;
      claim(
        `google_compute_global_address:${literal(c.projectInput) ? c.projectInput : ''}:${name}`,
        `google_compute_global_address '${name}'`,
        c.node.path,
        "give one a different lab 'name'",
      );
    } else if (c instanceof TerraformOutput) {
      claim(
        `output:${c.friendlyUniqueId}`,
        `output '${c.friendlyUniqueId}'`,
        c.node.path,
        "give one KioskCluster an 'outputPrefix'",
      );
    }
  }
  return problems;
}

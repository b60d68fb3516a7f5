import { EcrLifecyclePolicy } from '@cdktf/provider-aws/lib/ecr-lifecycle-policy/index.js';
import { EcrRepository } from '@cdktf/provider-aws/lib/ecr-repository/index.js';
import { Construct } from 'constructs';
import { guardUniqueCloudNames } from '../unique-names.js';
import { KioskConfigError } from '../validation.js';

export interface EcrImageRepositoriesProps {
  /**
   * Path prefix of the repositories (`cellkiosk` → `cellkiosk/<image>`), the part of the lab config's
   * `images.registry` after the registry host; '' for none.
   */
  readonly prefix: string;
  /** Image names, one repository each. */
  readonly images: readonly string[];
  /** Delete the repositories with their images on `terraform destroy`. @default false */
  readonly forceDelete?: boolean;
}

const ECR_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;

/**
 * One private ECR repository per kiosk image (`<prefix>/<image>`): images scanned on push, AES-256 encrypted,
 * untagged images expired after 14 days. The EKS nodes pull through their role's
 * `AmazonEC2ContainerRegistryReadOnly`; pushing is the lab's own IAM user's or role's
 * (`aws ecr get-login-password | podman login ...`).
 */
export class EcrImageRepositories extends Construct {
  /** Image name → repository. */
  readonly repositories: ReadonlyMap<string, EcrRepository>;

  constructor(scope: Construct, id: string, props: EcrImageRepositoriesProps) {
    super(scope, id);
    guardUniqueCloudNames(this);
    if (props.images.length === 0) throw new KioskConfigError(`'images' must name at least one image`);
    const repositories = new Map<string, EcrRepository>();
    for (const image of props.images) {
      const name = props.prefix ? `${props.prefix}/${image}` : image;
      if (!ECR_NAME.test(name) || name.length > 256) {
        throw new KioskConfigError(
          `ECR repository name '${name}' must be lowercase letters, digits and . _ - separated by '/' (at most 256)`,
        );
      }
      const repository = new EcrRepository(this, image, {
        name,
        imageTagMutability: 'MUTABLE',
        imageScanningConfiguration: { scanOnPush: true },
        encryptionConfiguration: [{ encryptionType: 'AES256' }],
        forceDelete: props.forceDelete ?? false,
      });
      new EcrLifecyclePolicy(this, `${image}-lifecycle`, {
        repository: repository.name,
        policy: JSON.stringify({
          rules: [
            {
              rulePriority: 1,
              description: 'expire untagged images after 14 days',
              selection: {
                tagStatus: 'untagged',
                countType: 'sinceImagePushed',
                countUnit: 'days',
                countNumber: 14,
              },
              action: { type: 'expire' },
            },
          ],
        }),
      });
      repositories.set(image, repository);
    }
    this.repositories = repositories;
  }
}

import { ArtifactRegistryRepository } from '@cdktf/provider-google/lib/artifact-registry-repository/index.js';
import { Construct } from 'constructs';
import { guardUniqueCloudNames } from '../unique-names.js';
import { KioskConfigError } from '../validation.js';

export interface GkeImageRegistryProps {
  readonly project: string;
  /** Artifact Registry location: a region (`us-central1`) or a multi-region (`us`, `europe`, `asia`). */
  readonly location: string;
  /** Repository id (lowercase letters, digits, '-'; 1..63, starting with a letter). */
  readonly repositoryId: string;
}

/**
 * A Docker-format Artifact Registry repository for the kiosk's images. Its URL (`url`) is the lab config's
 * `images.registry`; the GKE nodes pull from it as their service account, which holds
 * `roles/artifactregistry.reader` (`GkeCluster`). Nobody else gets access here: pushing is the lab's own
 * account's (`gcloud auth configure-docker <location>-docker.pkg.dev`).
 */
export class GkeImageRegistry extends Construct {
  readonly repository: ArtifactRegistryRepository;
  /** `<location>-docker.pkg.dev/<project>/<repositoryId>`: prefix of the images' names. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: GkeImageRegistryProps) {
    super(scope, id);
    guardUniqueCloudNames(this);
    if (!/^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/.test(props.repositoryId)) {
      throw new KioskConfigError(
        `'repositoryId' ('${props.repositoryId}') must be 1..63 lowercase letters, digits or '-', starting with a letter`,
      );
    }
    this.repository = new ArtifactRegistryRepository(this, 'repository', {
      project: props.project,
      location: props.location,
      repositoryId: props.repositoryId,
      format: 'DOCKER',
      description: 'cellkiosk images (CPU and GPU)',
    });
    this.url = `${props.location}-docker.pkg.dev/${props.project}/${props.repositoryId}`;
  }
}

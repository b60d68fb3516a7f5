import { StorageBucket } from '@cdktf/provider-google/lib/storage-bucket/index.js';
import { StorageBucketIamMember } from '@cdktf/provider-google/lib/storage-bucket-iam-member/index.js';
import { Construct } from 'constructs';
import type { BucketAccess, PrefixGrant } from '../roles.js';
import { KioskConfigError, requireBucketName, requireIntInRange } from '../validation.js';
import type { GcpGrantee } from './identity.js';

/** Bucket settings both clouds share (see `GcsBucket`, `S3KioskBucket`). */
export interface KioskBucketProps {
  /** Globally unique bucket name (validated against the cloud's naming rules). */
  readonly bucketName: string;
  /** Web UI origins allowed to PUT uploads and GET results from the browser (CORS). @default - no CORS rule */
  readonly webOrigins?: readonly string[];
  /** Days after which objects under `uploads/` are deleted. @default 7 */
  readonly uploadsExpireDays?: number;
  /** Days after which objects under `results/` are deleted. @default 30 */
  readonly resultsExpireDays?: number;
  /** Let `terraform destroy` delete a non-empty bucket. @default false */
  readonly forceDestroy?: boolean;
}

export interface GcsBucketProps extends KioskBucketProps {
  readonly project: string;
  /** Bucket location: the cluster's region keeps traffic free and fast. */
  readonly location: string;
}

/** Checks the shared bucket props; returns the expiry days with defaults applied. */
export function resolveBucketExpiry(props: KioskBucketProps): { uploads: number; results: number } {
  const uploads = props.uploadsExpireDays ?? 7;
  const results = props.resultsExpireDays ?? 30;
  requireIntInRange('uploadsExpireDays', uploads, 1, 3650);
  requireIntInRange('resultsExpireDays', results, 1, 3650);
  return { uploads, results };
}

/** GCS role and the access it stands for; object names are listable bucket-wide by any reader. */
const GCS_ROLE: Readonly<Record<BucketAccess, string>> = {
  read: 'roles/storage.objectViewer',
  write: 'roles/storage.objectCreator',
  readWrite: 'roles/storage.objectUser',
};

/**
 * The kiosk's GCS bucket. Secure by default: public access prevention `enforced`, uniform bucket-level access
 * (no ACLs), no project-wide grants. Lifecycle rules delete `uploads/` and `results/` objects after their
 * expiry; `models/` is kept. Access is granted per key prefix with IAM conditions
 * (`resource.name.startsWith("projects/_/buckets/<b>/objects/<prefix>")`).
 */
export class GcsBucket extends Construct {
  readonly bucket: StorageBucket;
  readonly bucketName: string;

  constructor(scope: Construct, id: string, props: GcsBucketProps) {
    super(scope, id);
    requireBucketName('bucketName', 'gke', props.bucketName);
    const expiry = resolveBucketExpiry(props);
    this.bucketName = props.bucketName;
    this.bucket = new StorageBucket(this, 'bucket', {
      name: props.bucketName,
      project: props.project,
      location: props.location,
      storageClass: 'STANDARD',
      uniformBucketLevelAccess: true,
      publicAccessPrevention: 'enforced',
      forceDestroy: props.forceDestroy ?? false,
      lifecycleRule: [
        { action: { type: 'Delete' }, condition: { age: expiry.uploads, matchesPrefix: ['uploads/'] } },
        { action: { type: 'Delete' }, condition: { age: expiry.results, matchesPrefix: ['results/'] } },
        { action: { type: 'AbortIncompleteMultipartUpload' }, condition: { age: 1 } },
      ],
      ...(props.webOrigins?.length
        ? {
            cors: [
              {
                origin: [...props.webOrigins],
                method: ['GET', 'HEAD', 'PUT'],
                responseHeader: ['Content-Type', 'Content-Length', 'ETag'],
                maxAgeSeconds: 3600,
              },
            ],
          }
        : {}),
    });
  }

  /** Lets `grantee` read objects under `prefix` (`roles/storage.objectViewer` with a prefix condition). */
  grantRead(grantee: GcpGrantee, prefix: string): StorageBucketIamMember {
    return this.grant(grantee, { prefix, access: 'read' });
  }

  /** Lets `grantee` create objects under `prefix` (`roles/storage.objectCreator` with a prefix condition). */
  grantWrite(grantee: GcpGrantee, prefix: string): StorageBucketIamMember {
    return this.grant(grantee, { prefix, access: 'write' });
  }

  /** Lets `grantee` read, write and delete under `prefix` (`roles/storage.objectUser` with a prefix condition). */
  grantReadWrite(grantee: GcpGrantee, prefix: string): StorageBucketIamMember {
    return this.grant(grantee, { prefix, access: 'readWrite' });
  }

  /**
   * Writes one `google_storage_bucket_iam_member` with an IAM condition on the object-name prefix. Listing is
   * evaluated on the bucket resource, so the condition also admits `resource.name == projects/_/buckets/<b>`
   * for readers: they can list names bucket-wide but read contents only under `prefix`.
   */
  grant(grantee: GcpGrantee, grant: PrefixGrant): StorageBucketIamMember {
    if (!/^[a-z0-9][a-z0-9-]*\/$/.test(grant.prefix)) {
      throw new KioskConfigError(
        `'prefix' ('${grant.prefix}') must be lowercase letters, digits or '-' ending in '/'`,
      );
    }
    const bucketResource = `projects/_/buckets/${this.bucketName}`;
    let expression = `resource.name.startsWith("${bucketResource}/objects/${grant.prefix}")`;
    if (grant.access !== 'write') expression += ` || resource.name == "${bucketResource}"`;
    const slug = `${grant.prefix.slice(0, -1)}-${grant.access}`;
    return new StorageBucketIamMember(this, `${grantee.grantId}-${slug}`, {
      bucket: this.bucket.name,
      role: GCS_ROLE[grant.access],
      member: grantee.member,
      condition: { title: `${grantee.grantId} ${slug}`, expression },
    });
  }
}

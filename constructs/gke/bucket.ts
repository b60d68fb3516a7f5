import { createHash } from 'node:crypto';
import { ProjectIamCustomRole } from '@cdktf/provider-google/lib/project-iam-custom-role/index.js';
import { StorageBucket } from '@cdktf/provider-google/lib/storage-bucket/index.js';
import { StorageBucketIamMember } from '@cdktf/provider-google/lib/storage-bucket-iam-member/index.js';
import { Construct } from 'constructs';
import { ACCESS_OPS, BUCKET_OPS, type BucketOp, type PrefixGrant } from '../roles.js';
import { KioskConfigError, requireBucketName, requireIntInRange } from '../validation.js';
import type { GcpGrantee } from './identity.js';

/** Bucket settings both clouds share (see `GcsBucket`, `S3KioskBucket`). */
export interface KioskBucketProps {
  /** Globally unique bucket name (validated against the cloud's naming rules). */
  readonly bucketName: string;
  /**
   * Origins of the web UI (`https://kiosk.example.org`), which fetches results from signed bucket URLs in the
   * browser (the viewer's labels): the bucket's CORS rule lets them GET and HEAD objects.
   * @default ['*'] - any origin (see `bucketCorsOrigins`)
   */
  readonly webOrigins?: readonly string[];
  /** Days after which objects under `uploads/` are deleted. @default 7 */
  readonly uploadsExpireDays?: number;
  /** Days after which objects under `results/` are deleted. @default 30 */
  readonly resultsExpireDays?: number;
  /**
   * Days after which objects under `scratch/` (a job's intermediate arrays, deleted when it finishes) are
   * deleted: what a job killed mid-way leaves behind. Longer than a job may wait in the queue. @default 7
   */
  readonly scratchExpireDays?: number;
  /**
   * Days after which objects under `training/` (a training job's data and checkpoints; checkpoints are
   * deleted when it finishes) are deleted. Longer than a training job may wait and run. @default 30
   */
  readonly trainingExpireDays?: number;
  /** Let `terraform destroy` delete a non-empty bucket. @default false */
  readonly forceDestroy?: boolean;
}

export interface GcsBucketProps extends KioskBucketProps {
  readonly project: string;
  /** Bucket location: the cluster's region keeps traffic free and fast. */
  readonly location: string;
}

/** Checks the shared bucket props; returns the expiry days with defaults applied. */
export function resolveBucketExpiry(props: KioskBucketProps): {
  uploads: number;
  results: number;
  scratch: number;
  training: number;
} {
  const uploads = props.uploadsExpireDays ?? 7;
  const results = props.resultsExpireDays ?? 30;
  const scratch = props.scratchExpireDays ?? 7;
  const training = props.trainingExpireDays ?? 30;
  requireIntInRange('uploadsExpireDays', uploads, 1, 3650);
  requireIntInRange('resultsExpireDays', results, 1, 3650);
  requireIntInRange('scratchExpireDays', scratch, 1, 3650);
  requireIntInRange('trainingExpireDays', training, 1, 3650);
  return { uploads, results, scratch, training };
}

/**
 * The origins the bucket's CORS rule admits for GET and HEAD. Without configured origins, `*`: a signed URL is a
 * bearer capability (whoever holds it may fetch that one object until it expires, from any origin or none), and
 * the browser sends no credentials with it (no cookies, no Authorization: the signature is in the query), so
 * CORS adds no protection to it; it only decides whether the page may read the bytes. The bucket stays private:
 * an unsigned request is still refused. Throws unless each origin is `*` or `http(s)://host[:port]`.
 */
export function bucketCorsOrigins(props: KioskBucketProps): string[] {
  const origins = props.webOrigins?.length ? [...props.webOrigins] : ['*'];
  for (const o of origins) {
    if (o !== '*' && !/^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$/.test(o)) {
      throw new KioskConfigError(
        `'webOrigins' ('${o}') must be '*' or an origin such as https://kiosk.example.org (no path, no trailing '/')`,
      );
    }
  }
  return origins;
}

/** The GCS permission of each bucket operation (an access level's operations: ACCESS_OPS). */
const GCS_PERMISSION: Readonly<Record<BucketOp, string>> = {
  read: 'storage.objects.get',
  list: 'storage.objects.list',
  write: 'storage.objects.create',
  delete: 'storage.objects.delete',
};

/**
 * Predefined GCS roles whose object permissions are exactly an access level's operations; an access without
 * one here (`delete`: list and delete, no reading) gets a custom role of the project holding just those
 * permissions (see `roleFor`).
 * - read → objectViewer (objects.get, objects.list);
 * - write → objectCreator (objects.create only). GCS needs objects.delete to replace an existing object, so a
 *   `write` grant creates each key once: a second put of the same key gets 403 there (S3's PutObject
 *   overwrites). A prefix whose keys are written again (retries) needs `readWrite` (roles.ts says the same);
 * - readWrite → objectUser (get, list, create, replace, delete).
 */
const PREDEFINED_ROLES: readonly { readonly ops: readonly BucketOp[]; readonly role: string }[] = [
  { ops: ['read', 'list'], role: 'roles/storage.objectViewer' },
  { ops: ['write'], role: 'roles/storage.objectCreator' },
  { ops: ['read', 'list', 'write', 'delete'], role: 'roles/storage.objectUser' },
];

/** `ops` in BUCKET_OPS order, without repeats. */
const opsKey = (ops: readonly BucketOp[]): BucketOp[] => BUCKET_OPS.filter((op) => ops.includes(op));

/**
 * The kiosk's GCS bucket. Secure by default: public access prevention `enforced`, uniform bucket-level access
 * (no ACLs), no project-wide grants. Lifecycle rules delete `uploads/` and `results/` objects after their
 * expiry; `models/` is kept. Access is granted per key prefix with IAM conditions
 * (`resource.name.startsWith("projects/_/buckets/<b>/objects/<prefix>")`).
 */
export class GcsBucket extends Construct {
  readonly bucket: StorageBucket;
  readonly bucketName: string;
  private readonly project: string;
  /** Custom roles made for access levels no predefined role matches, by their operations. */
  private readonly customRoles = new Map<string, ProjectIamCustomRole>();

  constructor(scope: Construct, id: string, props: GcsBucketProps) {
    super(scope, id);
    requireBucketName('bucketName', 'gke', props.bucketName);
    this.project = props.project;
    const expiry = resolveBucketExpiry(props);
    const origins = bucketCorsOrigins(props);
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
        // No sweeper runs in the cloud (the local kiosk's sweeps its folder): what crashed jobs and
        // trainings leave behind goes by age.
        { action: { type: 'Delete' }, condition: { age: expiry.scratch, matchesPrefix: ['scratch/'] } },
        { action: { type: 'Delete' }, condition: { age: expiry.training, matchesPrefix: ['training/'] } },
        { action: { type: 'AbortIncompleteMultipartUpload' }, condition: { age: 1 } },
      ],
      // The web UI reads results (signed URLs) from the bucket; uploads go through the API, never PUT here.
      cors: [
        {
          origin: origins,
          method: ['GET', 'HEAD'],
          responseHeader: ['Content-Type', 'ETag'],
          maxAgeSeconds: 3600,
        },
      ],
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
   * Writes one `google_storage_bucket_iam_member` with an IAM condition on the object-name prefix
   * (`resource.name.startsWith("projects/_/buckets/<b>/objects/<prefix>")`). `storage.objects.list` is
   * authorized on the bucket, not on objects (its `resource.name` is `projects/_/buckets/<b>`, and the listed
   * prefix is no attribute a condition can see), so a prefix condition alone would refuse every listing; the
   * condition of an access that lists (ACCESS_OPS: read, readWrite, delete) also admits the bucket itself. Such a role can
   * therefore list names bucket-wide, though it reads and writes contents only under `prefix` (the grant
   * checker, constructs/roles.ts, holds the code to S3's stricter rule: listings inside a granted prefix).
   */
  grant(grantee: GcpGrantee, grant: PrefixGrant): StorageBucketIamMember {
    if (!/^[a-z0-9][a-z0-9-]*\/$/.test(grant.prefix)) {
      throw new KioskConfigError(
        `'prefix' ('${grant.prefix}') must be lowercase letters, digits or '-' ending in '/'`,
      );
    }
    const ops = ACCESS_OPS[grant.access];
    const bucketResource = `projects/_/buckets/${this.bucketName}`;
    let expression = `resource.name.startsWith("${bucketResource}/objects/${grant.prefix}")`;
    if (ops.includes('list')) expression += ` || resource.name == "${bucketResource}"`;
    const slug = `${grant.prefix.slice(0, -1)}-${grant.access}`;
    return new StorageBucketIamMember(this, `${grantee.grantId}-${slug}`, {
      bucket: this.bucket.name,
      role: this.roleFor(ops),
      member: grantee.member,
      condition: { title: `${grantee.grantId} ${slug}`, expression },
    });
  }

  /**
   * The role holding exactly the permissions of `ops`: a predefined one where it exists, else a custom role
   * of the project, one per set of operations, named after the bucket (`kiosk_<bucket>_list_delete`), so two
   * labs' stacks in one project make two. Creating it needs `iam.roles.create` on the project (Owner or
   * Role Administrator); the provider undeletes a custom role of the same id that a destroy left behind.
   */
  private roleFor(ops: readonly BucketOp[]): string {
    const key = opsKey(ops);
    const predefined = PREDEFINED_ROLES.find((r) => r.ops.join() === key.join());
    if (predefined) return predefined.role;
    let custom = this.customRoles.get(key.join());
    if (!custom) {
      // Role ids: 3..64 of letters, digits, '_' and '.'.
      let bucket = this.bucketName.replace(/-/g, '_');
      if (bucket.length > 36) {
        const hash = createHash('sha256').update(this.bucketName).digest('hex').slice(0, 6);
        bucket = `${bucket.slice(0, 29)}_${hash}`;
      }
      custom = new ProjectIamCustomRole(this, `role-${key.join('-')}`, {
        project: this.project,
        roleId: `kiosk_${bucket}_${key.join('_')}`,
        title: `cellkiosk ${this.bucketName}: objects ${key.join(', ')}`,
        description: `Object ${key.join(' and ')} on bucket ${this.bucketName}, granted per prefix with IAM conditions`,
        permissions: key.map((op) => GCS_PERMISSION[op]),
      });
      this.customRoles.set(key.join(), custom);
    }
    return custom.name;
  }
}

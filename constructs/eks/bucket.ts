import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document/index.js';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy/index.js';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket/index.js';
import { S3BucketCorsConfiguration } from '@cdktf/provider-aws/lib/s3-bucket-cors-configuration/index.js';
import { S3BucketLifecycleConfiguration } from '@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration/index.js';
import { S3BucketOwnershipControls } from '@cdktf/provider-aws/lib/s3-bucket-ownership-controls/index.js';
import { S3BucketPolicy } from '@cdktf/provider-aws/lib/s3-bucket-policy/index.js';
import { S3BucketPublicAccessBlock } from '@cdktf/provider-aws/lib/s3-bucket-public-access-block/index.js';
import { S3BucketServerSideEncryptionConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration/index.js';
import { Construct } from 'constructs';
import { bucketCorsOrigins, resolveBucketExpiry, type KioskBucketProps } from '../gke/bucket.js';
import { ACCESS_OPS, type BucketOp, type PrefixGrant } from '../roles.js';
import { KioskConfigError, requireBucketName } from '../validation.js';
import type { AwsGrantee } from './identity.js';

/**
 * S3 object actions per bucket operation (an access level's operations: ACCESS_OPS). `list` is no object
 * action: it is `s3:ListBucket` on the bucket with the condition `s3:prefix` like `<prefix>*`, which S3 also
 * consults, with the key as `s3:prefix`, to answer 404 instead of 403 for a missing key under the prefix.
 */
const S3_OBJECT_ACTIONS: Readonly<Record<Exclude<BucketOp, 'list'>, readonly string[]>> = {
  read: ['s3:GetObject'],
  write: ['s3:PutObject', 's3:AbortMultipartUpload'],
  delete: ['s3:DeleteObject'],
};

/**
 * The kiosk's S3 bucket. Secure by default: all four public-access blocks on, ACLs disabled (bucket owner
 * enforced), SSE-S3 encryption, and a bucket policy denying any request not made over TLS. Lifecycle rules
 * expire `uploads/` and `results/` and abort stale multipart uploads; `models/` is kept. A CORS rule lets the
 * web UI GET signed URLs (`KioskBucketProps.webOrigins`). Grants are inline
 * role policies scoped to `arn:aws:s3:::<bucket>/<prefix>*` (and `s3:ListBucket` with `s3:prefix`).
 */
export class S3KioskBucket extends Construct {
  readonly bucket: S3Bucket;
  readonly bucketName: string;
  readonly arn: string;

  constructor(scope: Construct, id: string, props: KioskBucketProps) {
    super(scope, id);
    requireBucketName('bucketName', 'eks', props.bucketName);
    const expiry = resolveBucketExpiry(props);
    const origins = bucketCorsOrigins(props);
    this.bucketName = props.bucketName;
    this.arn = `arn:aws:s3:::${props.bucketName}`;
    this.bucket = new S3Bucket(this, 'bucket', {
      bucket: props.bucketName,
      forceDestroy: props.forceDestroy ?? false,
    });
    const bucket = this.bucket.id;
    new S3BucketPublicAccessBlock(this, 'public-access-block', {
      bucket,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketOwnershipControls(this, 'ownership', {
      bucket,
      rule: { objectOwnership: 'BucketOwnerEnforced' },
    });
    new S3BucketServerSideEncryptionConfigurationA(this, 'encryption', {
      bucket,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }],
    });
    const expire = (prefix: string, days: number) => ({
      id: `expire-${prefix.slice(0, -1)}`,
      status: 'Enabled',
      filter: [{ prefix }],
      expiration: [{ days }],
    });
    new S3BucketLifecycleConfiguration(this, 'lifecycle', {
      bucket,
      rule: [
        expire('uploads/', expiry.uploads),
        expire('results/', expiry.results),
        // No sweeper runs in the cloud: what crashed jobs and trainings leave behind goes by age.
        expire('scratch/', expiry.scratch),
        expire('training/', expiry.training),
        {
          id: 'abort-incomplete-uploads',
          status: 'Enabled',
          filter: [{ prefix: '' }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: 1 }],
        },
      ],
    });
    // The web UI reads results (signed URLs) from the bucket (see bucketCorsOrigins); uploads go through the
    // API, never PUT here. No allowed headers: a plain GET or HEAD needs no preflight.
    new S3BucketCorsConfiguration(this, 'cors', {
      bucket,
      corsRule: [
        {
          allowedOrigins: origins,
          allowedMethods: ['GET', 'HEAD'],
          exposeHeaders: ['ETag'],
          maxAgeSeconds: 3600,
        },
      ],
    });
    const tlsOnly = new DataAwsIamPolicyDocument(this, 'tls-only', {
      statement: [
        {
          sid: 'DenyInsecureTransport',
          effect: 'Deny',
          actions: ['s3:*'],
          principals: [{ type: '*', identifiers: ['*'] }],
          resources: [this.arn, `${this.arn}/*`],
          condition: [{ test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] }],
        },
      ],
    });
    new S3BucketPolicy(this, 'policy', { bucket, policy: tlsOnly.json });
  }

  /** Lets `grantee` read objects under `prefix` (`s3:GetObject`, `s3:ListBucket` on that prefix). */
  grantRead(grantee: AwsGrantee, prefix: string): IamRolePolicy {
    return this.grant(grantee, { prefix, access: 'read' });
  }

  /** Lets `grantee` create or overwrite objects under `prefix` (`s3:PutObject`). */
  grantWrite(grantee: AwsGrantee, prefix: string): IamRolePolicy {
    return this.grant(grantee, { prefix, access: 'write' });
  }

  /** Lets `grantee` read, write and delete objects under `prefix`. */
  grantReadWrite(grantee: AwsGrantee, prefix: string): IamRolePolicy {
    return this.grant(grantee, { prefix, access: 'readWrite' });
  }

  /**
   * Writes one inline `aws_iam_role_policy` on the grantee's role for this prefix and access: the object
   * actions of the access's operations (`S3_OBJECT_ACTIONS`) on `<bucket>/<prefix>*`, and `s3:ListBucket`
   * limited to the prefix when the access lists.
   */
  grant(grantee: AwsGrantee, grant: PrefixGrant): IamRolePolicy {
    if (!/^[a-z0-9][a-z0-9-]*\/$/.test(grant.prefix)) {
      throw new KioskConfigError(
        `'prefix' ('${grant.prefix}') must be lowercase letters, digits or '-' ending in '/'`,
      );
    }
    const slug = `${grant.prefix.slice(0, -1)}-${grant.access}`;
    const ops = ACCESS_OPS[grant.access];
    const actions = ops.flatMap((op) => (op === 'list' ? [] : S3_OBJECT_ACTIONS[op]));
    const doc = new DataAwsIamPolicyDocument(this, `${grantee.grantId}-${slug}-doc`, {
      statement: [
        ...(actions.length ? [{ sid: 'Objects', actions, resources: [`${this.arn}/${grant.prefix}*`] }] : []),
        ...(ops.includes('list')
          ? [
              {
                sid: 'List',
                actions: ['s3:ListBucket'],
                resources: [this.arn],
                condition: [{ test: 'StringLike', variable: 's3:prefix', values: [`${grant.prefix}*`] }],
              },
            ]
          : []),
      ],
    });
    return new IamRolePolicy(this, `${grantee.grantId}-${slug}`, {
      name: `bucket-${slug}`,
      role: grantee.role.id,
      policy: doc.json,
    });
  }
}

// The IAM the clusters synthesize for the bucket follows constructs/roles.ts's ROLE_BUCKET_GRANTS, on both
// clouds: every grant of the table (whatever it holds the day this runs) becomes exactly one policy of its
// role with the permissions its access level stands for, and no role gets anything the table doesn't list.
import { AwsProvider } from '@cdktf/provider-aws/lib/provider/index.js';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider/index.js';
import { TerraformStack, Testing } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { GpuType } from './gpu-type.js';
import { KioskCluster } from './kiosk-cluster.js';
import { KIOSK_ROLES, ROLE_BUCKET_GRANTS, type BucketAccess, type KioskRole } from './roles.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- synthesized Terraform JSON is untyped */
interface Synthed {
  resource: Record<string, Record<string, any>>;
  data?: Record<string, Record<string, any>>;
}
const BUCKET = 'lab1-kiosk-data';

function synth(provider: 'gke' | 'eks'): Synthed {
  const stack = new TerraformStack(Testing.app({ stackTraces: false }), 'lab');
  const common = {
    name: 'lab1',
    gpuPool: { gpu: { type: GpuType.nvidiaT4(), count: 1 }, maxNodes: 2 },
    bucket: { bucketName: BUCKET },
  };
  if (provider === 'gke') {
    new GoogleProvider(stack, 'google', { project: 'lab1-project', region: 'us-central1' });
    new KioskCluster(stack, 'kiosk', { ...common, provider, project: 'lab1-project', region: 'us-central1' });
  } else {
    new AwsProvider(stack, 'aws', { region: 'us-east-1' });
    new KioskCluster(stack, 'kiosk', {
      ...common,
      provider,
      region: 'us-east-1',
      zones: ['us-east-1a', 'us-east-1b'],
    });
  }
  return JSON.parse(Testing.synth(stack, true)) as Synthed;
}

/** The table's grants of a role as `prefix access` lines, sorted. */
const tableOf = (role: KioskRole) => ROLE_BUCKET_GRANTS[role].map((g) => `${g.prefix} ${g.access}`).sort();

/** What each access level must allow on S3: object actions, and whether listing (under the prefix) is allowed. */
const S3_EXPECTED: Record<BucketAccess, { actions: string[]; list: boolean }> = {
  read: { actions: ['s3:GetObject'], list: true },
  write: { actions: ['s3:AbortMultipartUpload', 's3:PutObject'], list: false },
  readWrite: {
    actions: ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:PutObject'],
    list: true,
  },
};
/** ... and on GCS: the predefined role, and whether the condition admits the bucket itself (objects.list). */
const GCS_EXPECTED: Record<BucketAccess, { role: string; list: boolean }> = {
  read: { role: 'roles/storage.objectViewer', list: true },
  write: { role: 'roles/storage.objectCreator', list: false },
  readWrite: { role: 'roles/storage.objectUser', list: true },
};

describe('bucket IAM follows ROLE_BUCKET_GRANTS', () => {
  it('the table is not empty (or this test would prove nothing)', () => {
    expect(KIOSK_ROLES.flatMap((r) => ROLE_BUCKET_GRANTS[r]).length).toBeGreaterThan(5);
  });

  it('EKS: one inline policy per grant on the role of its kiosk role, with the actions of its access', () => {
    const s = synth('eks');
    const roleIds = Object.fromEntries(
      Object.entries(s.resource.aws_iam_role!).map(([id, r]) => [r.name as string, id]),
    );
    for (const role of KIOSK_ROLES) {
      const roleId = roleIds[`lab1-kiosk-${role}`];
      expect(roleId, role).toBeDefined();
      const policies = Object.values(s.resource.aws_iam_role_policy ?? {}).filter(
        (p) => p.role === `\${aws_iam_role.${roleId}.id}`,
      );
      const found = policies.map((p) => {
        const docId = /^\$\{data\.aws_iam_policy_document\.([^.]+)\.json\}$/.exec(p.policy)![1]!;
        const statements = s.data!.aws_iam_policy_document![docId].statement as any[];
        const objects = statements.find((st) => st.sid === 'Objects');
        const m = new RegExp(`^arn:aws:s3:::${BUCKET}/([a-z0-9-]+/)\\*$`).exec(objects.resources[0]);
        expect(m, `${role}: ${objects.resources[0]}`).not.toBeNull();
        const prefix = m![1]!;
        const list = statements.find((st) => st.sid === 'List');
        const access = (Object.keys(S3_EXPECTED) as BucketAccess[]).find(
          (a) =>
            JSON.stringify(S3_EXPECTED[a].actions) === JSON.stringify([...objects.actions].sort()) &&
            S3_EXPECTED[a].list === (list !== undefined),
        );
        expect(access, `${role} ${prefix}: actions ${objects.actions} match no access level`).toBeDefined();
        expect(objects.resources).toEqual([`arn:aws:s3:::${BUCKET}/${prefix}*`]);
        if (list) {
          // Listing only under the prefix; S3 also checks this permission, with the key as s3:prefix, to answer
          // 404 rather than 403 for a missing key under it (a missing checkpoint pointer, say).
          expect(list).toEqual({
            sid: 'List',
            actions: ['s3:ListBucket'],
            resources: [`arn:aws:s3:::${BUCKET}`],
            condition: [{ test: 'StringLike', variable: 's3:prefix', values: [`${prefix}*`] }],
          });
        }
        expect(statements.length).toBe(list ? 2 : 1);
        return `${prefix} ${access}`;
      });
      expect(found.sort(), role).toEqual(tableOf(role));
    }
  });

  it('GKE: one conditional bucket binding per grant for the service account of its kiosk role', () => {
    const s = synth('gke');
    const saIds = Object.fromEntries(
      Object.entries(s.resource.google_service_account!).map(([id, a]) => [a.account_id as string, id]),
    );
    const short: Record<KioskRole, string> = {
      api: 'api',
      'cpu-worker': 'cpu',
      'gpu-worker': 'gpu',
      trainer: 'train',
      autoscaler: 'scale',
    };
    const bucketResource = `projects/_/buckets/${BUCKET}`;
    for (const role of KIOSK_ROLES) {
      const saId = saIds[`lab1-${short[role]}`];
      expect(saId, role).toBeDefined();
      const bindings = Object.values(s.resource.google_storage_bucket_iam_member ?? {}).filter(
        (b) => b.member === `\${google_service_account.${saId}.member}`,
      );
      const found = bindings.map((b) => {
        const m = new RegExp(
          `^resource\\.name\\.startsWith\\("${bucketResource}/objects/([a-z0-9-]+/)"\\)( \\|\\| resource\\.name == "${bucketResource}")?$`,
        ).exec(b.condition.expression);
        expect(m, `${role}: ${b.condition.expression}`).not.toBeNull();
        const access = (Object.keys(GCS_EXPECTED) as BucketAccess[]).find(
          (a) => GCS_EXPECTED[a].role === b.role && GCS_EXPECTED[a].list === (m![2] !== undefined),
        );
        expect(access, `${role} ${m![1]}: ${b.role} matches no access level`).toBeDefined();
        return `${m![1]} ${access}`;
      });
      expect(found.sort(), role).toEqual(tableOf(role));
    }
  });
});

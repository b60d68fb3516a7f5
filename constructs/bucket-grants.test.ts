// The IAM the clusters synthesize for the bucket follows constructs/roles.ts's ROLE_BUCKET_GRANTS, on both
// clouds: every grant of the table (whatever it holds the day this runs) becomes exactly one policy of its
// role with the permissions its access level stands for, and no role gets anything the table doesn't list.
import { AwsProvider } from '@cdktf/provider-aws/lib/provider/index.js';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider/index.js';
import { TerraformStack, Testing } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { GpuType } from './gpu-type.js';
import { KioskCluster } from './kiosk-cluster.js';
import {
  ACCESS_OPS,
  BUCKET_OPS,
  KIOSK_ROLES,
  ROLE_BUCKET_GRANTS,
  type BucketAccess,
  type BucketOp,
  type KioskRole,
} from './roles.js';

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

/** The cloud permissions each bucket operation stands for (ACCESS_OPS lists an access level's operations). */
const S3_ACTIONS: Record<Exclude<BucketOp, 'list'>, string[]> = {
  read: ['s3:GetObject'],
  write: ['s3:PutObject', 's3:AbortMultipartUpload'],
  delete: ['s3:DeleteObject'],
};
const GCS_PERMISSION: Record<BucketOp, string> = {
  read: 'storage.objects.get',
  list: 'storage.objects.list',
  write: 'storage.objects.create',
  delete: 'storage.objects.delete',
};
/** The object permissions of the predefined GCS roles (cloud.google.com/storage/docs/access-control/iam-roles). */
const GCS_PREDEFINED: Record<string, string[]> = {
  'roles/storage.objectViewer': ['storage.objects.get', 'storage.objects.list'],
  'roles/storage.objectCreator': ['storage.objects.create'],
  'roles/storage.objectUser': [
    'storage.objects.create',
    'storage.objects.delete',
    'storage.objects.get',
    'storage.objects.list',
  ],
};

/** The access level whose operations are exactly `ops` (each level's set differs), or undefined. */
function accessOf(ops: Iterable<BucketOp>): BucketAccess | undefined {
  const key = BUCKET_OPS.filter((op) => new Set(ops).has(op)).join();
  return (Object.keys(ACCESS_OPS) as BucketAccess[]).find(
    (a) => BUCKET_OPS.filter((op) => ACCESS_OPS[a].includes(op)).join() === key,
  );
}

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
        const list = statements.find((st) => st.sid === 'List');
        const ops = new Set<BucketOp>(list ? ['list'] : []);
        for (const action of objects?.actions ?? []) {
          const op = (Object.keys(S3_ACTIONS) as Exclude<BucketOp, 'list'>[]).find((o) =>
            S3_ACTIONS[o].includes(action),
          );
          expect(op, `${role}: unexpected action ${action}`).toBeDefined();
          ops.add(op!);
        }
        for (const op of ops)
          if (op !== 'list') expect(objects.actions, role).toEqual(expect.arrayContaining(S3_ACTIONS[op]));
        const resource: string =
          objects?.resources[0] ?? `arn:aws:s3:::${BUCKET}/${list.condition[0].values[0]}`;
        const m = new RegExp(`^arn:aws:s3:::${BUCKET}/([a-z0-9-]+/)\\*$`).exec(resource);
        expect(m, `${role}: ${resource}`).not.toBeNull();
        const prefix = m![1]!;
        if (objects) expect(objects.resources).toEqual([`arn:aws:s3:::${BUCKET}/${prefix}*`]);
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
        expect(statements.length).toBe((list ? 1 : 0) + (objects ? 1 : 0));
        const access = accessOf(ops);
        expect(access, `${role} ${prefix}: operations ${[...ops]} are no access level`).toBeDefined();
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
        const custom = /^\$\{google_project_iam_custom_role\.([^.]+)\.name\}$/.exec(b.role);
        const permissions: string[] = custom
          ? s.resource.google_project_iam_custom_role![custom[1]!].permissions
          : GCS_PREDEFINED[b.role]!;
        expect(permissions, `${role}: unexpected role ${b.role}`).toBeDefined();
        const ops = permissions.map((p) => {
          const op = BUCKET_OPS.find((o) => GCS_PERMISSION[o] === p);
          expect(op, `${role}: unexpected permission ${p}`).toBeDefined();
          return op!;
        });
        // An access that lists must admit the bucket itself (objects.list is checked on the bucket), no other.
        expect(m![2] !== undefined, `${role} ${m![1]}: bucket clause`).toBe(ops.includes('list'));
        const access = accessOf(ops);
        expect(access, `${role} ${m![1]}: ${b.role} is no access level`).toBeDefined();
        return `${m![1]} ${access}`;
      });
      expect(found.sort(), role).toEqual(tableOf(role));
    }
  });
});

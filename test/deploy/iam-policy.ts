/**
 * Reads each kiosk role's S3 permissions out of the synthesized Terraform JSON (the inline
 * `aws_iam_role_policy` documents `cdktf deploy` would create) and decides whether one S3 request is
 * allowed by them — so the deploy rehearsal checks the policy a real EKS cluster would enforce, not a second
 * copy of the grant table. Covers what IAM identity policies use here: Allow statements with `actions`,
 * `resources` (`*` wildcards) and `StringLike` conditions on `s3:prefix`. Explicit Deny statements on the
 * role are honoured; the bucket policy's TLS-only Deny is not evaluated (the rehearsal's bucket speaks HTTP).
 */
import { readFileSync } from 'node:fs';
import { awsRoleName } from '../../constructs/identity-names.js';
import { KIOSK_ROLES, type KioskRole } from '../../constructs/roles.js';

/** One S3 request as IAM sees it: the action and the resource ARN (+ the listed prefix for ListBucket). */
export interface S3Request {
  readonly action:
    's3:GetObject' | 's3:PutObject' | 's3:DeleteObject' | 's3:ListBucket' | 's3:AbortMultipartUpload';
  readonly bucket: string;
  /** The object key (GetObject/PutObject/DeleteObject). */
  readonly key?: string;
  /** The `prefix` parameter of a ListObjectsV2 (ListBucket). */
  readonly prefix?: string;
}

interface Condition {
  readonly test: string;
  readonly variable: string;
  readonly values: readonly string[];
}

interface Statement {
  readonly effect?: string;
  readonly actions?: readonly string[];
  readonly resources?: readonly string[];
  readonly condition?: readonly Condition[];
}

/** A role's synthesized statements. */
export type RolePolicies = ReadonlyMap<KioskRole, readonly Statement[]>;

/** `*` and `?` as IAM matches them (whole string, case-sensitive). */
function globMatch(pattern: string, value: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 's').test(value);
}

const REF = /^\$\{(?:data\.)?([a-z0-9_]+)\.([^.}]+)\.([a-z_]+)\}$/;

/**
 * Every kiosk role's policy statements in a synthesized stack (`cdktf.out/stacks/<stack>/cdk.tf.json`).
 * Throws when a role's IAM role is missing (the stack would give that role no identity at all).
 */
export function readRolePolicies(stackJsonPath: string, labName: string): RolePolicies {
  const tf = JSON.parse(readFileSync(stackJsonPath, 'utf8')) as {
    resource?: Record<string, Record<string, Record<string, unknown>>>;
    data?: Record<string, Record<string, Record<string, unknown>>>;
  };
  const roles = tf.resource?.aws_iam_role ?? {};
  const rolePolicies = tf.resource?.aws_iam_role_policy ?? {};
  const docs = tf.data?.aws_iam_policy_document ?? {};
  const out = new Map<KioskRole, Statement[]>();
  for (const role of KIOSK_ROLES) {
    const name = awsRoleName(labName, role);
    const logical = Object.keys(roles).find((id) => roles[id]!.name === name);
    if (!logical) throw new Error(`the synthesized stack has no aws_iam_role named ${name}`);
    const statements: Statement[] = [];
    for (const [id, rp] of Object.entries(rolePolicies)) {
      const ref = REF.exec(String(rp.role));
      if (!ref || ref[1] !== 'aws_iam_role' || ref[2] !== logical) continue;
      const pref = REF.exec(String(rp.policy));
      if (!pref || pref[1] !== 'aws_iam_policy_document' || pref[3] !== 'json')
        throw new Error(
          `aws_iam_role_policy ${id}: policy is not a policy-document reference (${String(rp.policy)})`,
        );
      const doc = docs[pref[2]!];
      if (!doc) throw new Error(`aws_iam_role_policy ${id}: no data.aws_iam_policy_document ${pref[2]}`);
      statements.push(...((doc.statement as Statement[] | undefined) ?? []));
    }
    out.set(role, statements);
  }
  return out;
}

function statementMatches(st: Statement, req: S3Request): boolean {
  if (!(st.actions ?? []).some((a) => globMatch(a, req.action))) return false;
  const arn =
    req.action === 's3:ListBucket'
      ? `arn:aws:s3:::${req.bucket}`
      : `arn:aws:s3:::${req.bucket}/${req.key ?? ''}`;
  if (!(st.resources ?? []).some((r) => globMatch(r, arn))) return false;
  for (const c of st.condition ?? []) {
    if (c.variable !== 's3:prefix') return false; // a condition this evaluator cannot judge never allows
    const value = req.prefix ?? '';
    if (c.test === 'StringLike') {
      if (!c.values.some((v) => globMatch(v, value))) return false;
    } else if (c.test === 'StringEquals') {
      if (!c.values.includes(value)) return false;
    } else return false;
  }
  return true;
}

/** Undefined when `role`'s synthesized policy allows `req`; else why not. */
export function iamDenial(policies: RolePolicies, role: KioskRole, req: S3Request): string | undefined {
  const statements = policies.get(role) ?? [];
  const matching = statements.filter((st) => statementMatches(st, req));
  if (matching.some((st) => (st.effect ?? 'Allow') === 'Deny')) return `explicitly denied to ${role}`;
  if (matching.some((st) => (st.effect ?? 'Allow') === 'Allow')) return undefined;
  const what = req.action === 's3:ListBucket' ? `prefix ${JSON.stringify(req.prefix ?? '')}` : req.key;
  return `${role}'s IAM policy does not allow ${req.action} on ${what}`;
}

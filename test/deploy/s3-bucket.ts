/**
 * The rehearsal's bucket: s3rver (an S3-compatible server; it does not verify SigV4 signatures) behind a
 * proxy that plays IAM. Each kiosk role's container signs with its own access key id (`kiosk-<role>`, the
 * stand-in for its IRSA role); the proxy reads the key id of every request (header or presigned query),
 * turns the request into the IAM action and resource it needs, and lets it through only if that role's
 * policy, as synthesized into the Terraform JSON, allows it. Anything else is answered 403 AccessDenied, as
 * S3 would, and recorded as a grant violation. A presigned URL acts with the rights of the role that
 * signed it (as in S3). The bucket itself is made by s3rver at start (its CORS rule from the synthesized stack);
 * the harness reads results only through the signed URLs the API hands out, so no key outside the roles exists.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';
import { KIOSK_ROLES, type KioskRole } from '../../constructs/roles.js';
import { iamDenial, type RolePolicies, type S3Request } from './iam-policy.js';

/** The access key id a role's container signs with. */
export const roleKeyId = (role: KioskRole) => `kiosk-${role}`;

export interface BucketRequestLog {
  readonly role: KioskRole | 'anonymous';
  readonly method: string;
  readonly action: string;
  readonly target: string;
  readonly status: number;
}

export interface GrantViolation {
  readonly role: string;
  readonly request: string;
  readonly reason: string;
}

export interface RehearsalBucketProps {
  readonly bucket: string;
  readonly policies: RolePolicies;
  /** Address the proxy listens on (the containers reach it here). */
  readonly host: string;
  /** s3rver's data folder. */
  readonly directory: string;
  /** CORS rules (S3 XML) for the bucket, from the synthesized aws_s3_bucket_cors_configuration. */
  readonly corsXml?: string;
}

export interface RehearsalBucket {
  /** `http://host:port`: AWS_ENDPOINT_URL_S3 for the containers and the harness. */
  readonly endpoint: string;
  readonly violations: readonly GrantViolation[];
  readonly requests: readonly BucketRequestLog[];
  close(): Promise<void>;
}

const KEY_ROLE = new Map<string, KioskRole>(KIOSK_ROLES.map((r) => [roleKeyId(r), r]));

function accessKeyId(req: http.IncomingMessage, url: URL): string | undefined {
  const auth = req.headers.authorization;
  const m = auth ? /Credential=([^/]+)\//.exec(auth) : null;
  if (m) return m[1];
  const q = url.searchParams.get('X-Amz-Credential');
  return q ? q.split('/')[0] : undefined;
}

/** The IAM request an S3 REST call (path-style) needs; undefined for calls no kiosk role should make. */
function s3RequestOf(method: string, url: URL): S3Request | undefined {
  const parts = url.pathname.split('/').slice(1);
  const bucket = decodeURIComponent(parts[0] ?? '');
  const key = parts.slice(1).map(decodeURIComponent).join('/');
  if (!bucket) return undefined;
  if (!key) {
    if (
      method === 'GET' &&
      (url.searchParams.has('list-type') ||
        url.searchParams.has('prefix') ||
        [...url.searchParams].length === 0)
    )
      return { action: 's3:ListBucket', bucket, prefix: url.searchParams.get('prefix') ?? '' };
    return undefined; // bucket configuration, creation, deletion: not a workload's business
  }
  if (method === 'GET' || method === 'HEAD') return { action: 's3:GetObject', bucket, key };
  if (
    method === 'PUT' ||
    (method === 'POST' && (url.searchParams.has('uploads') || url.searchParams.has('uploadId')))
  )
    return { action: 's3:PutObject', bucket, key };
  if (method === 'DELETE')
    return url.searchParams.has('uploadId')
      ? { action: 's3:AbortMultipartUpload', bucket, key }
      : { action: 's3:DeleteObject', bucket, key };
  return undefined;
}

function rewriteCredential(
  req: http.IncomingMessage,
  url: URL,
): { path: string; headers: http.IncomingHttpHeaders } {
  const headers = { ...req.headers };
  if (headers.authorization)
    headers.authorization = headers.authorization.replace(/Credential=[^/]+\//, 'Credential=S3RVER/');
  const cred = url.searchParams.get('X-Amz-Credential');
  if (cred) url.searchParams.set('X-Amz-Credential', cred.replace(/^[^/]+/, 'S3RVER'));
  return { path: url.pathname + url.search, headers };
}

function accessDenied(res: http.ServerResponse, reason: string): void {
  res.writeHead(403, { 'content-type': 'application/xml' });
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>${reason.replace(/[<&>]/g, '')}</Message></Error>`,
  );
}

export async function startRehearsalBucket(props: RehearsalBucketProps): Promise<RehearsalBucket> {
  const s3 = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: props.directory,
    configureBuckets: [{ name: props.bucket, configs: props.corsXml ? [props.corsXml] : [] }],
  });
  const { port: s3Port } = (await s3.run()) as AddressInfo;
  const violations: GrantViolation[] = [];
  const requests: BucketRequestLog[] = [];

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://bucket');
    const keyId = accessKeyId(req, url);
    const role: BucketRequestLog['role'] = keyId ? (KEY_ROLE.get(keyId) ?? 'anonymous') : 'anonymous';
    const s3req = s3RequestOf(method, url);
    const target =
      decodeURIComponent(url.pathname) +
      (url.searchParams.has('prefix') ? `?prefix=${url.searchParams.get('prefix')}` : '');
    const log = (status: number) =>
      requests.push({ role, method, action: s3req?.action ?? method, target, status });
    // A CORS preflight carries no credentials; S3 answers it from the bucket's CORS rules alone.
    if (method !== 'OPTIONS') {
      let reason: string | undefined;
      if (keyId && !KEY_ROLE.has(keyId)) reason = `unknown access key id ${keyId}`;
      else if (role === 'anonymous') reason = 'unsigned request to a private bucket';
      else if (!s3req)
        reason = `${role} made a bucket-level request (${method} ${target}) no kiosk role is granted`;
      else reason = iamDenial(props.policies, role as KioskRole, s3req);
      if (reason) {
        violations.push({ role, request: `${method} ${target}`, reason });
        log(403);
        accessDenied(res, reason);
        req.resume();
        return;
      }
    }
    const { path, headers } = rewriteCredential(req, url);
    headers.host = `127.0.0.1:${s3Port}`;
    const up = http.request({ host: '127.0.0.1', port: s3Port, method, path, headers }, (upRes) => {
      log(upRes.statusCode ?? 0);
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', (err) => {
      log(502);
      if (!res.headersSent) res.writeHead(502);
      res.end(String(err));
    });
    req.pipe(up);
  });
  server.keepAliveTimeout = 60_000;
  // All interfaces: the bridge's gateway address exists only once the first container joins the network.
  server.listen(0, '0.0.0.0');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://${props.host}:${port}`,
    violations,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await s3.close();
    },
  };
}

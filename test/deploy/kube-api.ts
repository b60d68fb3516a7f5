/**
 * The rehearsal's stand-in for the part of the Kubernetes API the kiosk uses: the `scale` subresource of
 * Deployments (`GET`/`PATCH /apis/apps/v1/namespaces/NS/deployments/NAME/scale`), which the autoscaler
 * reads and merge-patches. It speaks HTTPS with a CA the pod trusts through its service-account folder, as
 * in-cluster config expects, checks the bearer token, and authorizes each call against the chart's own
 * Role/RoleBinding for the token's ServiceAccount (verbs and resourceNames), answering 403 as RBAC would.
 * A granted PATCH sets the workload's desired replicas, which the rehearsal's controller then runs.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { K8sObject } from './chart-to-podman.js';

export interface KubeApiProps {
  readonly host: string;
  readonly dir: string;
  readonly objects: readonly K8sObject[];
  readonly namespace: string;
  /** Current desired replicas per Deployment name (read and written). */
  readonly replicas: Map<string, number>;
  /** Called after a granted PATCH changed a Deployment's replicas. */
  readonly onScale?: (name: string, replicas: number) => void;
}

export interface KubeApi {
  readonly port: number;
  /** The service-account folder (token, ca.crt, namespace) for a ServiceAccount. */
  serviceAccountDir(sa: string): string;
  readonly denied: readonly string[];
  readonly calls: readonly string[];
  close(): Promise<void>;
}

interface RoleRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs?: string[];
}

/** The RBAC rules bound to `sa` in `namespace` by the chart's Roles and RoleBindings. */
export function rulesFor(objects: readonly K8sObject[], namespace: string, sa: string): RoleRule[] {
  const roles = new Map(
    objects
      .filter((o) => o.kind === 'Role' && (o.metadata.namespace ?? namespace) === namespace)
      .map((o) => [o.metadata.name, o.rules ?? []]),
  );
  const rules: RoleRule[] = [];
  for (const b of objects.filter(
    (o) => o.kind === 'RoleBinding' && (o.metadata.namespace ?? namespace) === namespace,
  )) {
    const binding = b as unknown as {
      roleRef: { kind: string; name: string };
      subjects?: { kind: string; name: string; namespace?: string }[];
    };
    const bound = (binding.subjects ?? []).some(
      (s) => s.kind === 'ServiceAccount' && s.name === sa && (s.namespace ?? namespace) === namespace,
    );
    if (bound && binding.roleRef.kind === 'Role') rules.push(...(roles.get(binding.roleRef.name) ?? []));
  }
  return rules;
}

export function rbacAllows(
  rules: readonly RoleRule[],
  verb: string,
  resource: string,
  name: string,
): boolean {
  const has = (list: string[] | undefined, v: string) => (list ?? []).some((x) => x === '*' || x === v);
  return rules.some(
    (r) =>
      has(r.apiGroups, 'apps') &&
      has(r.resources, resource) &&
      has(r.verbs, verb) &&
      (r.resourceNames === undefined || r.resourceNames.length === 0 || r.resourceNames.includes(name)),
  );
}

export async function startKubeApi(p: KubeApiProps): Promise<KubeApi> {
  mkdirSync(p.dir, { recursive: true });
  const key = join(p.dir, 'apiserver.key');
  const cert = join(p.dir, 'apiserver.crt');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=kubernetes',
      '-addext',
      `subjectAltName=IP:${p.host},DNS:kubernetes.default.svc`,
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  const tokens = new Map<string, string>(); // token → ServiceAccount
  const saDirs = new Map<string, string>();
  const denied: string[] = [];
  const calls: string[] = [];

  const server = https.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const url = new URL(req.url ?? '/', 'https://kubernetes');
      const line = `${req.method} ${url.pathname}`;
      calls.push(line);
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const sa = token ? tokens.get(token) : undefined;
      if (!sa) {
        denied.push(`${line}: no valid token`);
        return send(401, { kind: 'Status', status: 'Failure', reason: 'Unauthorized', code: 401 });
      }
      const m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/]+)\/scale$/.exec(url.pathname);
      if (!m) return send(404, { kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404 });
      const [, ns, name] = m as unknown as [string, string, string];
      const verb =
        req.method === 'GET' ? 'get' : req.method === 'PATCH' ? 'patch' : (req.method ?? '').toLowerCase();
      if (
        ns !== p.namespace ||
        !rbacAllows(rulesFor(p.objects, p.namespace, sa), verb, 'deployments/scale', name)
      ) {
        denied.push(`${line}: ${sa} may not ${verb} deployments/scale ${name}`);
        return send(403, {
          kind: 'Status',
          status: 'Failure',
          reason: 'Forbidden',
          code: 403,
          message: `forbidden: ${sa} cannot ${verb} deployments/scale ${name}`,
        });
      }
      if (!p.replicas.has(name))
        return send(404, { kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404 });
      if (verb === 'patch') {
        if (req.headers['content-type'] !== 'application/merge-patch+json')
          return send(415, { kind: 'Status', status: 'Failure', reason: 'UnsupportedMediaType', code: 415 });
        const patch = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as {
          spec?: { replicas?: unknown };
        };
        const n = patch.spec?.replicas;
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
          return send(422, { kind: 'Status', status: 'Failure', reason: 'Invalid', code: 422 });
        const before = p.replicas.get(name);
        p.replicas.set(name, n);
        if (before !== n) p.onScale?.(name, n);
      } else if (verb !== 'get') return send(405, { kind: 'Status', status: 'Failure', code: 405 });
      const replicas = p.replicas.get(name)!;
      send(200, {
        apiVersion: 'autoscaling/v1',
        kind: 'Scale',
        metadata: { name, namespace: ns },
        spec: replicas > 0 ? { replicas } : {},
        status: { replicas },
      });
    });
  });
  // All interfaces: the bridge's gateway address exists only once the first container joins the network.
  server.listen(0, '0.0.0.0');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    port,
    denied,
    calls,
    serviceAccountDir(sa: string) {
      let dir = saDirs.get(sa);
      if (dir) return dir;
      dir = join(p.dir, 'sa', sa);
      mkdirSync(dir, { recursive: true });
      const token = randomBytes(24).toString('hex');
      tokens.set(token, sa);
      writeFileSync(join(dir, 'token'), token, { mode: 0o644 });
      writeFileSync(join(dir, 'ca.crt'), readFileSync(cert), { mode: 0o644 });
      writeFileSync(join(dir, 'namespace'), p.namespace, { mode: 0o644 });
      saDirs.set(sa, dir);
      return dir;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

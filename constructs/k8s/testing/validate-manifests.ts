/**
 * Test support (imports the kubernetes-models devDependency; not exported from the library entry point):
 * validates synthesized Kubernetes objects against the upstream OpenAPI schemas.
 */
import { DaemonSet, Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { StorageClass } from 'kubernetes-models/storage.k8s.io/v1';
import { ConfigMap, Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';

/** A synthesized manifest: what `Testing.synth(chart)` returns per object. */
export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; [k: string]: unknown };
  readonly [key: string]: unknown;
}

type Validator = (obj: Manifest) => void;
const model =
  <T>(Model: new (data: T) => { validate(): void }): Validator =>
  (obj) =>
    new Model(obj as unknown as T).validate();

/**
 * Shape checks for the custom resources the chart makes (kubernetes-models has no schema for them), written
 * from each vendor's CRD reference: required fields, types, and the enum values the controllers accept.
 */
function crd(check: (obj: Manifest, problems: string[]) => void): Validator {
  return (obj) => {
    const problems: string[] = [];
    const { name, namespace, ...rest } = obj.metadata;
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name))
      problems.push(`metadata.name '${name}' is not a DNS label`);
    if (namespace === undefined) problems.push('metadata.namespace is required (namespaced kind)');
    void rest;
    const known = new Set(['apiVersion', 'kind', 'metadata', 'spec']);
    for (const k of Object.keys(obj)) if (!known.has(k)) problems.push(`unknown top-level field '${k}'`);
    check(obj, problems);
    if (problems.length) throw new Error(problems.join('; '));
  };
}
type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const onlyKeys = (o: Json, path: string, allowed: string[], problems: string[]) => {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) problems.push(`unknown field ${path}.${k}`);
};
const DNS_NAME = /^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/;

/** networking.gke.io/v1 ManagedCertificate: spec.domains, 1..100 DNS names (no wildcards). */
const managedCertificate = crd((o, problems) => {
  const spec = o.spec;
  if (!isObj(spec)) return void problems.push('spec is required');
  onlyKeys(spec, 'spec', ['domains'], problems);
  const d = spec.domains;
  if (!Array.isArray(d) || d.length < 1 || d.length > 100)
    problems.push('spec.domains must list 1..100 names');
  else
    for (const x of d)
      if (typeof x !== 'string' || !DNS_NAME.test(x))
        problems.push(`spec.domains: '${String(x)}' is not a DNS name`);
});

const REDIRECT_CODES = [
  'MOVED_PERMANENTLY_DEFAULT',
  'FOUND',
  'SEE_OTHER',
  'TEMPORARY_REDIRECT',
  'PERMANENT_REDIRECT',
];
/** networking.gke.io/v1beta1 FrontendConfig: redirectToHttps {enabled, responseCodeName}, sslPolicy. */
const frontendConfig = crd((o, problems) => {
  const spec = o.spec;
  if (!isObj(spec)) return void problems.push('spec is required');
  onlyKeys(spec, 'spec', ['redirectToHttps', 'sslPolicy'], problems);
  const r = spec.redirectToHttps;
  if (r !== undefined) {
    if (!isObj(r)) return void problems.push('spec.redirectToHttps must be an object');
    onlyKeys(r, 'spec.redirectToHttps', ['enabled', 'responseCodeName'], problems);
    if (typeof r.enabled !== 'boolean') problems.push('spec.redirectToHttps.enabled must be a boolean');
    if (r.responseCodeName !== undefined && !REDIRECT_CODES.includes(r.responseCodeName as string))
      problems.push(`spec.redirectToHttps.responseCodeName must be one of ${REDIRECT_CODES.join(', ')}`);
  }
  if (spec.sslPolicy !== undefined && typeof spec.sslPolicy !== 'string')
    problems.push('spec.sslPolicy must be a string');
});

/** monitoring.googleapis.com/v1 PodMonitoring: selector.matchLabels, endpoints[] {port, path, interval}. */
const podMonitoring = crd((o, problems) => {
  const spec = o.spec;
  if (!isObj(spec)) return void problems.push('spec is required');
  onlyKeys(spec, 'spec', ['selector', 'endpoints', 'targetLabels', 'limits'], problems);
  const sel = spec.selector;
  if (!isObj(sel) || !isObj(sel.matchLabels) || Object.keys(sel.matchLabels).length === 0)
    problems.push('spec.selector.matchLabels must name at least one label');
  const eps = spec.endpoints;
  if (!Array.isArray(eps) || eps.length === 0)
    return void problems.push('spec.endpoints must list at least one');
  eps.forEach((e: unknown, i) => {
    if (!isObj(e)) return void problems.push(`spec.endpoints[${i}] must be an object`);
    onlyKeys(
      e,
      `spec.endpoints[${i}]`,
      ['port', 'path', 'interval', 'timeout', 'scheme', 'params', 'metricRelabeling'],
      problems,
    );
    if (typeof e.port !== 'string' && typeof e.port !== 'number')
      problems.push(`spec.endpoints[${i}].port is required`);
    if (e.path !== undefined && (typeof e.path !== 'string' || !e.path.startsWith('/')))
      problems.push(`spec.endpoints[${i}].path must start with '/'`);
    if (e.interval !== undefined && !/^\d+(ms|s|m|h)$/.test(String(e.interval)))
      problems.push(`spec.endpoints[${i}].interval must be a duration such as 30s`);
  });
});

/** apiVersion/kind → schema. A kind missing here fails validation, so new kinds can't slip through unchecked. */
const VALIDATORS: Record<string, Validator> = {
  'v1/ConfigMap': model(ConfigMap),
  'v1/Namespace': model(Namespace),
  'v1/Service': model(Service),
  'v1/ServiceAccount': model(ServiceAccount),
  'apps/v1/Deployment': model(Deployment),
  'apps/v1/StatefulSet': model(StatefulSet),
  'apps/v1/DaemonSet': model(DaemonSet),
  'batch/v1/Job': model(Job),
  'networking.k8s.io/v1/Ingress': model(Ingress),
  'networking.k8s.io/v1/NetworkPolicy': model(NetworkPolicy),
  'policy/v1/PodDisruptionBudget': model(PodDisruptionBudget),
  'rbac.authorization.k8s.io/v1/Role': model(Role),
  'rbac.authorization.k8s.io/v1/RoleBinding': model(RoleBinding),
  'storage.k8s.io/v1/StorageClass': model(StorageClass),
  'networking.gke.io/v1/ManagedCertificate': managedCertificate,
  'networking.gke.io/v1beta1/FrontendConfig': frontendConfig,
  'monitoring.googleapis.com/v1/PodMonitoring': podMonitoring,
};

/** Validates every object; throws naming the object and the schema error. Returns the number validated. */
export function validateManifests(objects: readonly Manifest[]): number {
  for (const obj of objects) {
    const key = `${obj.apiVersion}/${obj.kind}`;
    const validate = VALIDATORS[key];
    if (!validate)
      throw new Error(`no kubernetes-models schema registered for ${key} (${obj.metadata.name})`);
    try {
      validate(obj);
    } catch (err) {
      throw new Error(`${key} ${obj.metadata.name} is invalid: ${(err as Error).message}`);
    }
  }
  return objects.length;
}

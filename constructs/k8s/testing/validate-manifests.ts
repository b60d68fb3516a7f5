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
import { Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';

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

/** apiVersion/kind → schema. A kind missing here fails validation, so new kinds can't slip through unchecked. */
const VALIDATORS: Record<string, Validator> = {
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

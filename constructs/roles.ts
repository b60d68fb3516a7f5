/**
 * The kiosk's workload roles and the least bucket access each one needs. Both clouds' identity constructs
 * and the Kubernetes chart read this one table, so a grant can't drift between GKE, EKS and the pods.
 */

/** A kiosk workload that runs under its own cloud identity and Kubernetes ServiceAccount. */
export type KioskRole = 'api' | 'cpu-worker' | 'gpu-worker' | 'trainer' | 'autoscaler';

/** Every role, in a fixed order (construct ids and output order depend on it). */
export const KIOSK_ROLES: readonly KioskRole[] = ['api', 'cpu-worker', 'gpu-worker', 'trainer', 'autoscaler'];

/**
 * Object access on one key prefix of the bucket (ACCESS_OPS lists the operations each allows):
 * - `read`: read objects (a signed URL included) and list names under the prefix;
 * - `write`: create objects; nothing else. GCS needs delete to replace an existing object (S3's PutObject
 *   replaces with write alone), so code that writes a key again — a retried stage — needs `readWrite`
 *   (replaceProblem);
 * - `readWrite`: read, list, write (replacing included) and delete;
 * - `delete`: delete objects, and list names under the prefix (deleting a prefix lists it first); no reading
 *   of contents, no writing.
 */
export type BucketAccess = 'read' | 'write' | 'readWrite' | 'delete';

/**
 * What one bucket call does, as the grants judge it (workers/storage/storage.ts's Storage):
 * - `read`: get, getStream, size, exists, and signedUrl (a signed URL lets whoever holds it read the object
 *   with the signer's rights, so signing is reading);
 * - `list`: list(prefix), and the listing every backend does to delete a prefix;
 * - `write`: put, putStream (to replace an existing object, also `delete`: see replaceProblem);
 * - `delete`: delete, deletePrefix.
 */
export type BucketOp = 'read' | 'list' | 'write' | 'delete';

/** Every bucket operation, in a fixed order. */
export const BUCKET_OPS: readonly BucketOp[] = ['read', 'list', 'write', 'delete'];

/** The operations each access level allows on the keys under its prefix. */
export const ACCESS_OPS: Readonly<Record<BucketAccess, readonly BucketOp[]>> = {
  read: ['read', 'list'],
  write: ['write'],
  readWrite: ['read', 'list', 'write', 'delete'],
  delete: ['list', 'delete'],
};

/** One grant: an access level on the objects under `prefix` (ends with `/`). */
export interface PrefixGrant {
  readonly prefix: string;
  readonly access: BucketAccess;
}

/**
 * Who may touch which prefix, and why (DESIGN.md's bucket layout; each grant names the code that needs it).
 * Several grants on one prefix add up (`results/` read + delete: read and delete, no writing).
 *
 * - api (api/server.ts):
 *   - `uploads/` readWrite: stores uploads (POST /v1/uploads, putStream) and the entries of an uploaded zip
 *     (`<upload>.d/<entry>`, expandInputs); reads them back to check them and to copy training sets out of
 *     them; serves or signs them (GET /v1/uploads/*, a job's inputUrl); deletes a refused request's uploads
 *     and the upload folders of a deleted job (deletePrefix).
 *   - `results/` read: signs result URLs (resultUrl, labelsUrl) or, for a folder bucket, streams them.
 *   - `results/` delete: DELETE /v1/jobs/:id removes the job's results (deletePrefix: a listing, then deletes);
 *     the local bucket's sweeper (workers/storage/sweep.ts) does the same for expired jobs.
 *   - `scratch/` delete: DELETE /v1/jobs/:id and the sweeper remove a job's leftover scratch (deletePrefix).
 *   - `models/` read: the model registry (GET /v1/models, a job's model checked when it is created). Never
 *     write: the API faces the internet, so POST /v1/models/import stages the package under `uploads/` and a
 *     CPU worker publishes it (below).
 *   - `training/` write: POST /v1/trainings stores the checked training set under a new id
 *     (`training/<id>/data/`), each key once.
 * - cpu-worker (workers/main.ts --pool cpu):
 *   - `uploads/` read: preprocess reads the job's input (an upload or a zip's entry).
 *   - `scratch/` readWrite: preprocess writes the tiles, postprocess reads the model outputs, and the job's
 *     scratch is deleted when it is done (postprocess) or has failed (runStage).
 *   - `results/` readWrite: postprocess writes the label TIFF (and, in a cloud bucket, its zip), pack writes
 *     the batch zip and reads each child's TIFF into it. A stage retried after its write (its worker lost
 *     before the job's record was finished) writes the same keys again, which GCS allows only with delete;
 *     the code itself never deletes a result.
 *   - `models/` readWrite: the registry resolves each job's model card and lists every version; the `models`
 *     queue's import-model job (workers/processors/import-model.ts) publishes a checked bioimage.io package
 *     as `models/<name>/<version>/` (card last) — the worker, not the internet-facing API, writes models. An
 *     import retried after its writes publishes the same keys again (GCS: delete needed); the code never
 *     deletes a model.
 *   - `uploads/` read also serves the import: it reads the staged package (`uploads/<lab>/<id>/package.zip`),
 *     which the API deletes when the import has ended.
 * - gpu-worker (workers/main.ts --pool gpu): inference, and training (it also takes the `train` queue):
 *   - `scratch/` readWrite: predict reads the tiles and writes the model outputs; a job that fails here has
 *     its scratch deleted (runStage).
 *   - `models/` readWrite: the registry lists models and copies a bucket model's files to its cache; training
 *     copies the base model it fine-tunes and publishes the version it trained (`models/<name>/<version>/`,
 *     card last). A retried training publishes the same version's keys again (GCS: delete needed); the code
 *     never deletes a model.
 *   - `training/` readWrite: training reads its set (`training/<id>/data/`), writes a checkpoint each epoch and
 *     replaces `latest.json`, reads them back to resume, deletes superseded epochs, and deletes the
 *     checkpoints when the job is done or failed.
 * - trainer (`kiosk start --role trainer`, workers/training/main.ts): the gpu worker's training part on its
 *   own: `models/` readWrite and `training/` readWrite, for the same reasons.
 * - autoscaler: nothing on the bucket (it reads queue depth from Redis and scales Deployments).
 *
 * No role may list the whole bucket. The inference worker and the trainer never see uploads or results (the
 * API copies a training set out of the uploads into `training/`), and the API never writes a result or a
 * model.
 */
export const ROLE_BUCKET_GRANTS: Readonly<Record<KioskRole, readonly PrefixGrant[]>> = {
  api: [
    { prefix: 'uploads/', access: 'readWrite' },
    { prefix: 'results/', access: 'read' },
    { prefix: 'results/', access: 'delete' },
    { prefix: 'scratch/', access: 'delete' },
    { prefix: 'models/', access: 'read' },
    { prefix: 'training/', access: 'write' },
  ],
  'cpu-worker': [
    { prefix: 'uploads/', access: 'read' },
    { prefix: 'scratch/', access: 'readWrite' },
    { prefix: 'results/', access: 'readWrite' },
    { prefix: 'models/', access: 'readWrite' },
  ],
  'gpu-worker': [
    { prefix: 'scratch/', access: 'readWrite' },
    { prefix: 'models/', access: 'readWrite' },
    { prefix: 'training/', access: 'readWrite' },
  ],
  trainer: [
    { prefix: 'models/', access: 'readWrite' },
    { prefix: 'training/', access: 'readWrite' },
  ],
  autoscaler: [],
};

/** The Kubernetes ServiceAccount name a role's pods run as (the cloud identity is bound to exactly this name). */
export function serviceAccountName(role: KioskRole): string {
  return `kiosk-${role}`;
}

/** `api: uploads/ readWrite, results/ read` — a role's grants in one line (for messages). */
export function describeGrants(role: KioskRole): string {
  const grants = ROLE_BUCKET_GRANTS[role];
  return `${role}: ${grants.length ? grants.map((g) => `${g.prefix} ${g.access}`).join(', ') : 'no bucket access'}`;
}

/**
 * Why `role` may not do `op` on `keyOrPrefix`, or undefined when its grants allow it. The one judge of bucket
 * access: the Storage wrapper of the tests (workers/storage/grant-check.ts) and the deploy rehearsal's S3
 * proxy call it for every bucket request a role makes.
 *
 * - `read`, `write`, `delete` of a key: allowed when a grant whose access includes `op` (ACCESS_OPS) has a
 *   prefix the key starts with. `delete` of a prefix (deletePrefix, `results/<lab>/<job>/`) is judged the same
 *   way, on the prefix: every key under it is then under the grant.
 * - `list` of a prefix: allowed when the listed prefix lies inside a grant that includes `list`, i.e. starts
 *   with that grant's prefix. So `list('')` (the whole bucket) is refused to every role, and a role granted
 *   only `results/x/` may not list `results/`. This is S3's rule (`s3:ListBucket` with the condition
 *   `s3:prefix` like `<grant prefix>*`); GCS lets a reader list names bucket-wide, but code that passes the
 *   stricter rule works on both.
 *
 * Keys are literal, as a bucket reads them: a key with an empty, `.` or `..` segment, or a leading `/`, is
 * refused (no real kiosk key looks like that, and a folder bucket would resolve `..`).
 */
export function grantProblem(role: KioskRole, op: BucketOp, keyOrPrefix: string): string | undefined {
  if (!KIOSK_ROLES.includes(role))
    return `unknown role ${JSON.stringify(role)} (one of ${KIOSK_ROLES.join(', ')})`;
  if (!BUCKET_OPS.includes(op))
    return `unknown bucket operation ${JSON.stringify(op)} (one of ${BUCKET_OPS.join(', ')})`;
  const what = `role ${role} may not ${op} ${JSON.stringify(keyOrPrefix)}`;
  const bad = keyShapeProblem(op, keyOrPrefix);
  if (bad) return `${what}: ${bad}`;
  const grants = ROLE_BUCKET_GRANTS[role];
  if (grants.some((g) => ACCESS_OPS[g.access].includes(op) && keyOrPrefix.startsWith(g.prefix)))
    return undefined;
  const under = grants.filter((g) => keyOrPrefix.startsWith(g.prefix));
  const why = under.length
    ? `its grant ${under.map((g) => `${g.prefix} ${g.access}`).join(', ')} does not include ${op}`
    : op === 'list' && grants.some((g) => g.prefix.startsWith(keyOrPrefix))
      ? `a listing must lie inside one granted prefix`
      : `no grant covers it`;
  return `${what}: ${why} (grants of ${describeGrants(role)})`;
}

/**
 * Why `role` may not replace the existing object `key` (a write of a key that exists), or undefined when it
 * may: it needs write and, since GCS replaces an object only with `storage.objects.delete`, delete too. The
 * grant-checked Storage of the tests asks this when a put finds its key already there.
 */
export function replaceProblem(role: KioskRole, key: string): string | undefined {
  const write = grantProblem(role, 'write', key);
  if (write) return write;
  const del = grantProblem(role, 'delete', key);
  if (!del) return undefined;
  return `role ${role} may not replace the existing object ${JSON.stringify(key)}: GCS replaces an object only with delete (storage.objects.delete), which a write grant lacks (grants of ${describeGrants(role)})`;
}

function keyShapeProblem(op: BucketOp, key: string): string | undefined {
  if (key === '') return op === 'list' ? undefined : 'an empty key';
  if (key.startsWith('/')) return 'a key may not start with /';
  // a listed or deleted prefix ends with '/'; no other segment may be empty
  const segs =
    (op === 'list' || op === 'delete') && key.endsWith('/') ? key.slice(0, -1).split('/') : key.split('/');
  const seg = segs.find((s) => s === '' || s === '.' || s === '..');
  return seg === undefined ? undefined : `a key may not have a '${seg}' segment`;
}

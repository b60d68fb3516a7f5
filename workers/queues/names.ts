/**
 * Queue names and pools. Each pool scales on the depth of its own queues (issue 8's autoscaler reads them):
 * - `cpu`: `preprocess` (decode → channels → rescale → normalize → tiles) and `postprocess`
 *   (untile → deep watershed → label TIFF → bucket; also the `pack` jobs of zip/multi-file parents), and
 *   `models` (`import-model`: a bioimage.io package staged by POST /v1/models/import is checked, test-run
 *   and published under `models/`; on the CPU pool because an import needs no GPU — the GPU pool scales to
 *   zero — and must not wait behind a training on `train`);
 * - `gpu`: `predict` (batched model inference) and `train` (workers/training/queue.ts: the gpu worker trains
 *   too).
 */
export const QUEUE = {
  preprocess: 'preprocess',
  predict: 'predict',
  postprocess: 'postprocess',
  models: 'models',
} as const;

export type QueueName = (typeof QUEUE)[keyof typeof QUEUE];

export type Pool = 'cpu' | 'gpu';

/** Queues each pool's workers take (`workers/main.ts --pool gpu` also runs the training worker). */
export const POOL_QUEUES: Readonly<Record<Pool, readonly string[]>> = {
  cpu: [QUEUE.preprocess, QUEUE.postprocess, QUEUE.models],
  gpu: [QUEUE.predict, 'train'],
};

/** Job names inside the queues (a BullMQ worker dispatches on `job.name`). */
export const JOB = {
  preprocess: 'preprocess',
  predict: 'predict',
  postprocess: 'postprocess',
  pack: 'pack',
  importModel: 'import-model',
} as const;

/** The BullMQ prefix of the local kiosk and the cluster; tests use `test-<uuid>` so runs never collide. */
export const DEFAULT_PREFIX = 'kiosk';

/** BullMQ job ids of one user job's stages (BullMQ forbids ':' in custom ids). */
export function stageJobId(jobId: string, stage: 'pre' | 'predict' | 'post' | 'pack', pass = 1): string {
  return pass > 1 ? `${jobId}-${stage}-p${pass}` : `${jobId}-${stage}`;
}

/** Bucket keys of one image job. Intermediate arrays live under scratch/ and are deleted when it finishes. */
export const keys = {
  upload: (lab: string, id: string, file: string) => `uploads/${lab}/${id}/${file}`,
  /** Preprocess → predict: the tiles and their untiling metadata (a tensor pack). */
  tiles: (jobId: string, pass = 1) => `scratch/${jobId}/p${pass}.tiles.ktp`,
  /** Predict → postprocess: the model outputs and the same metadata. */
  outputs: (jobId: string, pass = 1) => `scratch/${jobId}/p${pass}.outputs.ktp`,
  scratch: (jobId: string) => `scratch/${jobId}/`,
  result: (lab: string, jobId: string, file: string) => `results/${lab}/${jobId}/${file}`,
  results: (lab: string, jobId: string) => `results/${lab}/${jobId}/`,
};

/**
 * The upload folder (`uploads/<lab>/<id>/`) an input key lies in — an upload or an entry unpacked from an
 * uploaded zip (`uploads/<lab>/<id>/<zip>.d/<entry>`) — or undefined for any other key.
 */
export function uploadFolder(key: string): string | undefined {
  const parts = key.split('/');
  if (parts[0] !== 'uploads' || parts.length < 4) return undefined;
  return `${parts.slice(0, 3).join('/')}/`;
}

/** The uploaded zip an unpacked entry came from (`uploads/<lab>/<id>/<zip>.d/...` → the zip), else undefined. */
export function zipOfEntry(key: string): string | undefined {
  const parts = key.split('/');
  if (parts[0] !== 'uploads' || parts.length < 5 || !parts[3]!.endsWith('.d')) return undefined;
  return `${parts.slice(0, 3).join('/')}/${parts[3]!.slice(0, -2)}`;
}

/**
 * The stem of a file's path for result names: the last extension dropped, folder separators and anything
 * outside `[A-Za-z0-9._-]` replaced by `_` (`dir/cells 1.ome.tif` → `dir_cells_1.ome`; `a.png` → `a`).
 */
export function fileStem(name: string): string {
  const dot = name.lastIndexOf('.');
  const cut = dot > 0 && !/[\\/]/.test(name.slice(dot)) ? name.slice(0, dot) : name;
  return (
    cut
      .replace(/[\\/]+/g, '_')
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .replace(/^[._]+/, '') || 'image'
  );
}

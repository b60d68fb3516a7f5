import type { FastifyRequest } from 'fastify';
import { MAX_SCALE, MIN_SCALE } from '../workers/pipeline/options.js';
import type { CardLike } from '../workers/processors/stages.js';
import { jobTypeRegistry } from '../workers/jobtypes/registry.js';
import { outputKeysOf } from '../workers/jobtypes/outputs.js';
import type { JobTypeDefinition } from '../workers/jobtypes/types.js';
import { ImageError } from '../workers/image/types.js';
import { cellModelInfo, parseModelRef } from '../workers/pipeline/cell-model.js';
import { BadInputError } from '../workers/queues/errors.js';
import { keys } from '../workers/queues/names.js';
import type { SegmentationOptions } from '../workers/queues/payloads.js';
import type { JobRecord } from '../workers/queues/records.js';
import type { SubmittedJob } from '../workers/queues/submit.js';
import { signedLink } from './auth.js';
import { ApiError } from './errors.js';
import { expandInputs } from './inputs.js';
import type { JobView } from './schemas.js';
import type { KioskServices } from '../core/services.js';

export interface NewJob {
  /** The caller's lab (request.lab): the job, its inputs and its model must be this lab's. */
  readonly lab: string;
  /** A job type's name (workers/jobtypes); with `aliases`, also one of its aliases (DeepCell's `mesmer`). */
  readonly type: string;
  readonly aliases?: boolean;
  readonly model?: string;
  readonly modelVersion?: string;
  readonly inputs: readonly { key: string; name: string }[];
  readonly name?: string;
  readonly options: SegmentationOptions;
}

/**
 * Checks and submits a job (API v1 and the DeepCell routes both come here): known job type, model and
 * version; inputs that exist and are images or zips. One image → an image job; a zip or several files →
 * a batch. Resolves to the job id and its record as created. Throws ApiError (4xx) for each bad part,
 * before anything is queued.
 * `known`: bytes of inputs uploaded by this same request (expandInputs).
 */
export async function createJob(
  s: KioskServices,
  job: NewJob,
  known?: ReadonlyMap<string, Uint8Array>,
): Promise<SubmittedJob> {
  const registry = await jobTypeRegistry();
  const type = registry.find(job.type, { aliases: job.aliases ?? false });
  if (!type)
    throw new ApiError(
      'unknown-job-type',
      `unknown job type ${JSON.stringify(job.type)}; available: ${registry.names().join(', ')}`,
    );
  checkChannels(type, job.options);
  if (job.options.volume && !type.input.axes.includes('ZYX'))
    throw new ApiError(
      'bad-request',
      `'volume' (a ZYX stack in 3-D) is for job types that take ZYX (${registry
        .list()
        .filter((t) => t.input.axes.includes('ZYX'))
        .map((t) => t.name)
        .join(', ')}); ${type.name} takes ${type.input.axes.join(', ')}`,
    );
  let model;
  try {
    model = await s.registry.resolve(
      job.model || type.defaultModel || s.config.defaultModel,
      job.modelVersion,
      job.lab,
    );
  } catch (err) {
    if (err instanceof BadInputError)
      throw new ApiError(err.code as 'unknown-model' | 'unknown-model-version', err.message);
    throw err;
  }
  checkScaleOptions(job.options, model.name, model.version, model.card);
  const options = await pinCellModel(s, type, job.options, job.lab);
  const { images, batch } = await expandInputs(s, job.inputs, job.lab, known);
  const submit = {
    lab: job.lab,
    type: type.name,
    model: { name: model.name, version: model.version },
    options,
  };
  if (!batch) return s.submitter.submitImageJob(images[0]!, submit);
  const name = job.name ?? (job.inputs.length === 1 ? job.inputs[0]!.name : `${images.length} images`);
  return s.submitter.submitBatchJob(name, images, submit);
}

/**
 * Refuses (400, naming the type's channels) `options.channels` that do not give one file channel per
 * channel of a job type with a fixed channel list (whole-cell: nuclear, membrane).
 */
function checkChannels(type: JobTypeDefinition, o: SegmentationOptions): void {
  const want = type.input.channels;
  if (type.input.channelsFromModel || o.channels === undefined || o.channels.length === want.length) return;
  throw new ApiError(
    'bad-request',
    `job type ${type.name} takes ${want.length} channel(s), in this order: ${want.map((c) => c.name).join(', ')}; ` +
      `'channels' must give the file's channel index for each (e.g. [${want.map((_, i) => i).join(', ')}]); got [${o.channels.join(', ')}]`,
  );
}

/**
 * Checks `options.cellModel` (whole-cell's second-stage model) as the job's own model is checked: only on
 * job type whole-cell, a model `lab` can see, and a bioimage.io import whose outputs are a cell foreground
 * (+ boundaries) taking 1 or 2 channels; each refusal a 400 naming it. Returns the options with the model
 * pinned to `name@version`, so every stage and a retry run the version checked here.
 */
async function pinCellModel(
  s: KioskServices,
  type: JobTypeDefinition,
  o: SegmentationOptions,
  lab: string,
): Promise<SegmentationOptions> {
  if (o.cellModel === undefined) return o;
  if (type.name !== 'whole-cell')
    throw new ApiError(
      'bad-request',
      `'cellModel' (a model for the cells' foreground) is an option of job type whole-cell; ${type.name} has no second stage`,
    );
  try {
    const ref = parseModelRef(o.cellModel);
    const m = await s.registry.resolve(ref.name, ref.version, lab);
    cellModelInfo(m.card, `${m.name}@${m.version}`);
    return { ...o, cellModel: `${m.name}@${m.version}` };
  } catch (err) {
    if (err instanceof ImageError) throw new ApiError('bad-request', err.message);
    if (err instanceof BadInputError)
      throw new ApiError(
        err.code as 'unknown-model' | 'unknown-model-version',
        `'cellModel': ${err.message}`,
      );
    throw err;
  }
}

const round = (x: number) => Number(x.toPrecision(4));

/**
 * Refuses (400, naming the allowed range) a `scale` or `micronsPerPixel` the pipeline would refuse later in
 * a worker: the rescale factor — `scale`, or the images' µm/px over the model's (its card's `input.mpp`) —
 * must be in [1/8, 8], the same test as the pipeline's scaleFromOptions.
 */
function checkScaleOptions(o: SegmentationOptions, name: string, version: string, card: CardLike): void {
  if (o.scale !== undefined && !(o.scale >= MIN_SCALE && o.scale <= MAX_SCALE))
    throw new ApiError(
      'bad-request',
      `'scale' must be in [${MIN_SCALE}, ${MAX_SCALE}] (image px → model px); got ${o.scale}`,
    );
  const mpp = o.micronsPerPixel;
  if (mpp === undefined || o.scale !== undefined) return;
  const modelMpp = (card.input as { mpp?: unknown } | undefined)?.mpp;
  if (typeof modelMpp !== 'number' || !(modelMpp > 0)) return;
  const factor = mpp / modelMpp;
  if (!(factor >= MIN_SCALE && factor <= MAX_SCALE))
    throw new ApiError(
      'bad-request',
      `'micronsPerPixel' must be in [${round(modelMpp * MIN_SCALE)}, ${round(modelMpp * MAX_SCALE)}] µm/px for ` +
        `model ${name} version ${version} (made at ${modelMpp} µm/px; images are rescaled by at most 8x either ` +
        `way); got ${mpp}`,
    );
}

/** The base URL clients should use for links: KIOSK_PUBLIC_URL, else this request's scheme and host. */
export function baseUrl(s: KioskServices, req: FastifyRequest): string {
  return s.config.publicUrl ?? `${req.protocol}://${req.host}`;
}

/**
 * A URL the client can GET for a result file without headers: a signed bucket URL in the cloud, else the
 * API's file route (signed for the job's lab when tokens are required).
 */
export async function fileUrl(s: KioskServices, rec: JobRecord, key: string, base: string): Promise<string> {
  const signed = await s.storage.signedUrl(key, s.config.signedUrlTtlS);
  if (signed) return signed;
  const file = key.split('/').pop()!;
  return signedLink(s, base, `/v1/jobs/${rec.id}/files/${encodeURIComponent(file)}`, rec.lab);
}

/** The API path of upload `key` (GET /v1/uploads/*), each segment URL-encoded. */
export const uploadPath = (key: string) => `/v1/${key.split('/').map(encodeURIComponent).join('/')}`;

/**
 * A URL the client can GET for a job's uploaded input without headers: a signed bucket URL in the cloud,
 * else the API's upload route (signed for the job's lab when tokens are required).
 */
export async function inputUrl(s: KioskServices, rec: JobRecord, base: string): Promise<string | undefined> {
  const key = rec.input_key;
  if (!key?.startsWith('uploads/')) return undefined;
  const signed = await s.storage.signedUrl(key, s.config.signedUrlTtlS);
  if (signed) return signed;
  return signedLink(s, base, uploadPath(key), rec.lab);
}

/**
 * Deletes a finished job: its bucket objects (results, leftover scratch, and its upload folders unless
 * another live job uses them), its BullMQ jobs, its record and its children's. A job that has not finished
 * is refused (409 not-finished): cancel it first, so no stage writes after the delete.
 */
export async function deleteJob(s: KioskServices, rec: JobRecord): Promise<void> {
  if (rec.status !== 'done' && rec.status !== 'failed')
    throw new ApiError(
      'not-finished',
      `job ${rec.id} is ${rec.status}; cancel it first (POST /v1/jobs/${rec.id}/cancel), then delete it`,
    );
  const ids = [rec.id, ...(rec.children ?? [])];
  await s.submitter.removeStages(rec);
  for (const id of ids) {
    await s.storage.deletePrefix(keys.results(rec.lab, id));
    await s.storage.deletePrefix(keys.scratch(id));
  }
  // The record goes last but one: if this stops half-way, DELETE can be sent again.
  const unused = await s.records.delete(rec);
  for (const folder of unused) await s.storage.deletePrefix(folder);
  await s.records.forgetUploads(unused);
}

/**
 * The public view of a record (the response schema is also the allowlist). `withChildren`: a batch lists its children's states, read from Redis (true),
 * taken from these records (a batch just created: no read needed), or not at all (false).
 */
export async function jobView(
  s: KioskServices,
  rec: JobRecord,
  base: string,
  withChildren: boolean | readonly JobRecord[] = true,
): Promise<JobView> {
  const view: JobView = {
    id: rec.id,
    type: rec.type,
    kind: rec.kind,
    name: rec.name,
    status: rec.status,
    progress: rec.progress,
    model: rec.model,
    modelVersion: rec.model_version,
    options: { ...rec.options },
    createdAt: rec.created_at,
    ...(rec.reason ? { reason: rec.reason } : {}),
    ...(rec.failures?.length ? { failures: [...rec.failures] } : {}),
    ...(rec.object_count !== undefined ? { objectCount: rec.object_count } : {}),
    ...(rec.started_at ? { startedAt: rec.started_at } : {}),
    ...(rec.finished_at ? { finishedAt: rec.finished_at } : {}),
    ...(rec.total_time !== undefined ? { totalTime: rec.total_time } : {}),
    ...(rec.parent ? { parent: rec.parent } : {}),
  };
  if (
    rec.preprocess_time !== undefined ||
    rec.prediction_time !== undefined ||
    rec.postprocess_time !== undefined
  ) {
    view.timings = {
      ...(rec.preprocess_time !== undefined ? { preprocess: rec.preprocess_time } : {}),
      ...(rec.prediction_time !== undefined ? { predict: rec.prediction_time } : {}),
      ...(rec.postprocess_time !== undefined ? { postprocess: rec.postprocess_time } : {}),
    };
  }
  if (rec.status === 'done' && rec.output_key) view.resultUrl = await fileUrl(s, rec, rec.output_key, base);
  if (rec.status === 'done' && rec.labels_key) view.labelsUrl = await fileUrl(s, rec, rec.labels_key, base);
  const outputs = rec.status === 'done' && rec.labels_key ? await outputKeys(rec) : [];
  if (outputs.length > 1)
    view.outputs = await Promise.all(
      outputs.map(async (o) => ({ name: o.name, url: await fileUrl(s, rec, o.key, base) })),
    );
  const input = await inputUrl(s, rec, base);
  if (input) view.inputUrl = input;
  if (rec.input_key?.startsWith('uploads/')) view.inputs = [rec.input_key];
  if (withChildren !== false && rec.children?.length) {
    const kids = (
      Array.isArray(withChildren)
        ? withChildren
        : await Promise.all(rec.children.map((id) => s.records.get(id)))
    ).filter((k): k is JobRecord => k !== undefined);
    // a batch of several files: each file's upload (a zip's entries are not inputs: the zip is)
    if (
      !view.inputs &&
      kids.length === rec.children.length &&
      kids.every((k) => k.input_key?.startsWith('uploads/'))
    )
      view.inputs = kids.map((k) => k.input_key!);
    view.children = kids.map((k) => ({
      id: k.id,
      name: k.name,
      status: k.status,
      progress: k.progress,
      ...(k.reason ? { reason: k.reason } : {}),
      ...(k.object_count !== undefined ? { objectCount: k.object_count } : {}),
    }));
  }
  return view;
}

/**
 * The result keys of an image job's outputs (its type's, workers/jobtypes): the labels, then
 * `NAME.<output>.labels.tif` for each further output. Empty for a type no longer served.
 */
export async function outputKeys(rec: JobRecord): Promise<{ name: string; key: string }[]> {
  const def = (await jobTypeRegistry()).find(rec.type);
  return def && rec.kind === 'image' ? outputKeysOf(rec, def) : [];
}

/** The record of `id` in `lab` (request.lab), or ApiError 'job-not-found'. Jobs of other labs are not found. */
export async function getRecord(s: KioskServices, id: string, lab: string): Promise<JobRecord> {
  const rec = await s.records.get(id);
  if (!rec || rec.lab !== lab) throw new ApiError('job-not-found', `no job ${id} (it may have expired)`);
  return rec;
}

/**
 * Creating a training job: gather the uploaded data (upload keys, or multipart parts streamed into the
 * bucket as uploads), check it file by file from the bucket (api/routes/training-data.ts,
 * workers/training/data-format.ts; every problem by file name → 400 bad-training-data), resolve the base
 * model, copy the checked pairs to `training/<id>/data/`, write the record and queue the job.
 * No upload, zip or set is held in memory whole (issue 18).
 */
import type {} from '@fastify/multipart';
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { Value } from '@sinclair/typebox/value';
import { BadInputError } from '../../workers/queues/errors.js';
import type { TrainingProblem } from '../../workers/training/data-format.js';
import type { TrainingParams as StoredParams, TrainingRecord } from '../../workers/training/records.js';
import type { TrainingServices } from '../../workers/training/services.js';
import { ApiError } from '../errors.js';
import { deleteUploads, isUploadOf, saveMultipartFiles } from '../inputs.js';
import type { KioskServices } from '../../core/services.js';
import {
  checkStoredTrainingSet,
  copyTrainingPairs,
  deleteFolders,
  expandTrainingUploads,
  type TrainingUpload,
} from './training-data.js';
import { TrainingParams } from './training-schemas.js';

/** Bad training data: the 400 body lists every problem. */
export class BadTrainingDataError extends Error {
  override readonly name = 'BadTrainingDataError';
  constructor(readonly problems: readonly TrainingProblem[]) {
    super(
      `${problems.length} problem${problems.length === 1 ? '' : 's'} in the training data: ` +
        problems.map((p) => p.message).join('; '),
    );
  }
}

/** Checks upload keys (they must be uploads of `lab`, the caller's); whether each exists is found on reading it. */
export function uploadsByKey(keys: readonly string[], lab: string): TrainingUpload[] {
  return keys.map((key) => {
    if (!isUploadOf(key, lab)) {
      throw new ApiError(
        'upload-not-found',
        `${JSON.stringify(key)} is not an upload of this lab (uploads/${lab}/...)`,
      );
    }
    return { key, name: key.split('/').pop() ?? key };
  });
}

/** A relative path from a client's file name: `\` → `/`, empty, `.` and `..` segments and a drive dropped. */
function cleanPath(name: string): string {
  return (
    name
      .replace(/\\/g, '/')
      .replace(/^[A-Za-z]:/, '')
      .split('/')
      .filter((seg) => seg !== '' && seg !== '.' && seg !== '..')
      .join('/') || 'upload'
  );
}

/**
 * Reads a multipart request: every file part is streamed into the bucket as an upload of the caller's lab
 * (saveMultipartFiles: KIOSK_MAX_UPLOAD_MB a file, KIOSK_MAX_REQUEST_MB in all, else 413 with nothing
 * kept), named by its file name, which may carry a folder path as a folder upload sends; the fields are
 * coerced and checked against TrainingParams. The caller deletes `uploads` once the training's data is
 * stored (or refused); a request refused here keeps none of them.
 */
export async function readMultipartTraining(
  req: FastifyRequest,
  s: KioskServices,
): Promise<{ uploads: TrainingUpload[]; params: TrainingParams }> {
  if (!req.isMultipart())
    throw new ApiError('not-multipart', 'send the training data as multipart/form-data');
  const { files, fields } = await saveMultipartFiles(req, s);
  const uploads = files.map((f) => ({ key: f.key, name: cleanPath(f.name) }));
  const converted = Value.Convert(TrainingParams, fields);
  if (!Value.Check(TrainingParams, converted)) {
    await deleteUploads(
      s,
      uploads.map((u) => u.key),
    );
    const errs = [...Value.Errors(TrainingParams, converted)].map((e) => `${e.path || '/'} ${e.message}`);
    throw new ApiError('bad-request', `bad training parameters: ${errs.join('; ')}`);
  }
  return { uploads, params: converted };
}

/** Checks data and parameters and queues the job for `lab` (the caller's); resolves to the new record. */
export async function createTraining(
  s: KioskServices,
  t: TrainingServices,
  uploads: readonly TrainingUpload[],
  params: TrainingParams,
  lab: string,
): Promise<TrainingRecord> {
  if (uploads.length === 0)
    throw new BadTrainingDataError([
      { file: '', code: 'empty', message: 'the request holds no training files' },
    ]);
  const expanded = await expandTrainingUploads(s, uploads, lab);
  try {
    const setName = uploads.length === 1 ? uploads[0]!.name : '';
    const report = await checkStoredTrainingSet(s, expanded.files, lab, setName);
    // An empty or unreadable zip is the whole story; don't also report "no files".
    const problems =
      expanded.problems.length && expanded.files.length === 0
        ? expanded.problems
        : [...expanded.problems, ...report.problems];
    if (problems.length) throw new BadTrainingDataError(problems);

    const stored = await resolveParams(s, params, lab);
    const id = randomUUID();
    const dataPrefix = `training/${id}/data/`;
    await copyTrainingPairs(s.storage, dataPrefix, report.pairs);
    const now = new Date().toISOString();
    const rec: TrainingRecord = {
      id,
      lab,
      status: 'waiting',
      progress: 0,
      params: stored,
      data: report.summary,
      dataPrefix,
      epoch: 0,
      step: 0,
      history: [],
      attempts: 0,
      createdAt: now,
      updatedAt: now,
    };
    await t.records.create(rec);
    await t.queue.submit(id);
    return rec;
  } finally {
    // the zips' unpacked entries: the checked pairs are now under training/<id>/data/
    await deleteFolders(s.storage, expanded.unpacked);
  }
}

/** The parameters as stored with the training: defaults filled in, the base model resolved for `lab`. */
async function resolveParams(s: KioskServices, params: TrainingParams, lab: string): Promise<StoredParams> {
  if (params.fromScratch && params.baseModel) {
    throw new ApiError(
      'bad-request',
      `give either baseModel (${params.baseModel}) or fromScratch: true, not both`,
    );
  }
  const baseName = params.fromScratch ? undefined : (params.baseModel ?? s.config.defaultModel);
  let baseVersion: string | undefined;
  let sizeMultiple = 16;
  if (baseName) {
    try {
      const m = await s.registry.resolve(baseName, params.baseVersion, lab);
      if (m.source === 'custom')
        throw new ApiError(
          'unknown-model',
          `model ${baseName} is registered in code and cannot be fine-tuned`,
        );
      baseVersion = m.version;
      const input = m.card.input as { sizeMultiple?: number } | undefined;
      sizeMultiple = input?.sizeMultiple ?? sizeMultiple;
    } catch (err) {
      if (err instanceof BadInputError)
        throw new ApiError(err.code as 'unknown-model' | 'unknown-model-version', err.message);
      throw err;
    }
  }
  const cropSize = params.cropSize ?? 128;
  if (cropSize % sizeMultiple !== 0) {
    throw new ApiError(
      'bad-request',
      `cropSize (${cropSize}) must be a multiple of ${sizeMultiple} for ${baseName ?? 'a new network'}`,
    );
  }
  return {
    modelName: params.modelName ?? baseName ?? 'custom',
    ...(baseName ? { baseModel: baseName, baseVersion: baseVersion! } : {}),
    epochs: params.epochs ?? 10,
    stepsPerEpoch: params.stepsPerEpoch ?? 50,
    batchSize: params.batchSize ?? 8,
    cropSize,
    learningRate: params.learningRate ?? (baseName ? 1e-4 : 1e-3),
    ...(params.micronsPerPixel !== undefined ? { micronsPerPixel: params.micronsPerPixel } : {}),
    seed: params.seed ?? 1,
  };
}

/**
 * Creating a training job: gather the uploaded data (upload keys or multipart parts), check it
 * (workers/training/data-format.ts; every problem by file name → 400 bad-training-data), resolve the base
 * model, store the checked pairs in the bucket, write the record and queue the job.
 */
import type {} from '@fastify/multipart';
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { Value } from '@sinclair/typebox/value';
import { BadInputError } from '../../workers/queues/errors.js';
import { StorageError } from '../../workers/storage/storage.js';
import { validateTrainingFiles, type TrainingProblem } from '../../workers/training/data-format.js';
import { filesFromUploads, storeTrainingPairs } from '../../workers/training/data-store.js';
import type { TrainingParams as StoredParams, TrainingRecord } from '../../workers/training/records.js';
import type { TrainingServices } from '../../workers/training/services.js';
import { ApiError } from '../errors.js';
import { isUploadOf } from '../inputs.js';
import type { KioskServices } from '../services.js';
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

export interface Upload {
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** Reads uploads by key (they must be uploads of `lab`, the caller's). */
export async function uploadsByKey(
  s: KioskServices,
  keys: readonly string[],
  lab: string,
): Promise<Upload[]> {
  const out: Upload[] = [];
  for (const key of keys) {
    if (!isUploadOf(key, lab)) {
      throw new ApiError(
        'upload-not-found',
        `${JSON.stringify(key)} is not an upload of this lab (uploads/${lab}/...)`,
      );
    }
    try {
      out.push({ name: key.split('/').pop() ?? key, bytes: await s.storage.get(key) });
    } catch (err) {
      if (err instanceof StorageError)
        throw new ApiError('upload-not-found', `no uploaded file ${JSON.stringify(key)}`);
      throw err;
    }
  }
  return out;
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
 * Reads a multipart request: every file part (its file name may carry a folder path, as a folder upload
 * sends) and the fields, coerced and checked against TrainingParams. Total bytes are capped.
 */
export async function readMultipartTraining(
  req: FastifyRequest,
  maxTotalBytes: number,
): Promise<{ uploads: Upload[]; params: TrainingParams }> {
  if (!req.isMultipart())
    throw new ApiError('not-multipart', 'send the training data as multipart/form-data');
  const uploads: Upload[] = [];
  const fields: Record<string, unknown> = {};
  let total = 0;
  for await (const part of req.parts()) {
    if (part.type === 'field') {
      fields[part.fieldname] = String(part.value);
      continue;
    }
    const bytes = new Uint8Array(await part.toBuffer());
    total += bytes.length;
    if (total > maxTotalBytes) {
      throw new ApiError(
        'upload-too-large',
        `the training data is larger than ${Math.round(maxTotalBytes / 2 ** 20)} MiB in all`,
      );
    }
    uploads.push({ name: cleanPath(part.filename), bytes });
  }
  const converted = Value.Convert(TrainingParams, fields);
  if (!Value.Check(TrainingParams, converted)) {
    const errs = [...Value.Errors(TrainingParams, converted)].map((e) => `${e.path || '/'} ${e.message}`);
    throw new ApiError('bad-request', `bad training parameters: ${errs.join('; ')}`);
  }
  return { uploads, params: converted };
}

/** Checks data and parameters and queues the job for `lab` (the caller's); resolves to the new record. */
export async function createTraining(
  s: KioskServices,
  t: TrainingServices,
  uploads: readonly Upload[],
  params: TrainingParams,
  lab: string,
): Promise<TrainingRecord> {
  if (uploads.length === 0)
    throw new BadTrainingDataError([
      { file: '', code: 'empty', message: 'the request holds no training files' },
    ]);
  const limits = {
    maxEntries: s.config.maxZipEntries,
    maxEntryBytes: s.config.maxZipEntryBytes,
    maxTotalBytes: s.config.maxZipBytes,
    maxRatio: s.config.maxZipRatio,
  };
  const expanded = filesFromUploads(uploads, limits);
  const setName = uploads.length === 1 ? uploads[0]!.name : '';
  const report = validateTrainingFiles(expanded.files, { setName, maxPixels: s.config.maxPixels });
  // An empty or unreadable zip is the whole story; don't also report "no files".
  const problems =
    expanded.problems.length && expanded.files.length === 0
      ? expanded.problems
      : [...expanded.problems, ...report.problems];
  if (problems.length) throw new BadTrainingDataError(problems);

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
  const stored: StoredParams = {
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
  const id = randomUUID();
  const dataPrefix = `training/${id}/data/`;
  await storeTrainingPairs(s.storage, dataPrefix, report.pairs);
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
}

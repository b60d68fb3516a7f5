import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { deepCellEntryName } from '../../workers/image/label-names.js';
import { singleImageZip, zipsOnDownload } from '../../workers/processors/archive.js';
import { STATUSES, type JobRecord, type JobStatus } from '../../workers/queues/records.js';
import { localFolderUnder } from '../../workers/storage/grant-check.js';
import { StorageError } from '../../workers/storage/storage.js';
import { ExpiredObjectSweeper } from '../../workers/storage/sweep.js';
import { ApiError, errorResponses } from '../errors.js';
import { baseUrl, createJob, deleteJob, getRecord, jobView, outputKeys, type NewJob } from '../jobs.js';
import { deleteUploads, isUploadOf, saveMultipartFiles } from '../inputs.js';
import { CreateJobBody, IdParams, JobView } from '../schemas.js';
import type { KioskServices } from '../../core/services.js';

const Upload = Type.Object({ key: Type.String(), name: Type.String(), size: Type.Integer() });

/** API v1: uploads, jobs (create, get, list, cancel) and result files. */
export const v1JobRoutes: FastifyPluginAsyncTypebox<{ services: KioskServices }> = async (
  app,
  { services: s },
) => {
  // Expiry of a local folder bucket: the objects of jobs whose records expired (cloud: lifecycle rules).
  const folder = localFolderUnder(s.storage);
  if (folder && s.config.sweepIntervalS > 0) {
    const sweeper = new ExpiredObjectSweeper({
      storage: folder,
      via: s.storage,
      records: s.records,
      unusedUploadTtlS: s.config.finishedTtlS,
      log: (msg) => app.log.warn(msg),
    });
    const stop = sweeper.start(s.config.sweepIntervalS * 1000);
    app.addHook('onClose', async () => stop());
  }

  app.post(
    '/uploads',
    {
      schema: {
        summary: 'Upload files (multipart/form-data, any field name, streamed to the bucket)',
        description:
          'Returns one upload key per file; pass them as `inputs` to POST /v1/jobs. A zip may hold many images.',
        tags: ['jobs'],
        consumes: ['multipart/form-data'],
        response: { 201: Type.Object({ uploads: Type.Array(Upload) }), ...errorResponses },
      },
    },
    async (req, reply) => {
      const { files } = await saveMultipartFiles(req, s);
      if (files.length === 0) throw new ApiError('bad-request', 'the upload holds no files');
      return reply.status(201).send({ uploads: files });
    },
  );

  app.post(
    '/jobs',
    {
      schema: {
        summary: 'Create a job over uploaded files',
        description:
          'One image → an image job; a zip or several files → a batch job whose children are image jobs.',
        tags: ['jobs'],
        body: CreateJobBody,
        response: { 201: JobView, ...errorResponses },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const inputs = b.inputs.map((key) => ({ key, name: key.split('/').pop() ?? key }));
      const job = await createJob(s, newJob(b, req.lab, inputs));
      return reply.status(201).send(await jobView(s, job.record, baseUrl(s, req), job.children));
    },
  );

  app.post(
    '/jobs/upload',
    {
      schema: {
        summary: 'Upload files and create one job over them, in one request (multipart/form-data)',
        description:
          "The files (any field name) are the job's inputs, as POST /v1/uploads then POST /v1/jobs would make " +
          'them; the other fields are those of POST /v1/jobs: `type`, `model`, `modelVersion`, `name`, and ' +
          '`options` as JSON text (e.g. {"micronsPerPixel":0.65}). When the job is refused (4xx), its files ' +
          'are not kept.',
        tags: ['jobs'],
        consumes: ['multipart/form-data'],
        response: { 201: JobView, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { files, fields, bytes } = await saveMultipartFiles(req, s, { keepBytes: true });
      let job;
      try {
        if (files.length === 0) throw new ApiError('bad-request', 'the request holds no files');
        const b = jobFields(
          fields,
          files.map((f) => f.key),
        );
        job = await createJob(s, newJob(b, req.lab, files), bytes);
      } catch (err) {
        await deleteUploads(
          s,
          files.map((f) => f.key),
        );
        throw err;
      }
      return reply.status(201).send(await jobView(s, job.record, baseUrl(s, req), job.children));
    },
  );

  app.get(
    '/jobs',
    {
      schema: {
        summary: 'List jobs, newest first (batch children are listed inside their batch)',
        tags: ['jobs'],
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
          offset: Type.Integer({ minimum: 0, default: 0 }),
          status: Type.Optional(Type.Union(STATUSES.map((x) => Type.Literal(x)))),
        }),
        response: { 200: Type.Object({ jobs: Type.Array(JobView) }), ...errorResponses },
      },
    },
    async (req) => {
      const { limit, offset, status } = req.query;
      const recs = await s.records.list({
        limit,
        offset,
        lab: req.lab,
        ...(status ? { status: status as JobStatus } : {}),
      });
      const base = baseUrl(s, req);
      return { jobs: await Promise.all(recs.map((r) => jobView(s, r, base, false))) };
    },
  );

  app.get(
    '/jobs/:id',
    {
      schema: {
        summary: 'Get a job (a batch lists its children)',
        tags: ['jobs'],
        params: IdParams,
        response: { 200: JobView, ...errorResponses },
      },
    },
    async (req) => jobView(s, await getRecord(s, req.params.id, req.lab), baseUrl(s, req)),
  );

  app.post(
    '/jobs/:id/cancel',
    {
      schema: {
        summary: 'Cancel a job that has not finished (a finished job stays as it is)',
        tags: ['jobs'],
        params: IdParams,
        response: { 200: JobView, ...errorResponses },
      },
    },
    async (req) => {
      await getRecord(s, req.params.id, req.lab);
      await s.submitter.cancel(req.params.id);
      return jobView(s, await getRecord(s, req.params.id, req.lab), baseUrl(s, req));
    },
  );

  app.delete(
    '/jobs/:id',
    {
      schema: {
        summary: 'Delete a finished job: its record, its results, its uploaded input and its queue entries',
        description:
          'Only a done or failed job (a batch: with its children) can be deleted; any other is refused with ' +
          '409 not-finished: cancel it first (POST /v1/jobs/{id}/cancel). The uploaded input is kept while ' +
          'another job uses the same upload. 404 for an unknown id (or a job of another lab).',
        tags: ['jobs'],
        params: IdParams,
        response: { 204: Type.Null({ description: 'deleted' }), ...errorResponses },
      },
    },
    async (req, reply) => {
      await deleteJob(s, await getRecord(s, req.params.id, req.lab));
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/jobs/:id/result',
    {
      schema: {
        summary: 'Download the result: the zip (default) or, for an image job, the label TIFF',
        tags: ['jobs'],
        params: IdParams,
        querystring: Type.Object({
          format: Type.Union([Type.Literal('zip'), Type.Literal('tif')], { default: 'zip' }),
        }),
        response: { 200: Type.Unknown(), 302: Type.Null(), ...errorResponses },
      },
    },
    async (req, reply) => {
      const rec = await getRecord(s, req.params.id, req.lab);
      if (rec.status !== 'done')
        throw new ApiError(
          'not-finished',
          `job ${rec.id} is ${rec.status}${rec.reason ? `: ${rec.reason}` : ''}; it has no result`,
        );
      const key = req.query.format === 'tif' ? rec.labels_key : rec.output_key;
      if (!key)
        throw new ApiError(
          'file-not-found',
          `job ${rec.id} has no ${req.query.format} result (a batch has only the zip)`,
        );
      return sendResult(s, reply, rec, key);
    },
  );

  app.get(
    '/jobs/:id/files/:file',
    {
      schema: {
        summary: 'Download one result file of a job by name (the DeepCell output_url)',
        tags: ['jobs'],
        params: Type.Object({
          id: IdParams.properties.id,
          file: Type.String({ minLength: 1, maxLength: 255, pattern: '^[^/\\\\]+$' }),
        }),
        response: { 200: Type.Unknown(), 302: Type.Null(), ...errorResponses },
      },
    },
    async (req, reply) => {
      const rec = await getRecord(s, req.params.id, req.lab);
      const key = `results/${rec.lab}/${rec.id}/${req.params.file}`;
      if (
        key !== rec.output_key &&
        key !== rec.labels_key &&
        !(await outputKeys(rec)).some((o) => o.key === key)
      )
        throw new ApiError('file-not-found', `job ${rec.id} has no file ${req.params.file}`);
      return sendResult(s, reply, rec, key);
    },
  );

  app.get(
    '/uploads/*',
    {
      schema: {
        summary: 'Download an uploaded file by its key (the DeepCell imageURL)',
        tags: ['jobs'],
        response: { 200: Type.Unknown(), 302: Type.Null(), ...errorResponses },
      },
    },
    async (req, reply) => {
      const key = `uploads/${(req.params as { '*': string })['*']}`;
      if (!isUploadOf(key, req.lab)) throw new ApiError('file-not-found', `no upload ${key}`);
      return sendFile(s, reply, key);
    },
  );
};

/**
 * Sends result `key` of job `rec`: an image job's zip is made here from its label TIFF where the bucket
 * does not store it (zipsOnDownload: the local folder); anything else is a bucket object (sendFile).
 */
async function sendResult(s: KioskServices, reply: FastifyReply, rec: JobRecord, key: string) {
  if (key !== rec.output_key || !rec.labels_key || s.storage.kind !== 'local') return sendFile(s, reply, key);
  // stored by postprocess: a zip of several outputs (a job type like whole-cell), or of large labels
  if ((await s.storage.size(key)) !== undefined) return sendFile(s, reply, key);
  const size = await s.storage.size(rec.labels_key);
  if (size === undefined)
    throw new ApiError('file-not-found', `no file ${fileName(key)} (it may have expired)`);
  if (!zipsOnDownload(s.storage, size)) return sendFile(s, reply, key); // stored by postprocess (gone meanwhile)
  let tif;
  try {
    tif = await s.storage.get(rec.labels_key);
  } catch (err) {
    if (err instanceof StorageError)
      throw new ApiError('file-not-found', `no file ${fileName(key)} (it may have expired)`);
    throw err;
  }
  // The zip holds DeepCell's name for the labels (<stem>_feature_0.tif, <stem>.zip being the zip's), as
  // postprocess stores it where the bucket keeps zips; the TIFF itself is NAME.labels.tif.
  const zip = singleImageZip(deepCellEntryName(fileName(key).replace(/\.zip$/i, '')), tif);
  return reply
    .header('content-type', 'application/zip')
    .header('content-disposition', attachment(fileName(key)))
    .header('content-length', zip.byteLength)
    .send(Buffer.from(zip.buffer, zip.byteOffset, zip.byteLength));
}

const fileName = (key: string) => key.split('/').pop()!;
const attachment = (file: string) => `attachment; filename="${file.replace(/"/g, '')}"`;

/** Streams a bucket object (or redirects to its signed URL in the cloud). */
async function sendFile(s: KioskServices, reply: FastifyReply, key: string) {
  const signed = await s.storage.signedUrl(key, s.config.signedUrlTtlS);
  if (signed) return reply.redirect(signed, 302);
  try {
    const size = await s.storage.size(key);
    const body = await s.storage.getStream(key);
    const file = fileName(key);
    const type = /\.zip$/i.test(file)
      ? 'application/zip'
      : /\.tiff?$/i.test(file)
        ? 'image/tiff'
        : /\.png$/i.test(file)
          ? 'image/png'
          : 'application/octet-stream';
    reply.header('content-type', type).header('content-disposition', attachment(file));
    if (size !== undefined) reply.header('content-length', size);
    return reply.send(body);
  } catch (err) {
    if (err instanceof StorageError)
      throw new ApiError('file-not-found', `no file ${fileName(key)} (it may have expired)`);
    throw err;
  }
}

/** The job a POST /v1/jobs body asks for (both create routes), over `inputs` (bucket key, file name). */
function newJob(b: CreateJobBody, lab: string, inputs: readonly { key: string; name: string }[]): NewJob {
  return {
    lab,
    type: b.type ?? 'segmentation',
    ...(b.model ? { model: b.model } : {}),
    ...(b.modelVersion ? { modelVersion: b.modelVersion } : {}),
    inputs: inputs.map(({ key, name }) => ({ key, name })),
    ...(b.name ? { name: b.name } : {}),
    options: { ...b.options },
  };
}

const JOB_FIELDS = ['type', 'model', 'modelVersion', 'name', 'options'] as const;

/**
 * The POST /v1/jobs body made of a multipart request's fields (all text; `options` is JSON) and the keys of
 * its files, checked against the same schema. Throws ApiError 'bad-request' naming the bad field.
 */
function jobFields(fields: Record<string, string>, inputs: string[]): CreateJobBody {
  const body: Record<string, unknown> = { inputs };
  for (const [k, v] of Object.entries(fields)) {
    if (!(JOB_FIELDS as readonly string[]).includes(k))
      throw new ApiError(
        'bad-request',
        `unknown field ${JSON.stringify(k)}; fields: ${JOB_FIELDS.join(', ')}`,
      );
    if (k !== 'options') {
      body[k] = v;
      continue;
    }
    try {
      body.options = JSON.parse(v) as unknown;
    } catch {
      throw new ApiError('bad-request', `field 'options' must be JSON text, e.g. {"micronsPerPixel":0.65}`);
    }
  }
  if (!Value.Check(CreateJobBody, body)) {
    const errs = [...Value.Errors(CreateJobBody, body)].map((e) => `${e.path || '/'} ${e.message}`);
    throw new ApiError('bad-request', `bad job fields: ${errs.join('; ')}`);
  }
  return body;
}

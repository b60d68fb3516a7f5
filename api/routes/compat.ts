import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { jobTypeRegistry } from '../../workers/jobtypes/registry.js';
import type { SegmentationOptions } from '../../workers/queues/payloads.js';
import { ApiError, ErrorBody } from '../errors.js';
import { signedLink } from '../auth.js';
import { baseUrl, createJob, fileUrl, uploadPath } from '../jobs.js';
import { saveMultipartFiles } from '../inputs.js';
import type { KioskServices } from '../../core/services.js';

const StrOrNum = Type.Union([Type.String({ maxLength: 64 }), Type.Number()]);
const PredictBody = Type.Object(
  {
    jobType: Type.String({ minLength: 1, maxLength: 64 }),
    imageName: Type.String({ minLength: 1, maxLength: 1024 }),
    uploadedName: Type.Optional(Type.String({ maxLength: 1024 })),
    modelName: Type.Optional(Type.String({ maxLength: 64 })),
    modelVersion: Type.Optional(StrOrNum),
    preprocessFunction: Type.Optional(Type.String({ maxLength: 64 })),
    postprocessFunction: Type.Optional(Type.String({ maxLength: 64 })),
    dataRescale: Type.Optional(StrOrNum),
    dataLabel: Type.Optional(StrOrNum),
    imageUrl: Type.Optional(Type.String({ maxLength: 2048 })),
    cuts: Type.Optional(StrOrNum),
    jobForm: Type.Optional(
      Type.Object(
        {
          dimensionOrder: Type.Optional(Type.String({ maxLength: 8 })),
          selectedChannels: Type.Optional(
            Type.Union([
              Type.Array(Type.Integer({ minimum: 0 })),
              Type.String({ maxLength: 64 }),
              Type.Integer({ minimum: 0 }),
            ]),
          ),
          scale: Type.Optional(StrOrNum),
          segmentationType: Type.Optional(Type.String({ maxLength: 64 })),
        },
        { additionalProperties: true },
      ),
    ),
  },
  { additionalProperties: true },
);
const Message = Type.Object({ message: Type.String() }, { additionalProperties: true });
const HashBody = Type.Object(
  { hash: Type.String({ minLength: 1, maxLength: 128 }) },
  { additionalProperties: true },
);
const RedisBody = Type.Object(
  {
    hash: Type.String({ minLength: 1, maxLength: 128 }),
    key: Type.Union([
      Type.String({ maxLength: 64 }),
      Type.Array(Type.String({ maxLength: 64 }), { maxItems: 64 }),
    ]),
  },
  { additionalProperties: true },
);
/** Most seconds /api/redis/expire accepts (2^31 - 1): past about 9.2e15 Redis refuses EXPIRE outright. */
const MAX_EXPIRE_S = 2 ** 31 - 1;
const Value = Type.Union([Type.String(), Type.Null(), Type.Array(Type.Union([Type.String(), Type.Null()]))]);

/** A number from a DeepCell string/number field: '' or absent → undefined; junk → 400 naming the field. */
function optionalNumber(field: string, v: string | number | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0)
    throw new ApiError('bad-request', `'${field}' must be a positive number; got ${JSON.stringify(v)}`);
  return n;
}

function channelsOf(v: readonly number[] | string | number | undefined): number[] | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v === 'number') return [v];
  if (typeof v !== 'string') return [...v];
  const parts = v.split(',').map((x) => x.trim());
  if (!parts.every((p) => /^\d+$/.test(p)))
    throw new ApiError(
      'bad-request',
      `'jobForm.selectedChannels' must be indices like "0" or "0,1"; got ${JSON.stringify(v)}`,
    );
  return parts.map(Number);
}

/**
 * The DeepCell-Kiosk-compatible routes (kiosk-client, the ImageJ plugin, kiosk-frontend), mapped onto the
 * same jobs as API v1. The hash is the job id; `/api/redis` reads the job record's Kiosk fields. With
 * tokens (api/auth.ts) every route but /api/health-check needs one (Bearer or X-Api-Key) and sees only the
 * token's lab: another lab's hash answers as an unknown hash does; `imageURL` and `output_url` are signed
 * links, so clients download them without headers.
 */
export const compatRoutes: FastifyPluginAsyncTypebox<{ services: KioskServices }> = async (
  app,
  { services: s },
) => {
  const tags = ['deepcell-compatible'];

  app.post(
    '/upload',
    {
      schema: {
        summary: 'Upload one file (multipart field `file`)',
        tags,
        consumes: ['multipart/form-data'],
        response: {
          200: Type.Object({ imageURL: Type.String(), uploadedName: Type.String() }),
          400: ErrorBody,
          413: ErrorBody,
          415: ErrorBody,
        },
      },
    },
    async (req) => {
      const { files } = await saveMultipartFiles(req, s);
      const f = files[0];
      if (!f) throw new ApiError('bad-request', 'no file in the upload (multipart field `file`)');
      const imageURL = await signedLink(s, baseUrl(s, req), uploadPath(f.key), req.lab);
      return { imageURL, uploadedName: f.key };
    },
  );

  app.post(
    '/predict',
    {
      schema: {
        summary: 'Create a job (DeepCell body)',
        tags,
        body: PredictBody,
        response: { 200: Type.Object({ hash: Type.String() }), 400: Message },
      },
    },
    async (req) => {
      const b = req.body;
      const key = b.uploadedName || `uploads/${b.imageName}`;
      const scale =
        optionalNumber('jobForm.scale', b.jobForm?.scale) ?? optionalNumber('dataRescale', b.dataRescale);
      const channels = channelsOf(b.jobForm?.selectedChannels);
      const options: SegmentationOptions = {
        ...(scale !== undefined && scale !== 1 ? { scale } : {}),
        ...(channels ? { channels } : {}),
        ...(b.jobForm?.dimensionOrder ? { dimensionOrder: b.jobForm.dimensionOrder } : {}),
      };
      const version =
        b.modelVersion === undefined || b.modelVersion === '' ? undefined : String(b.modelVersion);
      const { id: hash } = await createJob(s, {
        lab: req.lab,
        type: b.jobType,
        aliases: true,
        ...(b.modelName ? { model: b.modelName } : {}),
        ...(version ? { modelVersion: version } : {}),
        inputs: [{ key, name: b.imageName.split('/').pop() ?? b.imageName }],
        options,
      });
      return { hash };
    },
  );

  app.post(
    '/redis',
    {
      schema: {
        summary: 'Read fields of a job hash',
        tags,
        body: RedisBody,
        response: { 200: Type.Object({ value: Value }), 400: Message },
      },
    },
    async (req) => {
      const { hash, key } = req.body;
      const fields = Array.isArray(key) ? key : [key];
      const values = await readFields(s, req.lab, hash, fields, baseUrl(s, req));
      return { value: Array.isArray(key) ? values : (values[0] ?? null) };
    },
  );

  app.post(
    '/status',
    {
      schema: {
        summary: 'Status of a job hash',
        tags,
        body: HashBody,
        response: { 200: Type.Object({ status: Type.Union([Type.String(), Type.Null()]) }), 400: Message },
      },
    },
    async (req) => ({ status: (await readFields(s, req.lab, req.body.hash, ['status'], ''))[0] ?? null }),
  );

  app.post(
    '/redis/expire',
    {
      schema: {
        summary: 'Set the seconds a job hash is kept',
        tags,
        body: Type.Object(
          {
            hash: Type.String({ minLength: 1, maxLength: 128 }),
            expireIn: Type.Optional(
              Type.Integer({
                minimum: 1,
                maximum: MAX_EXPIRE_S,
                default: 3600,
                description: `seconds, 1 to ${MAX_EXPIRE_S} (2^31 - 1, about 68 years)`,
              }),
            ),
          },
          { additionalProperties: true },
        ),
        response: {
          200: Type.Object({ value: Type.Literal(1) }),
          404: Type.Object({ value: Type.Literal(0) }),
          400: Message,
        },
      },
    },
    async (req, reply) => {
      const rec = await s.records.get(req.body.hash);
      if (!rec || rec.lab !== req.lab) return reply.status(404).send({ value: 0 });
      // Redis' own answer: 0 when the record went away meanwhile (a refused command throws: 500)
      const set = await s.records.expire(rec.id, req.body.expireIn ?? 3600);
      return set ? reply.send({ value: 1 }) : reply.status(404).send({ value: 0 });
    },
  );

  app.get(
    '/jobtypes',
    {
      schema: {
        summary: 'Job types',
        tags,
        response: { 200: Type.Object({ jobTypes: Type.Array(Type.String()) }) },
      },
    },
    // each type's name and its aliases (whole-cell's `mesmer`), which /api/predict accepts
    async () => ({
      jobTypes: (await jobTypeRegistry()).list().flatMap((t) => [t.name, ...(t.aliases ?? [])]),
    }),
  );

  app.get(
    '/models',
    {
      schema: {
        summary: 'Models: {Name: [versions]}',
        tags,
        response: { 200: Type.Object({ models: Type.Record(Type.String(), Type.Array(Type.String())) }) },
      },
    },
    async (req) => ({ models: await s.registry.catalog(req.lab) }),
  );

  app.get(
    '/health-check',
    { schema: { summary: 'Liveness', tags, response: { 200: Type.Object({ message: Type.String() }) } } },
    async () => ({ message: 'OK' }),
  );
};

/**
 * The fields the Kiosk's zip consumer gathers from its done children into a batch's hash, each as the
 * children's numbers joined by ',' (kiosk-client's summarize() splits them on ','): what a batch answers
 * for them, read from its done children's records.
 */
const CHILD_SUMMARY_FIELDS = new Set([
  'prediction_time',
  'postprocess_time',
  'upload_time',
  'download_time',
  'total_time',
  'predict_retries',
]);

/** Most children read in one Redis pipeline when a batch's summary fields are gathered. */
const CHILD_READ_CHUNK = 1000;

/**
 * A batch's child summary fields as the Kiosk's zip consumer writes them: per field, the numbers of its
 * done children, in the children's order, joined by ','; null while none is done (or none has the field).
 */
async function childSummaries(
  s: KioskServices,
  children: readonly string[],
  fields: readonly string[],
): Promise<Map<string, string | null>> {
  const values = new Map<string, string[]>(fields.map((f) => [f, []]));
  for (let i = 0; i < children.length; i += CHILD_READ_CHUNK) {
    const pipe = s.redis.pipeline();
    for (const id of children.slice(i, i + CHILD_READ_CHUNK))
      pipe.hmget(s.records.key(id), 'status', ...fields);
    for (const [err, row] of (await pipe.exec()) ?? []) {
      if (err) throw err;
      const [status, ...vals] = row as (string | null)[];
      if (status !== 'done') continue;
      for (const [j, f] of fields.entries()) {
        const v = vals[j];
        if (v !== null && v !== undefined && v !== '' && Number.isFinite(Number(v))) values.get(f)!.push(v);
      }
    }
  }
  return new Map(fields.map((f) => [f, values.get(f)!.length ? values.get(f)!.join(',') : null]));
}

/**
 * The Kiosk hash fields of a job of `lab`; `output_url` is computed (a URL the client can GET), unknown
 * fields are null. Another lab's hash reads as an unknown one: every field null. A batch answers the
 * per-image timing fields (CHILD_SUMMARY_FIELDS) with its done children's values joined by ',', as the
 * Kiosk's zip consumer leaves them (docs/api.md "DeepCell client summary").
 */
async function readFields(
  s: KioskServices,
  lab: string,
  hash: string,
  fields: readonly string[],
  base: string,
): Promise<(string | null)[]> {
  const raw = await s.records.raw(hash, [...fields, 'lab', 'status', 'output_key', 'kind', 'children']);
  if (!raw) return fields.map(() => null);
  const [owner, status, outputKey, kind, childrenJson] = raw.slice(fields.length);
  if (owner !== lab) return fields.map(() => null);
  const gathered =
    kind === 'batch' && childrenJson && fields.some((f) => CHILD_SUMMARY_FIELDS.has(f))
      ? await childSummaries(
          s,
          JSON.parse(childrenJson) as string[],
          fields.filter((f) => CHILD_SUMMARY_FIELDS.has(f)),
        )
      : undefined;
  const out: (string | null)[] = [];
  for (const [i, f] of fields.entries()) {
    if (f === 'output_url') {
      const rec = status === 'done' && outputKey ? await s.records.get(hash) : undefined;
      out.push(rec && outputKey ? await fileUrl(s, rec, outputKey, base) : null);
    } else if (gathered?.has(f)) out.push(gathered.get(f)!);
    else out.push(raw[i] ?? null);
  }
  return out;
}

import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { QueueEvents, type Queue } from 'bullmq';
import type { OutputRole } from '../../workers/bioimageio/card.js';
import { MODEL_NAME } from '../../workers/bioimageio/import.js';
import { isZipArchive } from '../../workers/image/zip.js';
import {
  importRefusal,
  type ImportModelJobData,
  type ImportModelResult,
} from '../../workers/processors/import-model.js';
import { bullConnection } from '../../workers/queues/connection.js';
import { JOB, keys } from '../../workers/queues/names.js';
import { ApiError, errorResponses } from '../errors.js';
import type { KioskServices } from '../../core/services.js';

/** How long POST /v1/models/import waits for its import job before answering 202 (`?wait=` may ask less). */
export const IMPORT_WAIT_S = 120;
/** How long an import's outcome stays readable at its status URL. */
const IMPORT_KEEP_S = 24 * 3600;
/** How long the API waits, after a 202, for the import to end so that it can delete the staged zip. */
const CLEANUP_WAIT_MS = 3600_000;
/** How often a waiting request also reads the import job's state (besides its events). */
const STATE_POLL_MS = 2000;

const Imported = Type.Object({
  name: Type.String(),
  version: Type.String(),
  labels: Type.String({ description: 'how the outputs become labels' }),
  test: Type.Object({}, { additionalProperties: true, description: "the package's test, as run" }),
});

const ImportIdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) });

/**
 * POST /v1/models/import: a bioimage.io model package (.zip, multipart field `package`; optional text
 * fields `name` and `roles`) is checked and test-run as `kiosk models import` does (workers/bioimageio),
 * then stored as the bucket model `models/<name>/<version>/` of the caller's lab, where the registry lists
 * it and the workers load it. Every refusal is a 400 'bad-model-package' whose message names the rdf field
 * or file (unsupported weights, axes, a missing file, a sha256 or test-output mismatch); a name used by a
 * model that is not an import, 409.
 *
 * The API may not write `models/` (constructs/roles.ts): it stages the zip under the caller's uploads
 * (`uploads/<lab>/<id>/package.zip`) and puts an `import-model` job on the CPU pool's `models` queue
 * (workers/processors/import-model.ts), which checks, test-runs and publishes the model. The request waits
 * for the job up to `?wait=` seconds (default and most IMPORT_WAIT_S) and answers as the job ended: 201, 400
 * or 409; if it has not ended by then, 202 with the import's id and status URL (GET
 * /v1/models/imports/:id). Cheap checks (multipart, a file, a zip, the name) answer at once. The staged zip
 * is deleted once the import has ended.
 */
export const modelsImportRoutes: FastifyPluginAsyncTypebox<{ services: KioskServices }> = async (
  app,
  { services: s },
) => {
  const queue = s.queues.models as unknown as ImportQueue;
  // One QueueEvents (its own blocking connection) per API process, made on the first import.
  let events: QueueEvents | undefined;
  const queueEvents = async (): Promise<QueueEvents> => {
    if (!events) {
      events = new QueueEvents(queue.name, {
        connection: bullConnection(s.config.redisUrl),
        prefix: s.config.prefix,
      });
      events.on('error', (err) => app.log.warn({ err }, 'model imports: queue events'));
    }
    await events.waitUntilReady();
    return events;
  };
  const closing = new AbortController();
  app.addHook('onClose', async () => {
    closing.abort();
    await events?.close();
  });
  const logFailure = (reason: string) => app.log.error({ reason }, 'model import failed on its worker');

  /** The staged zip goes once its import has ended (done or failed); a miss is left to the uploads' expiry. */
  const dropStaged = (key: string) =>
    s.storage.delete(key).catch((err: unknown) => {
      if ((err as { code?: string }).code !== 'not-found')
        app.log.warn({ err, key }, 'model import: staged zip');
    });

  app.post(
    '/models/import',
    {
      schema: {
        summary:
          'Import a bioimage.io model package (.zip, format 0.4/0.5, ONNX weights) as a model of your lab',
        description:
          'The package is checked and its test run by a CPU worker. The request waits for it up to `wait` ' +
          `seconds (default ${IMPORT_WAIT_S}): 201 when imported, 400/409 when refused, else 202 with a status URL.`,
        tags: ['catalog'],
        consumes: ['multipart/form-data'],
        querystring: Type.Object({
          wait: Type.Optional(
            Type.Integer({
              minimum: 0,
              maximum: IMPORT_WAIT_S,
              description: `seconds to wait for the import before answering 202 (default ${IMPORT_WAIT_S})`,
            }),
          ),
        }),
        response: {
          201: Imported,
          202: Type.Object({
            id: Type.String(),
            status: Type.Literal('pending'),
            statusUrl: Type.String({ description: 'GET it for the outcome' }),
          }),
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      if (!req.isMultipart())
        throw new ApiError('not-multipart', 'send the package as multipart/form-data (field "package")');
      let zip: Buffer | undefined;
      const fields: Record<string, string> = {};
      for await (const part of req.parts()) {
        if (part.type === 'field') fields[part.fieldname] = String(part.value);
        else if (part.fieldname === 'package' && zip === undefined) zip = await part.toBuffer();
        else await part.toBuffer(); // drain
      }
      if (!zip)
        throw new ApiError(
          'bad-model-package',
          'no file in the multipart field "package" (the .zip of a bioimage.io model)',
        );
      const name = fields.name?.trim() || undefined;
      if (name !== undefined && !MODEL_NAME.test(name))
        throw new ApiError(
          'bad-model-package',
          `name '${name}' must be 1-64 letters, digits, '-' or '_' starting with a letter or digit`,
        );
      if (!isZipArchive(zip))
        throw new ApiError(
          'bad-model-package',
          'the upload is not a zip archive or a package folder [bad-package]',
        );
      const roles = fields.roles
        ?.split(',')
        .map((r) => r.trim())
        .filter((r) => r !== '') as OutputRole[] | undefined;

      const id = randomUUID();
      const key = keys.upload(req.lab, id, 'package.zip');
      await s.storage.put(key, zip);
      const data: ImportModelJobData = {
        lab: req.lab,
        key,
        ...(name ? { name } : {}),
        ...(roles?.length ? { roles } : {}),
      };
      try {
        await queue.add(JOB.importModel, data, {
          jobId: id,
          attempts: 2,
          backoff: { type: 'exponential', delay: s.config.backoffMs },
          removeOnComplete: { age: IMPORT_KEEP_S },
          removeOnFail: { age: IMPORT_KEEP_S },
        });
      } catch (err) {
        await dropStaged(key);
        throw err;
      }
      const waitMs = (req.query.wait ?? IMPORT_WAIT_S) * 1000;
      const outcome = await settle(queue, id, await queueEvents(), waitMs, closing.signal);
      if (outcome === 'pending') {
        // Answered 202: delete the zip when the import ends (GET .../imports/:id does it too).
        void settle(queue, id, await queueEvents(), CLEANUP_WAIT_MS, closing.signal).then(async (o) => {
          if (o !== 'pending') await dropStaged(key);
        });
        return reply.status(202).send({ id, status: 'pending', statusUrl: `/v1/models/imports/${id}` });
      }
      await dropStaged(key);
      if ('failed' in outcome) throw failure(outcome.failed, logFailure);
      return reply.status(201).send(outcome.done);
    },
  );

  app.get(
    '/models/imports/:id',
    {
      schema: {
        summary: 'The outcome of a model import that answered 202',
        tags: ['catalog'],
        params: ImportIdParams,
        response: {
          200: Type.Union([
            Type.Object({ id: Type.String(), status: Type.Literal('pending') }),
            Type.Intersect([Type.Object({ id: Type.String(), status: Type.Literal('done') }), Imported]),
            Type.Object({
              id: Type.String(),
              status: Type.Literal('failed'),
              error: Type.String({ description: 'the code POST would have answered with' }),
              message: Type.String(),
            }),
          ]),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const { id } = req.params;
      const job = await queue.getJob(id);
      if (!job || job.data.lab !== req.lab)
        throw new ApiError(
          'import-not-found',
          `no model import ${id} in your lab (an import's outcome is kept ${IMPORT_KEEP_S / 3600} h)`,
        );
      const outcome = await outcomeNow(queue, id);
      if (outcome === 'pending') return { id, status: 'pending' as const };
      await dropStaged(job.data.key);
      if ('done' in outcome) return { id, status: 'done' as const, ...outcome.done };
      const err = failure(outcome.failed, logFailure);
      return { id, status: 'failed' as const, error: err.code, message: err.message };
    },
  );
};

type ImportQueue = Queue<ImportModelJobData, ImportModelResult>;
type Outcome = 'pending' | { readonly done: ImportModelResult } | { readonly failed: string };

/**
 * How `job` ended within `ms`, or 'pending' (also when `stop` fires: the API is closing). Listens first, then
 * reads the job's state, so an end between the two is not missed. Its timer does not hold the process open.
 */
function settle(
  queue: ImportQueue,
  id: string,
  events: QueueEvents,
  ms: number,
  stop: AbortSignal,
): Promise<Outcome> {
  if (ms <= 0 || stop.aborted) return Promise.resolve('pending');
  return new Promise<Outcome>((resolve) => {
    const onDone = (a: { jobId: string; returnvalue: unknown }) =>
      a.jobId === id && end({ done: a.returnvalue as ImportModelResult });
    const onFailed = (a: { jobId: string; failedReason: string }) =>
      a.jobId === id && end({ failed: a.failedReason });
    const onStop = () => end('pending');
    const timer = setTimeout(onStop, ms);
    timer.unref();
    // The events decide at once; a slow look at the job's state covers an event the QueueEvents connection
    // missed (made, or reconnected, while the job ended).
    const look = () =>
      void outcomeNow(queue, id).then(
        (o) => o !== 'pending' && end(o),
        () => undefined, // Redis away: the events, a later look or the time-out decide
      );
    const poll = setInterval(look, STATE_POLL_MS);
    poll.unref();
    function end(o: Outcome): void {
      clearTimeout(timer);
      clearInterval(poll);
      events.off('completed', onDone);
      events.off('failed', onFailed);
      stop.removeEventListener('abort', onStop);
      resolve(o);
    }
    events.on('completed', onDone);
    events.on('failed', onFailed);
    stop.addEventListener('abort', onStop);
    look();
  });
}

/**
 * The import's outcome as Redis has it now. The state is read first and the job after it: a job read first
 * could still be running (no return value) and have ended by the time its state is read.
 */
async function outcomeNow(queue: ImportQueue, id: string): Promise<Outcome> {
  const state = await queue.getJobState(id);
  if (state !== 'completed' && state !== 'failed') return 'pending';
  const job = await queue.getJob(id);
  if (!job) return 'pending'; // removed since (kept IMPORT_KEEP_S): the caller's own look says so
  return state === 'completed' ? { done: job.returnvalue } : { failed: job.failedReason };
}

/**
 * The API error a failed import's reason stands for: its refusal (400, 409), else an internal error whose
 * reason is logged, not shown.
 */
function failure(reason: string, log: (reason: string) => void): ApiError {
  const refused = importRefusal(reason);
  if (refused) return new ApiError(refused.error, refused.message);
  log(reason);
  return new ApiError('internal', 'the model import failed on its worker');
}

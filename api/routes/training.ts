/**
 * API v1 training routes (register with prefix /v1):
 * - POST /trainings            JSON: `data` = upload keys (zips or files) + parameters → 201 the training
 * - POST /trainings/upload     multipart: the data as files (a zip, or a folder's files with their relative
 *                              paths as file names) + the parameters as form fields → 201
 * - GET  /trainings            list, newest first;  GET /trainings/:id  one (with `position` while queued)
 * - POST /trainings/:id/cancel stop a waiting or running training (it fails with 'cancelled by the user')
 * - GET  /trainings/:id/events server-sent events: `snapshot` (the training), then `training` events
 *                              (status, progress, step/loss, `epochRecord` at each epoch, `position` when
 *                              the queue ahead of a waiting job moves); ends when final
 * Bad data → 400 `{ error: 'bad-training-data', message, problems: [{ file, code, message }] }`.
 * Every training belongs to the caller's lab (request.lab, api/auth.ts): another lab's id answers 404, and
 * the model it writes is listed only for that lab (its card's `lab`, workers/registry).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Redis } from 'ioredis';
import { connectRedis } from '../../workers/queues/connection.js';
import type { TrainingEvent, TrainingRecord } from '../../workers/training/records.js';
import { createTrainingServices, type TrainingServices } from '../../workers/training/services.js';
import { ApiError, errorResponses } from '../errors.js';
import { deleteUploads } from '../inputs.js';
import type { KioskServices } from '../../core/services.js';
import {
  BadTrainingDataError,
  createTraining,
  readMultipartTraining,
  uploadsByKey,
} from './training-create.js';
import {
  BadTrainingDataBody,
  CreateTrainingBody,
  TrainingIdParams,
  TrainingView,
} from './training-schemas.js';

const FINAL = new Set(['done', 'failed']);
const { 400: _bad, ...errorResponsesWithout400 } = errorResponses;

async function view(t: TrainingServices, rec: TrainingRecord): Promise<TrainingView> {
  const position = rec.status === 'waiting' ? await t.queue.position(rec.id) : undefined;
  const { lab: _lab, dataPrefix: _d, cancelled: _c, updatedAt: _u, reason, ...rest } = rec;
  return {
    ...rest,
    totalSteps: rec.params.epochs * rec.params.stepsPerEpoch,
    ...(reason ? { reason } : {}),
    ...(position !== undefined ? { position } : {}),
    eventsUrl: `/v1/trainings/${rec.id}/events`,
  } as TrainingView;
}

/** The training `id` of `lab` (request.lab); another lab's is not found. */
async function getTraining(t: TrainingServices, id: string, lab: string): Promise<TrainingRecord> {
  const rec = await t.records.get(id);
  if (!rec || rec.lab !== lab) throw new ApiError('job-not-found', `no training job ${id} (or it expired)`);
  return rec;
}

export const trainingRoutes: FastifyPluginAsyncTypebox<{ services: KioskServices }> = async (
  app,
  { services: s },
) => {
  const t = createTrainingServices(s);
  let subscriber: Redis | undefined;
  const listeners = new Set<(ev: TrainingEvent) => void>();
  const subscribe = async () => {
    if (subscriber) return;
    subscriber = connectRedis(s.config.redisUrl);
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== t.records.channel) return;
      let ev: TrainingEvent;
      try {
        ev = JSON.parse(message) as TrainingEvent;
      } catch {
        return;
      }
      for (const l of [...listeners]) l(ev);
    });
    await subscriber.subscribe(t.records.channel);
  };
  app.addHook('onClose', async () => {
    listeners.clear();
    subscriber?.disconnect();
    await t.close();
  });

  const badData = (reply: FastifyReply, err: BadTrainingDataError) =>
    reply.status(400).send({ error: 'bad-training-data', message: err.message, problems: [...err.problems] });

  app.post(
    '/trainings',
    {
      schema: {
        summary: 'Train or fine-tune a model on uploaded training data (upload keys from POST /v1/uploads)',
        description:
          'Data: NAME.image.(png|tif) + NAME.labels.(png|tif) pairs, in zips or as files, optionally under train/ and val/ (docs/training.md). ' +
          'Every problem with the data is listed by file name in a 400 bad-training-data answer.',
        tags: ['training'],
        body: CreateTrainingBody,
        response: {
          201: TrainingView,
          400: Type.Union([BadTrainingDataBody, errorResponses[400]]),
          ...errorResponsesWithout400,
        },
      },
    },
    async (req, reply) => {
      const { data, ...params } = req.body;
      try {
        const rec = await createTraining(s, t, uploadsByKey(data, req.lab), params, req.lab);
        return reply.status(201).send(await view(t, rec));
      } catch (err) {
        if (err instanceof BadTrainingDataError) return badData(reply, err);
        throw err;
      }
    },
  );

  app.post(
    '/trainings/upload',
    {
      schema: {
        summary: 'Train or fine-tune a model on training data sent with the request (multipart/form-data)',
        description:
          'File parts: a zip, or the files of a folder (file names may hold relative paths such as train/a.image.png). ' +
          'Form fields: the parameters of POST /v1/trainings (modelName, baseModel, baseVersion, fromScratch, epochs, stepsPerEpoch, batchSize, cropSize, learningRate, micronsPerPixel, seed).',
        tags: ['training'],
        consumes: ['multipart/form-data'],
        response: {
          201: TrainingView,
          400: Type.Union([BadTrainingDataBody, errorResponses[400]]),
          ...errorResponsesWithout400,
        },
      },
    },
    async (req: FastifyRequest, reply) => {
      const { uploads, params } = await readMultipartTraining(req, s);
      try {
        const rec = await createTraining(s, t, uploads, params, req.lab);
        return reply.status(201).send(await view(t, rec));
      } catch (err) {
        if (err instanceof BadTrainingDataError) return badData(reply, err);
        throw err;
      } finally {
        // the request's files were uploads only for this training: its data is under training/<id>/data/
        await deleteUploads(
          s,
          uploads.map((u) => u.key),
        );
      }
    },
  );

  app.get(
    '/trainings',
    {
      schema: {
        summary: 'List training jobs, newest first',
        tags: ['training'],
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
          offset: Type.Integer({ minimum: 0, default: 0 }),
        }),
        response: { 200: Type.Object({ trainings: Type.Array(TrainingView) }), ...errorResponses },
      },
    },
    async (req) => {
      const recs = await t.records.list({ ...req.query, lab: req.lab });
      return { trainings: await Promise.all(recs.map((r) => view(t, r))) };
    },
  );

  app.get(
    '/trainings/:id',
    {
      schema: {
        summary: 'Get a training job',
        tags: ['training'],
        params: TrainingIdParams,
        response: { 200: TrainingView, ...errorResponses },
      },
    },
    async (req) => view(t, await getTraining(t, req.params.id, req.lab)),
  );

  app.post(
    '/trainings/:id/cancel',
    {
      schema: {
        summary: 'Cancel a training job that has not finished (a finished one stays as it is)',
        tags: ['training'],
        params: TrainingIdParams,
        response: { 200: TrainingView, ...errorResponses },
      },
    },
    async (req) => {
      const rec = await getTraining(t, req.params.id, req.lab);
      if (!FINAL.has(rec.status)) {
        await t.records.update(rec.id, { cancelled: true });
        // Not started yet: take it out of the queue now. Running: its worker sees the flag and stops.
        if (await t.queue.removeWaiting(rec.id))
          await t.records.finish(rec.id, 'failed', { reason: 'cancelled by the user' });
      }
      return view(t, await getTraining(t, rec.id, req.lab));
    },
  );

  app.get(
    '/trainings/:id/events',
    {
      schema: {
        summary:
          "Event stream of one training's progress (text/event-stream), after a snapshot; ends when it finishes",
        tags: ['training'],
        params: TrainingIdParams,
        produces: ['text/event-stream'],
        response: { 200: Type.Unknown(), ...errorResponses },
      },
    },
    async (req, reply) => {
      const rec = await getTraining(t, req.params.id, req.lab);
      await subscribe();
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      // Subscribe before the snapshot is read, so no update falls between the two.
      const pending: TrainingEvent[] = [];
      let live = false;
      const end = () => {
        clearInterval(ping);
        listeners.delete(onEvent);
        res.end();
      };
      const write = (ev: TrainingEvent) => {
        if (res.writableEnded) return;
        res.write(`event: training\ndata: ${JSON.stringify(ev)}\n\n`);
        if (ev.status && FINAL.has(ev.status)) end();
      };
      let waiting = rec.status === 'waiting';
      const onEvent = (ev: TrainingEvent) => {
        if (ev.id !== rec.id) {
          // Another job started or ended: while this one waits, its place in the queue may have moved.
          if (live && waiting && ev.status && ev.status !== 'waiting' && ev.status !== 'training') {
            void t.queue.position(rec.id).then(
              (position) => position !== undefined && waiting && write({ id: rec.id, position }),
              () => undefined,
            );
          }
          return;
        }
        if (ev.status) waiting = ev.status === 'waiting';
        if (live) write(ev);
        else pending.push(ev);
      };
      listeners.add(onEvent);
      const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
      req.raw.on('close', end);
      const snap = await view(t, (await t.records.get(rec.id)) ?? rec);
      waiting = snap.status === 'waiting';
      res.write(`event: snapshot\ndata: ${JSON.stringify(snap)}\n\n`);
      if (FINAL.has(snap.status)) return end();
      live = true;
      for (const ev of pending) write(ev);
    },
  );
};

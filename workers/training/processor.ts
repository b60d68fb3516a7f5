/**
 * The processor of the `train` queue. For one training job it: loads the record; copies the checked data
 * and the base model from the bucket to a local work folder; restores the newest bucket checkpoint (so a
 * job whose worker died resumes where it was, not from zero); runs the training in a child process
 * (./train-child.ts, H5's trainModel); uploads each epoch's checkpoint and reports the epoch (loss, val
 * F1@0.5, DSB) on the record; and at the end writes `models/<name>/<version>/` (weights, model.onnx, then
 * card.json last, so the registry lists the version only once it is whole).
 *
 * Errors: bad data or options → unrecoverable, the job fails with the reason; anything else (a crashed
 * child, the bucket unreachable) → retried with backoff, resuming from the checkpoint. Cancel: the record's
 * `cancelled` flag is polled; the child is killed and the job fails with 'cancelled by the user'.
 */
import type { Job } from 'bullmq';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nuclearCard } from '../model/model-card.js';
import type { ModelCard } from '../model/model-io.js';
import type { NetworkConfig } from '../model/network.js';
import type { RuntimePreference } from '../model/runtime.js';
import { BadInputError, classifyError, isFinalFailure } from '../queues/errors.js';
import type { ModelRegistry } from '../registry/registry.js';
import type { Storage } from '../storage/storage.js';
import { checkpointPrefix, readPointer, restoreCheckpoint, uploadCheckpoint } from './checkpoint-store.js';
import type { ChildMessage } from './child-protocol.js';
import { fetchTrainingData } from './data-store.js';
import type { TrainJobData } from './queue.js';
import type { EpochProgress, TrainingRecord, TrainingRecords } from './records.js';
import { ChildBadInputError, runTrainingChild, type DoneMessage } from './run-child.js';

export interface TrainingContext {
  readonly storage: Storage;
  readonly records: TrainingRecords;
  readonly registry: ModelRegistry;
  /** Folder of the built-in models (`<name>/<version>/`), for fine-tuning a shipped model. */
  readonly modelsDir: string;
  /** Local work folder (data, base model, checkpoints, output). */
  readonly scratchDir: string;
  /** Where the tfjs backend search starts in the child (tests pin 'wasm'). @default - initTfjs's default */
  readonly tfjsPrefer?: RuntimePreference;
  /** How often the cancel flag is checked. @default 1000 */
  readonly cancelPollMs?: number;
  readonly log: (msg: string) => void;
}

export interface TrainJobResult {
  readonly model: { readonly name: string; readonly version: string };
}

/** Default nucleus diameter (px) a new (from-scratch) model trains at, as `kiosk train` does. */
const NEW_MODEL_DIAMETER_PX = 14;

const epochOf = (r: DoneMessage['history'][number]): EpochProgress => ({
  epoch: r.epoch,
  step: r.step,
  trainLoss: r.trainLoss,
  ...(r.valF1 !== undefined ? { valF1: r.valF1 } : {}),
  ...(r.valDsb !== undefined ? { valDsb: r.valDsb } : {}),
  seconds: r.seconds,
  lr: r.lr,
});

/** Copies a model version to `dir` (built-in: from modelsDir; bucket: from models/<name>/<version>/). */
async function fetchBaseModel(
  ctx: TrainingContext,
  name: string,
  version: string,
  dir: string,
): Promise<ModelCard> {
  const m = await ctx.registry.resolve(name, version);
  if (m.source === 'custom') {
    throw new BadInputError(
      'not-trainable',
      `model ${name} v${m.version} is registered in code and cannot be fine-tuned`,
    );
  }
  await mkdir(dir, { recursive: true });
  if (m.source === 'builtin') {
    const src = join(ctx.modelsDir, name, m.version);
    for (const f of await readdir(src)) await writeFile(join(dir, f), await readFile(join(src, f)));
  } else {
    const prefix = `models/${name}/${m.version}/`;
    for (const key of await ctx.storage.list(prefix)) {
      const rest = key.slice(prefix.length);
      if (!rest.includes('/')) await writeFile(join(dir, rest), await ctx.storage.get(key));
    }
  }
  return m.card as unknown as ModelCard;
}

export function trainingProcessor(ctx: TrainingContext) {
  return async (job: Job<TrainJobData, TrainJobResult>): Promise<TrainJobResult> => {
    const id = job.data.trainingId;
    try {
      return await train(ctx, job);
    } catch (err) {
      const classified =
        err instanceof ChildBadInputError
          ? new BadInputError('bad-training-input', err.message)
          : classifyError(err);
      if (isFinalFailure(classified, job.attemptsMade, job.opts.attempts ?? 1)) {
        await ctx.storage.deletePrefix(checkpointPrefix(id)).catch(() => undefined);
        await ctx.records
          .finish(id, 'failed', { reason: classified.message })
          .catch((e: unknown) => ctx.log(`training ${id}: ${String(e)}`));
      } else {
        await ctx.records
          .update(id, { status: 'waiting', reason: `retrying after: ${classified.message}` })
          .catch(() => undefined);
      }
      throw classified;
    }
  };
}

async function train(ctx: TrainingContext, job: Job<TrainJobData, TrainJobResult>): Promise<TrainJobResult> {
  const id = job.data.trainingId;
  const rec = await ctx.records.get(id);
  if (!rec)
    throw new BadInputError(
      'training-not-found',
      `training job ${id} has no record (it expired or was deleted)`,
    );
  if (rec.status === 'done' && rec.model) return { model: rec.model };
  if (rec.cancelled) throw new BadInputError('cancelled', 'cancelled by the user');
  const p = rec.params;
  await ctx.records.update(id, {
    status: 'started',
    startedAt: rec.startedAt ?? new Date().toISOString(),
    attempts: rec.attempts + 1,
  });

  // A fresh work folder per attempt; folders of earlier (dead) attempts on this machine are removed.
  await mkdir(ctx.scratchDir, { recursive: true });
  for (const old of await readdir(ctx.scratchDir))
    if (old.startsWith(`${id}-`)) await rm(join(ctx.scratchDir, old), { recursive: true, force: true });
  const work = join(ctx.scratchDir, `${id}-${process.pid}`);
  try {
    const { trainDir, valDir } = await fetchTrainingData(ctx.storage, rec.dataPrefix, join(work, 'data'));
    const baseCard = p.baseModel
      ? await fetchBaseModel(ctx, p.baseModel, p.baseVersion ?? '', join(work, 'base'))
      : undefined;
    const targetDiameterPx = baseCard?.input.targetDiameterPx ?? NEW_MODEL_DIAMETER_PX;
    const network = (baseCard?.network ?? {}) as NetworkConfig;
    let pointer = await readPointer(ctx.storage, id);
    if (pointer) await restoreCheckpoint(ctx.storage, pointer, join(work, 'ckpt'));

    const total = p.epochs * p.stepsPerEpoch;
    let history: EpochProgress[] = [...rec.history];
    let medianDiameterPx = 0;
    let uploads: Promise<unknown> = Promise.resolve();
    let lastStepReport = 0;
    const onMessage = (m: ChildMessage) => {
      if (m.type === 'loaded') {
        medianDiameterPx = m.medianDiameterPx;
        history = history.filter((h) => h.epoch <= (m.resumedFrom?.epoch ?? 0));
        void ctx.records
          .update(id, {
            status: 'training',
            runtime: m.runtime,
            history,
            reason: '',
            ...(m.resumedFrom
              ? { resumedFrom: m.resumedFrom, epoch: m.resumedFrom.epoch, step: m.resumedFrom.step }
              : {}),
          })
          .catch((e: unknown) => ctx.log(`training ${id}: ${String(e)}`));
      } else if (m.type === 'step') {
        if (Date.now() - lastStepReport < 500 && m.step !== total) return;
        lastStepReport = Date.now();
        void ctx.records
          .update(id, {
            epoch: m.epoch - 1,
            step: m.step,
            loss: m.loss,
            progress: Math.min(99, (100 * m.step) / total),
          })
          .catch((e: unknown) => ctx.log(`training ${id}: ${String(e)}`));
      } else if (m.type === 'epoch') {
        const rec2 = epochOf(m.record);
        history = [...history.filter((h) => h.epoch !== rec2.epoch), rec2];
        const snapshotHistory = history;
        // Uploads run one after another, in epoch order; the record says an epoch is safe only once it is.
        uploads = uploads.then(async () => {
          pointer = await uploadCheckpoint(
            ctx.storage,
            id,
            m.snapshot,
            m.record.epoch,
            m.record.step,
            m.improved,
            pointer,
          );
          await rm(m.snapshot, { recursive: true, force: true });
          await ctx.records.update(
            id,
            {
              epoch: m.record.epoch,
              step: m.record.step,
              history: snapshotHistory,
              checkpointEpoch: m.record.epoch,
              progress: Math.min(99, (100 * m.record.step) / total),
            },
            { epochRecord: rec2 },
          );
        });
        uploads.catch(() => undefined); // awaited after the child ends; this only marks it handled
      }
    };
    const child = runTrainingChild(
      {
        type: 'start',
        trainDir,
        ...(valDir ? { valDir } : {}),
        checkpointDir: join(work, 'ckpt'),
        snapshotDir: join(work, 'snapshots'),
        outDir: join(work, 'out'),
        ...(baseCard ? { baseModelDir: join(work, 'base') } : {}),
        network,
        targetDiameterPx,
        epochs: p.epochs,
        stepsPerEpoch: p.stepsPerEpoch,
        batchSize: p.batchSize,
        cropSize: p.cropSize,
        learningRate: p.learningRate,
        seed: p.seed,
        ...(ctx.tfjsPrefer ? { tfjsPrefer: ctx.tfjsPrefer } : {}),
      },
      onMessage,
    );
    // Cancellation: checked while the child runs.
    let cancelled = false;
    const poll = setInterval(() => {
      void ctx.records.get(id).then(
        (r) => {
          if (r?.cancelled && !cancelled) {
            cancelled = true;
            child.kill();
          }
        },
        () => undefined,
      );
    }, ctx.cancelPollMs ?? 1000);
    let done: DoneMessage;
    try {
      done = await child.done;
    } catch (err) {
      await uploads.catch(() => undefined); // let an upload in flight land before the failure cleans up
      if (cancelled) throw new BadInputError('cancelled', 'cancelled by the user');
      throw err;
    } finally {
      clearInterval(poll);
      child.kill();
    }
    await uploads;
    return await saveResult(ctx, rec, done, targetDiameterPx, medianDiameterPx, baseCard, join(work, 'out'));
  } finally {
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Writes the trained model to `models/<name>/<version>/` (card.json last) and finishes the record. */
async function saveResult(
  ctx: TrainingContext,
  rec: TrainingRecord,
  done: DoneMessage,
  targetDiameterPx: number,
  medianDiameterPx: number,
  baseCard: ModelCard | undefined,
  outDir: string,
): Promise<TrainJobResult> {
  const p = rec.params;
  const history = done.history.map(epochOf);
  await ctx.records.update(rec.id, {
    status: 'saving-results',
    progress: 99,
    history,
    epoch: done.epoch,
    step: done.step,
  });
  // One version per training job, also across retries: reserved once and kept on the record.
  let model = (await ctx.records.get(rec.id))?.model;
  if (!model) {
    const existing = (await ctx.registry.list())
      .filter((m) => m.name === p.modelName)
      .map((m) => Number(m.version));
    const version = await ctx.records.nextVersion(p.modelName, Math.max(0, ...existing));
    model = { name: p.modelName, version: String(version) };
    await ctx.records.update(rec.id, { model });
  }
  const prefix = `models/${model.name}/${model.version}/`;
  for (const f of await readdir(outDir)) {
    if (f !== 'card.json' && !f.includes('.tmp-'))
      await ctx.storage.put(`${prefix}${f}`, await readFile(join(outDir, f)));
  }
  const best = history.find((h) => h.epoch === done.bestEpoch);
  const card = nuclearCard({
    name: model.name,
    version: Number(model.version),
    network: done.network,
    params: done.params,
    targetDiameterPx,
    ...(baseCard?.postprocess ? { postprocess: baseCard.postprocess } : {}),
    parentModel: p.baseModel ? { name: p.baseModel, version: baseCard?.version ?? p.baseVersion } : null,
    training: {
      job: rec.id,
      data: {
        ...rec.data,
        micronsPerPixel: p.micronsPerPixel ?? null,
        medianNucleusDiameterPx: medianDiameterPx,
        bucketPrefix: rec.dataPrefix,
      },
      parameters: {
        epochs: p.epochs,
        stepsPerEpoch: p.stepsPerEpoch,
        batchSize: p.batchSize,
        cropSize: p.cropSize,
        learningRate: p.learningRate,
        seed: p.seed,
      },
      epochsRun: done.epoch,
      steps: done.step,
      bestEpoch: done.bestEpoch,
      stoppedBecause: done.stoppedBecause,
      seconds: Math.round(done.seconds),
      curves: history,
      ...(done.onnxSkipped ? { onnxExport: `skipped: ${done.onnxSkipped}` } : {}),
    },
    ...(best?.valF1 !== undefined
      ? {
          validation: {
            images: rec.data.valPairs,
            epoch: best.epoch,
            f1_50: best.valF1,
            dsb: best.valDsb ?? null,
          },
        }
      : {}),
  });
  // µm/px: measured from the data when its pixel size is known, else the base model's contract.
  const input =
    p.micronsPerPixel && medianDiameterPx > 0
      ? {
          ...card.input,
          typicalNucleusDiameterUm: Number((medianDiameterPx * p.micronsPerPixel).toFixed(3)),
          mpp: Number(((medianDiameterPx * p.micronsPerPixel) / targetDiameterPx).toFixed(4)),
        }
      : baseCard
        ? {
            ...card.input,
            mpp: baseCard.input.mpp,
            typicalNucleusDiameterUm: baseCard.input.typicalNucleusDiameterUm,
          }
        : card.input;
  await ctx.storage.put(
    `${prefix}card.json`,
    // `lab`: the registry shows a trained model only to the lab that trained it (api/auth.ts).
    Buffer.from(`${JSON.stringify({ ...card, input, lab: rec.lab }, null, 2)}\n`),
  );
  await ctx.storage.deletePrefix(checkpointPrefix(rec.id)).catch(() => undefined);
  await ctx.records.finish(rec.id, 'done', { progress: 100, model });
  return { model };
}

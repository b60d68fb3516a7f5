/**
 * The child process of one training job (forked by ./run-training.ts with `--import tsx`). Receives one
 * ChildStart, runs H5's trainModel (resuming from `checkpointDir/last` when present), copies each epoch's
 * checkpoint to a snapshot folder for the parent to upload, writes the best model (+ model.onnx) to
 * `outDir`, reports through `process.send` (see ./child-protocol.ts) and exits.
 *
 * Orphans: if the parent dies (SIGKILL of the worker), the child notices on its next step (its parent pid
 * changes) and exits, so a killed worker never leaves a trainer running.
 */
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { hasCheckpoint, readTrainingState } from '../model/checkpoint.js';
import { loadNucleiFolder } from '../model/dataset.js';
import { exportModelDir } from '../model/export-model-dir.js';
import { loadModel, saveModel } from '../model/model-io.js';
import { resolveNetworkConfig } from '../model/network.js';
import { initTfjs } from '../model/runtime.js';
import { trainModel } from '../model/train.js';
import type { ChildMessage, ChildStart } from './child-protocol.js';

const parentPid = process.ppid;

/** Sends a message; resolves once it is handed to the channel (or the channel is gone). */
function send(msg: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    try {
      process.send(msg, undefined, {}, () => resolve());
    } catch {
      resolve();
    }
  });
}

function median(v: number[]): number {
  const s = v.filter((x) => x > 0).sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const BAD_INPUT = new Set(['ImageError', 'TrainOptionsError', 'ModelIoError', 'NetworkConfigError']);

async function run(c: ChildStart): Promise<void> {
  const runtime = await initTfjs(c.tfjsPrefer ? { prefer: c.tfjsPrefer } : {});
  const train = await loadNucleiFolder(c.trainDir, { targetDiameterPx: c.targetDiameterPx });
  const val = c.valDir
    ? await loadNucleiFolder(c.valDir, { targetDiameterPx: c.targetDiameterPx, keepOriginal: true })
    : undefined;
  const lastDir = join(c.checkpointDir, 'last');
  const resumed = (await hasCheckpoint(lastDir)) ? await readTrainingState(lastDir) : undefined;
  await send({
    type: 'loaded',
    runtime: runtime.source,
    trainImages: train.length,
    valImages: val?.length ?? 0,
    medianDiameterPx: median(train.map((s) => s.medianDiameter)),
    ...(resumed ? { resumedFrom: { epoch: resumed.epoch, step: resumed.step } } : {}),
  });
  const network = resolveNetworkConfig(c.network);
  const initialModel = c.baseModelDir && !resumed ? await loadModel(c.baseModelDir) : undefined;
  const totalSteps = c.epochs * c.stepsPerEpoch;
  const result = await trainModel({
    train,
    ...(val ? { val } : {}),
    network,
    ...(initialModel ? { initialModel } : {}),
    epochs: c.epochs,
    stepsPerEpoch: c.stepsPerEpoch,
    batchSize: c.batchSize,
    sampler: { cropSize: c.cropSize, margin: Math.min(16, c.cropSize / 4) },
    lr: {
      peak: c.learningRate,
      warmupSteps: Math.min(200, Math.ceil(totalSteps / 10)),
      final: c.learningRate / 100,
    },
    seed: c.seed,
    checkpointDir: c.checkpointDir,
    resume: true,
    onStep: (s) => {
      if (process.ppid !== parentPid) process.exit(1); // the worker died: stop now, it will be resumed
      void send({ type: 'step', epoch: s.epoch, step: s.step, loss: s.loss });
    },
    onEpoch: (record, state) => {
      // Copied synchronously: the next epoch's checkpoint cannot replace last/ while we copy it.
      const snapshot = join(c.snapshotDir, `epoch-${record.epoch}`);
      mkdirSync(snapshot, { recursive: true });
      cpSync(lastDir, join(snapshot, 'last'), { recursive: true });
      const improved = state.bestEpoch === record.epoch;
      if (improved) cpSync(join(c.checkpointDir, 'best'), join(snapshot, 'best'), { recursive: true });
      void send({ type: 'epoch', record, bestEpoch: state.bestEpoch, snapshot, improved });
    },
  });
  await saveModel(result.model, c.outDir);
  let onnxSkipped: string | undefined;
  try {
    await exportModelDir(c.outDir);
  } catch (err) {
    onnxSkipped = err instanceof Error ? err.message : String(err); // served with tfjs instead
  }
  await send({
    type: 'done',
    epoch: result.state.epoch,
    step: result.state.step,
    bestEpoch: result.state.bestEpoch,
    history: result.state.history,
    stoppedBecause: result.stoppedBecause,
    seconds: result.state.seconds,
    params: result.model.countParams(),
    network,
    ...(onnxSkipped ? { onnxSkipped } : {}),
  });
}

process.once('message', (msg: ChildStart) => {
  run(msg).then(
    () => process.disconnect?.(),
    (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      void send({ type: 'error', badInput: BAD_INPUT.has(e.name), message: e.message }).then(() =>
        process.disconnect?.(),
      );
    },
  );
});
process.on('disconnect', () => {
  // The parent closed the channel (cancel, or it died while we were idle): nothing left to report to.
  setImmediate(() => process.exit(0));
});

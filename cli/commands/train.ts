import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { UsageError, type Command } from '../command.js';
import { remoteTrainUsage, runRemoteTraining } from '../train-remote.js';
import { loadNucleiFolder } from '../../workers/model/dataset.js';
import { loadModel, readModelCard, saveModel } from '../../workers/model/model-io.js';
import { nuclearCard } from '../../workers/model/model-card.js';
import { resolveNetworkConfig, type NetworkConfig } from '../../workers/model/network.js';
import { initTfjs } from '../../workers/model/runtime.js';
import { trainModel } from '../../workers/model/train.js';

const usage = `Usage: kiosk train --data DIR [options]

Trains a nuclear segmentation model in this process and writes it as a new model version folder
(model.json, weights.bin, card.json). DIR holds NAME.image.png|tif + NAME.labels.png|tif pairs, or
train/ and val/ folders of them. Runs on tfjs-node-gpu, tfjs-node or wasm, whichever loads first.

Options:
  --data DIR            training pairs (or a folder with train/ and val/)            (required)
  --val DIR             validation pairs: F1@0.5 and DSB after deep watershed each epoch
                        (default: DIR/val when DIR has one)
  --epochs N            epochs                                                      (default: 10)
  --steps N             optimizer steps per epoch                                   (default: 50)
  --batch N             crops per step                                              (default: 8)
  --crop N              crop side in px, a multiple of 16                           (default: 128)
  --lr X                peak learning rate                       (default: 1e-3; 1e-4 with --from)
  --from NAME[/V]       fine-tune from models/NAME (latest version, or V); keeps its input contract
  --name NAME           model name for the new version            (default: the --from name, else nuclear)
  --models DIR          model registry folder                                       (default: ./models)
  --out DIR             write here instead of models/NAME/<latest + 1>
  --checkpoints DIR     keep per-epoch checkpoints here (resumes from them when rerun)
  --patience N          stop after N epochs without a better validation score
  --diameter PX         median nucleus diameter to train at (new models)            (default: 14)
  --seed N              random seed                                                 (default: 1)`;

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function posInt(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!/^\d+$/.test(text.trim()) || v < 1)
    throw new UsageError(`--${flag} must be a positive integer; got '${text}'`);
  return v;
}

function posNumber(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || v <= 0) {
    throw new UsageError(`--${flag} must be a positive number; got '${text}'`);
  }
  return v;
}

/** Integer-named version folders of models/NAME, ascending. */
async function versionsOf(dir: string): Promise<number[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir, { withFileTypes: true }))
    .filter((d) => d.isDirectory() && /^\d+$/.test(d.name))
    .map((d) => Number(d.name))
    .sort((a, b) => a - b);
}

export const command: Command = {
  name: 'train',
  summary: 'train (or fine-tune) a nuclear segmentation model and write a new model version',
  usage: `${usage}\n\n${remoteTrainUsage}`,
  async run(args) {
    // With --host the training runs on a kiosk over HTTP (issue 5); without it, in this process.
    if (args.some((a) => a === '--host' || a.startsWith('--host='))) return runRemoteTraining(args);
    let parsed;
    try {
      parsed = parseArgs({
        args,
        options: {
          data: { type: 'string' },
          val: { type: 'string' },
          epochs: { type: 'string' },
          steps: { type: 'string' },
          batch: { type: 'string' },
          crop: { type: 'string' },
          lr: { type: 'string' },
          from: { type: 'string' },
          name: { type: 'string' },
          models: { type: 'string' },
          out: { type: 'string' },
          checkpoints: { type: 'string' },
          patience: { type: 'string' },
          diameter: { type: 'string' },
          seed: { type: 'string' },
        },
      });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const v = parsed.values;
    if (!v.data) throw new UsageError('--data DIR is required');
    if (!existsSync(v.data)) throw new UsageError(`--data ${v.data} does not exist`);
    const epochs = posInt('epochs', v.epochs, 10);
    const steps = posInt('steps', v.steps, 50);
    const batch = posInt('batch', v.batch, 8);
    const crop = posInt('crop', v.crop, 128);
    if (crop % 16 !== 0) throw new UsageError(`--crop must be a multiple of 16; got ${crop}`);
    const patience = v.patience === undefined ? undefined : posInt('patience', v.patience, 1);
    const seed = posInt('seed', v.seed, 1);
    const modelsRoot = resolve(v.models ?? join(repoRoot, 'models'));

    // Fine-tuning source: models/NAME[/V].
    let from: { dir: string; name: string } | undefined;
    if (v.from) {
      const [fromName, fromVersion] = v.from.split('/');
      if (!fromName) throw new UsageError(`--from must be NAME or NAME/VERSION; got '${v.from}'`);
      const versions = await versionsOf(join(modelsRoot, fromName));
      const version =
        fromVersion === undefined ? versions[versions.length - 1] : posInt('from', fromVersion, 1);
      if (version === undefined || !versions.includes(version)) {
        throw new UsageError(
          `--from ${v.from}: no such model version in ${modelsRoot} (versions: ${versions.join(', ') || 'none'})`,
        );
      }
      from = { dir: join(modelsRoot, fromName, String(version)), name: fromName };
    }
    const baseCard = from ? await readModelCard(from.dir) : undefined;
    const diameter = baseCard?.input.targetDiameterPx ?? posNumber('diameter', v.diameter, 14);
    const lr = posNumber('lr', v.lr, from ? 1e-4 : 1e-3);
    const name = v.name ?? from?.name ?? 'nuclear';
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(name))
      throw new UsageError(`--name must be letters, digits, - or _; got '${name}'`);

    const trainDir = existsSync(join(v.data, 'train')) ? join(v.data, 'train') : v.data;
    const valDir = v.val ?? (existsSync(join(v.data, 'val')) ? join(v.data, 'val') : undefined);
    const runtime = await initTfjs();
    const say = (line: string): void => {
      process.stdout.write(`${line}\n`);
    };
    say(`runtime ${runtime.source} (${runtime.backend})`);
    const train = await loadNucleiFolder(trainDir, { targetDiameterPx: diameter });
    const val = valDir
      ? await loadNucleiFolder(valDir, { targetDiameterPx: diameter, keepOriginal: true })
      : undefined;
    say(
      `data: ${train.length} training images from ${trainDir}${val ? `, ${val.length} validation images from ${valDir}` : ''}`,
    );

    const network: NetworkConfig = resolveNetworkConfig(baseCard?.network);
    const initialModel = from ? await loadModel(from.dir) : undefined;
    const started = Date.now();
    const result = await trainModel({
      train,
      ...(val ? { val } : {}),
      network,
      ...(initialModel ? { initialModel } : {}),
      epochs,
      stepsPerEpoch: steps,
      batchSize: batch,
      sampler: { cropSize: crop },
      lr: { peak: lr, warmupSteps: Math.min(200, Math.ceil((epochs * steps) / 10)) },
      seed,
      ...(v.checkpoints ? { checkpointDir: resolve(v.checkpoints) } : {}),
      ...(patience !== undefined ? { patience } : {}),
      onStep: (s) => {
        if (s.step % 10 === 0) {
          say(
            `  epoch ${s.epoch} step ${s.step}: loss ${s.loss.toFixed(4)} lr ${s.lr.toExponential(1)} ${s.samplesPerSecond.toFixed(1)} samples/s`,
          );
        }
      },
      onEpoch: (r, st) => {
        const valText =
          r.valF1 === undefined ? '' : ` val F1@0.5 ${r.valF1.toFixed(3)} DSB ${r.valDsb?.toFixed(3)}`;
        say(
          `epoch ${r.epoch}/${epochs}: train loss ${r.trainLoss.toFixed(4)}${valText} (best epoch ${st.bestEpoch}) ${r.seconds.toFixed(0)} s`,
        );
      },
    });

    let outDir = v.out ? resolve(v.out) : undefined;
    let version = 1;
    if (!outDir) {
      const existing = await versionsOf(join(modelsRoot, name));
      version = (existing[existing.length - 1] ?? 0) + 1;
      outDir = join(modelsRoot, name, String(version));
    }
    const best = result.state.history.find((h) => h.epoch === result.state.bestEpoch);
    const card = nuclearCard({
      name,
      version,
      network,
      params: result.model.countParams(),
      targetDiameterPx: diameter,
      training: {
        data: trainDir,
        images: train.length,
        epochs: result.state.epoch,
        steps: result.state.step,
        batchSize: batch,
        cropSize: crop,
        peakLearningRate: lr,
        seconds: Math.round((Date.now() - started) / 1000),
        runtime: runtime.source,
        stoppedBecause: result.stoppedBecause,
        ...(from ? { fineTunedFrom: from.dir } : {}),
      },
      ...(best?.valF1 !== undefined && val
        ? {
            validation: {
              data: valDir,
              images: val.length,
              epoch: best.epoch,
              f1_50: best.valF1,
              dsb: best.valDsb,
            },
          }
        : {}),
    });
    await saveModel(result.model, outDir, card);
    say(
      `wrote ${outDir} (${name} v${version}, best epoch ${result.state.bestEpoch}, stopped: ${result.stoppedBecause})`,
    );
    return 0;
  },
};

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { summarizeCard } from './model-summary.js';

/** The fields of the shipped nuclear card (models/nuclear/1/card.json, 2026-12) these summaries read. */
const shipped = {
  name: 'nuclear',
  version: 1,
  task: 'nuclear-segmentation',
  input: {
    channels: 1,
    normalization: { method: 'percentile', low: 1, high: 99.8 },
    targetDiameterPx: 14,
    mpp: 0.6429,
    typicalNucleusDiameterUm: 9,
    sizeMultiple: 16,
  },
  training: {
    data: 'shared/data/nuclei/train (383 DSB2018 fluorescence images, 11,999 nuclei)',
    runtime: '@tensorflow/tfjs-node',
    epochs: 23,
    bestEpoch: 11,
    seconds: 6345,
    finetunedFrom: { model: 'models/nuclear/1', epochs: 19 },
  },
  validation: {
    data: 'shared/data/nuclei/val (68 DSB2018 fluorescence images, 1,920 nuclei)',
    f1_50: 0.8809,
    precision_50: 0.933,
    recall_50: 0.8344,
    dsb: 0.6005,
    images: 68,
    note: 'card.postprocess was chosen on this same val set',
  },
  robustness: { what: 'val images upscaled 2x', f1_50: 0.8764, dsb: 0.5756 },
};

/** A card as a kiosk training writes it (workers/training/processor.ts). */
const trained = {
  name: 'mylab',
  version: 2,
  task: 'nuclear-segmentation',
  input: {
    channels: 1,
    normalization: { method: 'percentile', low: 1, high: 99.8 },
    targetDiameterPx: 14,
    mpp: 0.5,
    typicalNucleusDiameterUm: 7,
  },
  parentModel: { name: 'nuclear', version: 1 },
  training: {
    job: 't-1',
    data: {
      trainPairs: 3,
      valPairs: 1,
      trainObjects: 120,
      valObjects: 40,
      sizes: ['256x256'],
      micronsPerPixel: 0.5,
    },
    parameters: { epochs: 10, stepsPerEpoch: 50 },
    epochsRun: 10,
    bestEpoch: 7,
    seconds: 600,
  },
  validation: { images: 1, epoch: 7, f1_50: 0.812, dsb: 0.55 },
};

describe('summarizeCard (issue 23 #5: what a biologist needs, not the raw card)', () => {
  it('says what the shipped model segments, its input, pixel size, accuracy in words and numbers, data and origin', () => {
    const s = summarizeCard(shipped);
    expect(s.segments).toMatch(/^Cell nuclei in 2D images of a nuclear stain/);
    expect(s.input).toBe(
      'One channel (the nuclear stain); a multi-channel image needs its nuclear channel chosen. Any bit depth: each image is scaled on its own (its 1st to 99.8th percentile of brightness).',
    );
    expect(s.pixelSize).toBe(
      "Trained at 0.643 µm per pixel (a nucleus about 9 µm across is 14 px there). Give your images' pixel size when you segment and they are rescaled to match.",
    );
    expect(s.accuracy!.words).toBe(
      'On 68 validation images it was not trained on, it found 83 % of the nuclei, and 93 % of the objects it drew were nuclei (a match: overlap IoU ≥ 0.5).',
    );
    expect(s.accuracy!.numbers).toEqual([
      'F1 @ IoU 0.5: 0.881',
      'precision: 0.933',
      'recall: 0.834',
      'DSB score: 0.601 (stricter: matches averaged over IoU 0.5 to 0.95)',
      '68 images',
    ]);
    expect(s.accuracy!.notes).toEqual([
      'Validation data: shared/data/nuclei/val (68 DSB2018 fluorescence images, 1,920 nuclei).',
      'The card adds a caveat on how these figures were measured (validation.note in the full card).',
      'Also checked on val images upscaled 2x: F1 0.876, DSB 0.576.',
    ]);
    expect(s.trainingData).toBe(shipped.training.data);
    expect(s.training).toBe(
      '23 epochs, epoch 11 kept (the best on validation), 106 min of training, on @tensorflow/tfjs-node.',
    );
    expect(s.parent).toBe('nuclear v1');
  });

  it('reads a kiosk-trained card: pairs and nuclei, its pixel size, F1 only in words, its parent', () => {
    const s = summarizeCard(trained);
    expect(s.trainingData).toBe(
      '3 image pairs (image + labels) with 120 nuclei, 1 pair for validation, at 0.5 µm per pixel.',
    );
    expect(s.accuracy!.words).toMatch(
      /^On 1 validation image it was not trained on, F1 was 0\.812 at overlap IoU ≥ 0\.5/,
    );
    expect(s.accuracy!.notes).toEqual(['Measured at training epoch 7, the one saved as this model.']);
    expect(s.training).toBe('10 epochs, epoch 7 kept (the best on validation), 10 min of training.');
    expect(s.parent).toBe('nuclear v1');
  });

  it('invents nothing for a card without those fields', () => {
    expect(summarizeCard({})).toEqual({ segments: 'Not stated on the card.' });
    expect(summarizeCard({ task: 'cells' })).toEqual({ segments: 'Task: cells.' });
  });

  const real = join(process.cwd(), 'models', 'nuclear', '1', 'card.json');
  it.skipIf(!existsSync(real))('covers every part for the card in models/nuclear/1', () => {
    const s = summarizeCard(JSON.parse(readFileSync(real, 'utf8')) as Record<string, unknown>);
    for (const k of ['segments', 'input', 'pixelSize', 'accuracy', 'trainingData', 'training'] as const)
      expect(s[k], k).toBeDefined();
  });
});

/** Renders a nuclear model card (card.json) as the human-readable card.md shipped beside it. */
import type { ModelCard } from '../workers/model/model-io.js';

type Rec = Record<string, unknown>;

const num = (v: unknown, digits = 3): string => (typeof v === 'number' ? v.toFixed(digits) : '–');

/** The int8 copy's record (workers/model/quantize-card.ts): file, calibration, and its accuracy gate. */
function int8Section(q: Rec): string[] {
  const cal = (q.calibration ?? {}) as Rec;
  const val = (q.validation ?? {}) as Rec;
  const [f, i, g] = [(val.float ?? {}) as Rec, (val.int8 ?? {}) as Rec, (val.gate ?? {}) as Rec];
  return [
    '## int8 copy (CPU)',
    '',
    `- \`${String(q.file)}\` (${typeof q.bytes === 'number' ? `${(q.bytes / 1e6).toFixed(1)} MB` : '–'}): ${String(q.format ?? '')}`,
    `- calibration: ${String(cal.method ?? '–')} ranges over ${String(cal.tiles ?? '–')} tiles of ${String(cal.images ?? '–')} images (${String(cal.data ?? '–')}), ${String(cal.weightBits ?? '–')}-bit weights`,
    `- ${String(val.data ?? 'val')} through ${String(val.pipeline ?? 'the real pipeline')}: float F1@0.5 ${num(f.f1_50, 4)} / DSB ${num(f.dsb, 4)}, int8 F1@0.5 ${num(i.f1_50, 4)} / DSB ${num(i.dsb, 4)}; gate −${num(g.f1_50)} / −${num(g.dsb, 2)}: ${val.passed === true ? '**passed**, served where faster (KIOSK_INT8=auto)' : '**not passed**, not served'}`,
    '',
  ];
}

export function renderCardMarkdown(card: ModelCard): string {
  const t = (card.training ?? {}) as Rec;
  const v = (card.validation ?? {}) as Rec;
  const i = card.input;
  const history = (Array.isArray(t.history) ? t.history : []) as Rec[];
  const f = t.finetunedFrom as Rec | undefined;
  const lines = [
    `# ${card.name} v${card.version} — nuclear segmentation (fluorescence, 2D)`,
    '',
    'A U-Net with three heads (inner distance, outer distance, foreground/background) in the style of',
    "DeepCell's NuclearSegmentation; deep watershed turns its maps into one label per nucleus.",
    '',
    '## Input contract',
    '',
    `- tensor \`[B, H, W, ${i.channels}]\` float32 (NHWC); H and W multiples of ${i.sizeMultiple}`,
    `- each image normalized on its own: \`(x - p${i.normalization.low}) / (p${i.normalization.high} - p${i.normalization.low})\`, not clipped`,
    `- nuclei rescaled to a median diameter of **${i.targetDiameterPx} px** (\`targetDiameterPx\`); with a known pixel`,
    `  size, rescale by \`inputMpp / ${i.mpp}\` (\`mpp\` = ${i.typicalNucleusDiameterUm} µm typical nucleus / ${i.targetDiameterPx} px);`,
    '  without it, `kiosk segment` measures the nuclei in a first pass and rescales',
    `- outputs: ${card.outputs.map((o) => `\`${o}\``).join(', ')} (inner/outer linear, fgbg 2-channel softmax [bg, fg])`,
    '',
    '## Network',
    '',
    `- ${JSON.stringify(card.network)}`,
    `- ${card.params.toLocaleString('en-US')} parameters`,
    `- post-processing: ${JSON.stringify(card.postprocess ?? 'pipeline defaults')}`,
    '',
    '## Training',
    '',
    `- data: ${String(t.data ?? '–')}`,
    `- selection: ${String(t.selectedOn ?? '–')}`,
    `- runtime: ${String(t.runtime ?? '–')} on a shared 2-core CPU machine`,
    `- ${String(t.epochs ?? '–')} epochs, ${String(t.steps ?? '–')} steps of ${String(t.batchSize ?? '–')} crops of ${String(t.cropSize ?? '–')} px` +
      ` (${String(t.samples ?? '–')} samples) in ${String(t.seconds ?? '–')} s (${String(t.samplesPerSecond ?? '–')} samples/s)`,
    `- optimizer: ${String(t.optimizer ?? '–')}`,
    ...(f
      ? [
          `- fine-tuned from ${String(f.model ?? '–')}, itself trained ${String(f.epochs ?? '–')} epochs, ` +
            `${String(f.steps ?? '–')} steps of ${String(f.batchSize ?? '–')} crops of ${String(f.cropSize ?? '–')} px ` +
            `(${String(f.samples ?? '–')} samples) in ${String(f.seconds ?? '–')} s (${String(f.optimizer ?? '–')}; ` +
            `best epoch ${String(f.bestEpoch ?? '–')}); both runs together: ${String(t.totalSamples ?? '–')} samples ` +
            `in ${String(t.totalSeconds ?? '–')} s; the table below is the fine-tune`,
        ]
      : []),
    `- loss: ${String(t.loss ?? '–')}`,
    `- augmentation: ${String(t.augmentation ?? '–')}`,
    '',
    '| epoch | step | train loss | val F1@0.5 | val DSB |',
    '|---|---|---|---|---|',
    ...history.map(
      (h) =>
        `| ${String(h.epoch)} | ${String(h.step)} | ${num(h.trainLoss, 4)} | ${num(h.valF1)} | ${num(h.valDsb)} |`,
    ),
    '',
    'Per-epoch validation figures above are at the oracle scale (each image rescaled by its true median',
    'nucleus diameter) with the training-time post-processing; the figures below are the real pipeline.',
    '',
    '## Validation (real pipeline)',
    '',
    `- data: ${String(v.data ?? '–')}`,
    `- pipeline: ${String(v.pipeline ?? '–')}`,
    `- **F1@0.5 ${num(v.f1_50)}** (pooled over images; mean per image ${num(v.f1_50MeanPerImage)}), precision ${num(v.precision_50)}, recall ${num(v.recall_50)}`,
    `- **DSB score ${num(v.dsb)}** (mean per image of the mean over IoU 0.5..0.95 of TP/(TP+FP+FN); pooled ${num(v.dsbPooled)})`,
    ...(v.note ? [`- note: ${String(v.note)}`] : []),
    '',
    ...(card.robustness
      ? [
          '## Robustness (real pipeline)',
          '',
          `- ${String((card.robustness as Rec).what)}: F1@0.5 ${num((card.robustness as Rec).f1_50)}, DSB ${num((card.robustness as Rec).dsb)} (original: F1@0.5 ${num((card.robustness as Rec).f1_50Original)})`,
          '',
        ]
      : []),
    ...(card.int8 ? int8Section(card.int8 as Rec) : []),
    '## Limits',
    '',
    '- trained on DSB2018 fluorescence nuclei only (no brightfield/H&E); val checks in-distribution only',
    '- DSB annotations miss some dim nuclei, so measured precision is a little low',
    '- license of the data: CC0 (BBBC038v1, Caicedo et al., Nat. Methods 2019)',
    '',
  ];
  return lines.join('\n');
}

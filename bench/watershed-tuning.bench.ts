/**
 * Chooses the deep-watershed settings of a nuclear model (not a speed bench: it prints pooled F1@0.5 and
 * DSB per setting tried) on the selection split of train — every KIOSK_TUNE_EVERY-th (default 10th) image of
 * shared/data/nuclei/train by sorted name, the split scripts/train-nuclear.ts --select-every holds out of
 * training — so the val set stays unseen for the model card. KIOSK_TUNE_ON=val tunes on val instead (how v1
 * was tuned). The network runs once per image (with the pipeline's
 * autoscale: a second pass when nuclei are far from the card's target diameter); then each setting re-runs
 * only postprocess on the cached maps. Coordinate descent over one option at a time, two rounds.
 * Env: NUCLEAR_MODEL_DIR (default models/nuclear/<latest>); KIOSK_TUNE_FROM_CARD=1 adds a third descent that
 * starts from the card's own postprocess (mask and interior threshold included; for fg the interior candidates
 * then reach 0.85), so a tuned card is compared with what it already had; KIOSK_TUNE_OUT=FILE writes the best
 * settings and their scores as JSON (to put into a card's postprocess).
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readImageFile, readLabelsFile } from '../workers/image/files.js';
import { poolScores, scoreImage } from '../workers/image/metrics.js';
import type { Labels } from '../workers/image/types.js';
import { readModelCard } from '../workers/model/model-io.js';
import { loadRunner, type HeadMaps } from '../workers/model/runners.js';
import type { PostprocessSettings } from '../workers/pipeline/options.js';
import { postprocess, watershedOptions, type TileGrid } from '../workers/pipeline/postprocess.js';
import { predictTiles } from '../workers/pipeline/predict.js';
import { prepareImage, selectImages, type ImageMeta } from '../workers/pipeline/preprocess.js';
import { rescaleForDiameter } from '../workers/pipeline/scale.js';
import { NUCLEI_TRAIN, NUCLEI_VAL } from '../test/data.js';

const TUNE_ON = process.env.KIOSK_TUNE_ON ?? 'select';
const TUNE_EVERY = Number(process.env.KIOSK_TUNE_EVERY ?? '10');
if (TUNE_ON !== 'select' && TUNE_ON !== 'val')
  throw new Error(`KIOSK_TUNE_ON must be select or val; got '${TUNE_ON}'`);
if (!Number.isInteger(TUNE_EVERY) || TUNE_EVERY < 2)
  throw new Error(`KIOSK_TUNE_EVERY must be an integer >= 2; got '${process.env.KIOSK_TUNE_EVERY}'`);
const VAL = TUNE_ON === 'val' ? NUCLEI_VAL : NUCLEI_TRAIN;
const FROM_CARD = process.env.KIOSK_TUNE_FROM_CARD === '1';
const TUNE_OUT = process.env.KIOSK_TUNE_OUT;

interface Cached {
  readonly truth: Labels;
  readonly maps: HeadMaps;
  readonly grid: TileGrid;
  readonly meta: ImageMeta;
}

async function main(): Promise<void> {
  const latest = existsSync('models/nuclear')
    ? readdirSync('models/nuclear')
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(a) - Number(b))
        .pop()
    : undefined;
  const modelDir = process.env.NUCLEAR_MODEL_DIR ?? (latest && join('models/nuclear', latest));
  if (!modelDir) throw new Error('no model: set NUCLEAR_MODEL_DIR or commit models/nuclear/<v>');
  const card = await readModelCard(modelDir);
  const runner = await loadRunner(modelDir, { runtime: 'onnx', threads: 2 });
  const base = watershedOptions({ card });
  console.log(`model ${modelDir}; starting from ${JSON.stringify(base)}`);

  const files = readdirSync(VAL)
    .filter((f) => f.endsWith('.image.png'))
    .sort()
    .filter((_, i) => TUNE_ON === 'val' || i % TUNE_EVERY === 0);
  console.log(
    `tuning on ${files.length} images: ${TUNE_ON === 'val' ? VAL : `every ${TUNE_EVERY}th of ${VAL}`}`,
  );
  const cache: Cached[] = [];
  let rescaled = 0;
  const t0 = performance.now();
  for (const f of files) {
    const [image] = selectImages(await readImageFile(join(VAL, f)), card);
    const truth = await readLabelsFile(join(VAL, f.replace('.image.png', '.labels.png')));
    let scale = 1;
    for (let pass = 1; pass <= 2; pass++) {
      const p = prepareImage(image!, card, scale);
      const [maps] = await predictTiles(runner, [p.tiles]);
      const { tiles: _pixels, ...grid } = p.tiles;
      const labels = postprocess(maps!, grid, p.meta, { card });
      const next = pass === 1 ? rescaleForDiameter(labels, scale, card.input.targetDiameterPx) : undefined;
      if (next === undefined) {
        cache.push({ truth, maps: maps!, grid, meta: p.meta });
        break;
      }
      rescaled++;
      scale = next;
    }
  }
  console.log(
    `${files.length} val images predicted in ${((performance.now() - t0) / 1000).toFixed(1)} s (${rescaled} rescaled by autoscale)`,
  );

  const evaluate = (opts: PostprocessSettings): { f1: number; dsb: number } => {
    const scores = cache.map((c) =>
      scoreImage(postprocess(c.maps, c.grid, c.meta, { watershed: opts }), c.truth),
    );
    const pooled = poolScores(scores);
    return { f1: pooled.f1_50, dsb: pooled.meanPerImage.dsb };
  };
  const grid: Record<string, readonly (number | string)[]> = {
    resolution: ['original', 'model'],
    radius: [2, 3, 4, 5, 6, 8],
    maximaThreshold: [0.05, 0.1, 0.2, 0.3, 0.4],
    maximaSmooth: [0, 1, 2],
    interiorSmooth: [0, 1, 2],
    smallObjectsThreshold: [0, 5, 10, 20, 40],
    fillHolesThreshold: [0, 10, 30],
  };
  const interior = { fg: [0.3, 0.4, 0.5, 0.6, 0.7], outer: [0.02, 0.05, 0.1, 0.2, 0.3] };
  let best: PostprocessSettings = base;
  let bestScore = { f1: -1, dsb: -1 };
  // One descent per mask source (their interior thresholds live on different scales); with FROM_CARD one
  // more from the card's own settings.
  const starts: { name: string; from: PostprocessSettings; interior: readonly number[] }[] = [
    { name: 'fg', from: { ...base, mask: 'fg', interiorThreshold: 0.5 }, interior: interior.fg },
    { name: 'outer', from: { ...base, mask: 'outer', interiorThreshold: 0.05 }, interior: interior.outer },
  ];
  if (FROM_CARD) {
    const mask = base.mask === 'outer' ? 'outer' : 'fg';
    const extra = mask === 'fg' ? [0.75, 0.8, 0.85] : [];
    starts.push({ name: `card(${mask})`, from: base, interior: [...interior[mask], ...extra] });
  }
  for (const { name: mask, from, interior: interiorValues } of starts) {
    let cur: PostprocessSettings = from;
    let curScore = evaluate(cur);
    console.log(`mask ${mask} start: F1@0.5 ${curScore.f1.toFixed(4)}, DSB ${curScore.dsb.toFixed(4)}`);
    for (let round = 1; round <= 2; round++) {
      for (const [key, values] of [...Object.entries(grid), ['interiorThreshold', interiorValues] as const]) {
        for (const value of values) {
          if (cur[key as keyof PostprocessSettings] === value) continue;
          const trial = { ...cur, [key]: value };
          const s = evaluate(trial);
          const better = s.f1 + s.dsb > curScore.f1 + curScore.dsb + 1e-6;
          console.log(
            `mask ${mask} round ${round} ${key}=${value}: F1@0.5 ${s.f1.toFixed(4)}, DSB ${s.dsb.toFixed(4)}${better ? ' *' : ''}`,
          );
          if (better) {
            cur = trial;
            curScore = s;
          }
        }
      }
    }
    if (curScore.f1 + curScore.dsb > bestScore.f1 + bestScore.dsb) {
      best = cur;
      bestScore = curScore;
    }
  }
  console.log(
    `best: ${JSON.stringify(best)} → F1@0.5 ${bestScore.f1.toFixed(4)}, DSB ${bestScore.dsb.toFixed(4)}`,
  );
  if (TUNE_OUT) {
    const on = TUNE_ON === 'val' ? VAL : `every ${TUNE_EVERY}th of ${VAL} by sorted name`;
    const out = { model: modelDir, tunedOn: on, images: files.length, settings: best, ...bestScore };
    writeFileSync(TUNE_OUT, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`wrote ${TUNE_OUT}`);
  }
  await runner.dispose();
}

await main();

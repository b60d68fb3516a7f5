/**
 * Deep watershed on a 1024 x 1024 scene of ~500 disks (inner/outer distance maps built from the disks),
 * against the equivalent scikit-image pipeline (bench/watershed_skimage.py) on the same maps, in one run.
 * Prints our median, skimage's median (compute only, no I/O), the ratio, a per-stage breakdown of ours,
 * and how well the two label images agree. Run: npm run bench watershed
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gaussianFilter } from '../workers/image/gaussian-filter.js';
import { connectedComponents, countObjects, relabelSequential } from '../workers/image/labels.js';
import { scoreImage } from '../workers/image/metrics.js';
import { peakLocalMax } from '../workers/image/peaks.js';
import { diskDistanceMaps, randomDisks } from '../workers/image/synthetic-nuclei.js';
import { deepWatershed, watershed } from '../workers/image/watershed.js';

const H = 1024;
const W = 1024;
const RUNS = 9;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
function time<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const r = f();
  return [r, performance.now() - t0];
}
/** Process CPU time (user + system) of f, in ms: less sensitive than wall time to other load. */
function cpuTime<T>(f: () => T): [T, number] {
  const c0 = process.cpuUsage();
  const r = f();
  const d = process.cpuUsage(c0);
  return [r, (d.user + d.system) / 1000];
}

const loadBefore = loadavg();
const disks = randomDisks(520, H, W, { minR: 10, maxR: 18, spacing: 0.9, seed: 7 });
const maps = diskDistanceMaps(disks, H, W);
const input = { inner: maps.inner, outer: maps.outer };

// Ours: 2 warm-up runs, then RUNS timed runs.
let labels = deepWatershed(input);
deepWatershed(input);
const ours: number[] = [];
const oursCpu: number[] = [];
for (let k = 0; k < RUNS; k++) {
  const c0 = process.cpuUsage();
  const [l, ms] = time(() => deepWatershed(input));
  const d = process.cpuUsage(c0);
  labels = l;
  ours.push(ms);
  oursCpu.push((d.user + d.system) / 1000);
}

// Per-stage breakdown (same defaults as deepWatershed: radius 10, threshold 0.1, interiorSmooth 1).
const stages: Record<string, number[]> = { peaks: [], gaussian: [], markers: [], watershed: [], relabel: [] };
for (let k = 0; k < RUNS; k++) {
  const [seeds, tPeaks] = cpuTime(() => peakLocalMax(maps.inner, { minDistance: 10, thresholdAbs: 0.1 }));
  const [smooth, tGauss] = cpuTime(() => gaussianFilter(maps.outer, 1));
  const [markers, tMarkers] = cpuTime(() => {
    const m = new Uint8Array(H * W);
    for (const i of seeds) m[i] = 1;
    return connectedComponents(m, H, W, 2);
  });
  const mask = Uint8Array.from(smooth.data, (v) => (v > 0.01 ? 1 : 0));
  const surface = { data: smooth.data.map((v) => -v), height: H, width: W };
  const [flooded, tWs] = cpuTime(() => watershed(surface, markers, mask));
  const [, tRelabel] = cpuTime(() => relabelSequential(flooded));
  stages.peaks!.push(tPeaks);
  stages.gaussian!.push(tGauss);
  stages.markers!.push(tMarkers);
  stages.watershed!.push(tWs);
  stages.relabel!.push(tRelabel);
}

// skimage on the same maps, in a child process.
const dir = mkdtempSync(join(tmpdir(), 'bench-watershed-'));
writeFileSync(join(dir, 'inner.f32'), maps.inner.data);
writeFileSync(join(dir, 'outer.f32'), maps.outer.data);
const py = spawnSync(
  '/usr/bin/python3',
  ['bench/watershed_skimage.py', dir, String(H), String(W), String(RUNS)],
  {
    encoding: 'utf8',
  },
);
const oursMs = median(ours);
const oursCpuMs = median(oursCpu);
console.log(
  `load average at start: ${loadBefore.map((x) => x.toFixed(2)).join(' ')} on ${cpus().length} cores`,
);
console.log(
  `scene: ${H}x${W}, ${disks.length} disks (radius 10-18 px), ${countObjects(maps.labels)} truth objects`,
);
console.log(
  `cellkiosk deepWatershed: median ${oursMs.toFixed(1)} ms wall, ${oursCpuMs.toFixed(1)} ms CPU over ${RUNS} runs, ` +
    `${countObjects(labels)} objects`,
);
console.log(
  `  stages (median CPU ms): ${Object.entries(stages)
    .map(([k, v]) => `${k} ${median(v).toFixed(1)}`)
    .join(', ')}`,
);
const vsTruth = scoreImage(labels, maps.labels);
console.log(`  vs the disks: F1@0.5 ${vsTruth.f1_50.toFixed(4)}, DSB ${vsTruth.dsb.toFixed(4)}`);
const m = /skimage_ms_median=([\d.]+) cpu_ms_median=([\d.]+) runs=(\d+) objects=(\d+)/.exec(py.stdout ?? '');
if (py.status !== 0 || !m) {
  console.log(
    `skimage: not run (${(py.stderr || py.error?.message || 'no output').trim().split('\n').pop()})`,
  );
} else {
  const skMs = Number(m[1]);
  const skCpuMs = Number(m[2]);
  console.log(
    `skimage pipeline: median ${skMs.toFixed(1)} ms wall, ${skCpuMs.toFixed(1)} ms CPU over ${m[3]} runs, ${m[4]} objects`,
  );
  console.log(
    `ratio cellkiosk / skimage: ${(oursMs / skMs).toFixed(2)} wall, ${(oursCpuMs / skCpuMs).toFixed(2)} CPU ` +
      `(below 1 = faster than skimage)`,
  );
  const sk = new Uint32Array(readFileSync(join(dir, 'skimage.u32')).buffer.slice(0));
  const skLabels = { data: sk, height: H, width: W };
  let same = 0;
  let identical = 0;
  for (let i = 0; i < sk.length; i++) {
    if ((sk[i] === 0) === (labels.data[i] === 0)) same++;
    if (sk[i] === labels.data[i]) identical++;
  }
  const agree = scoreImage(labels, skLabels);
  console.log(
    `  agreement with skimage: F1@0.5 ${agree.f1_50.toFixed(4)}, DSB ${agree.dsb.toFixed(4)}, ` +
      `same fg/bg on ${((100 * same) / sk.length).toFixed(3)}% of pixels, ` +
      `same label id on ${((100 * identical) / sk.length).toFixed(3)}%`,
  );
}
rmSync(dir, { recursive: true, force: true });

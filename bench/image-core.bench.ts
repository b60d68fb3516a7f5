// Pre/post-processing speed on one 2048x2048 single-channel 16-bit-valued image: tile + untile (tileSize 512
// and 256, overlap 64), percentile normalization, CLAHE, and bilinear resize 2048→1024 and 2048→4096.
// Prints the median of several runs in ms (after one warm-up run), plus the untile round-trip error.
// Run: npm run bench image-core
import os from 'node:os';
import { histogramNormalize, percentileNormalize } from '../workers/image/normalize.js';
import { resizeBilinear } from '../workers/image/resize.js';
import { tileImage, untile } from '../workers/image/tiling.js';
import type { Image } from '../workers/image/types.js';

const SIZE = 2048;
const RUNS = 7;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/**
 * Runs fn once to warm up, then `runs` times; prints the median wall time and the median CPU time of this
 * process (user + system), which is less distorted when other jobs share the machine's cores.
 */
function time<T>(label: string, fn: () => T, runs = RUNS): T {
  let result = fn();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    result = fn();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const ms = (x: number): string => `${x.toFixed(1)} ms`;
  console.log(
    `${label.padEnd(40)} median ${ms(median(wall)).padStart(9)}  (min ${ms(Math.min(...wall))}, cpu median ` +
      `${ms(median(cpu))}, ${runs} runs)`,
  );
  return result;
}

// A microscopy-like scene: smooth background, bright blobs, noise; integer values in [0, 65535].
let seed = 12345;
const rand = (): number => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const data = new Float32Array(SIZE * SIZE);
for (let y = 0; y < SIZE; y++) {
  for (let x = 0; x < SIZE; x++) {
    const blob = Math.max(0, 1 - (((x % 40) - 20) ** 2 + ((y % 40) - 20) ** 2) / 100);
    data[y * SIZE + x] = Math.round(2000 + 1000 * Math.sin(x / 300) + 30000 * blob + 500 * rand());
  }
}
const image: Image = { data, height: SIZE, width: SIZE, channels: 1 };
console.log(
  `image ${SIZE}x${SIZE}x1 float32, node ${process.version}, load average ${os.loadavg()[0]?.toFixed(1)}`,
);

for (const tileSize of [512, 256]) {
  const opts = { tileSize, overlap: 64 };
  const set = time(`tileImage tile ${tileSize} overlap 64`, () => tileImage(image, opts));
  const merged = time(`untile ${set.count} tiles (hann)`, () => untile(set.tiles, set, 1));
  time(`tile + untile, tile ${tileSize}`, () => {
    const s = tileImage(image, opts);
    return untile(s.tiles, s, 1);
  });
  let err = 0;
  for (let i = 0; i < merged.length; i++)
    err = Math.max(err, Math.abs((merged[i] as number) - (data[i] as number)));
  console.log(`  round-trip max |error| ${err} (values up to 65535)`);
}
time('percentileNormalize (1, 99.8)', () => percentileNormalize(image));
time('histogramNormalize (CLAHE, defaults)', () => histogramNormalize(image), 3);
time('resizeBilinear 2048→1024', () => resizeBilinear(image, 1024, 1024));
time('resizeBilinear 2048→4096', () => resizeBilinear(image, 4096, 4096));
time('resizeBilinear 2048→682 (area, 3x)', () => resizeBilinear(image, 682, 682));

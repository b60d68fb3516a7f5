/**
 * TIFF decode speed: a 2048x2048 uint16 image (smooth blobs + noise, like a fluorescence field), written
 * uncompressed and Deflate by our encoder, and LZW (plain and predictor 2) plus tiled Deflate by libtiff's
 * tiffcp when it is installed. Prints the median wall-clock ms per decode over several runs and MB/s of
 * decoded pixels, plus the median CPU ms of this process (steadier than wall time on a shared machine).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeTiff } from '../workers/image/tiff-read.js';
import { encodeTiff } from '../workers/image/tiff-write.js';

const SIZE = 2048;
const RUNS = 9;

function fieldImage(): Uint16Array {
  const data = new Uint16Array(SIZE * SIZE);
  let seed = 12345;
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const blob = Math.max(0, Math.sin(x / 37) * Math.cos(y / 29)) * 3000;
      data[y * SIZE + x] = 200 + blob + (seed >>> 24);
    }
  }
  return data;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const pixels = fieldImage();
const raw = { data: pixels, dtype: 'uint16' as const, shape: [SIZE, SIZE], axes: 'YX' };
const files: [string, Uint8Array][] = [
  ['uncompressed (ours)', encodeTiff(raw)],
  ['deflate (ours)', encodeTiff(raw, { compression: 'deflate' })],
];
const dir = mkdtempSync(join(tmpdir(), 'tiff-bench-'));
try {
  const src = join(dir, 'src.tif');
  writeFileSync(src, files[0]![1]);
  for (const [label, args] of [
    ['LZW (tiffcp)', ['-c', 'lzw']],
    ['LZW + predictor 2 (tiffcp)', ['-c', 'lzw:2']],
    ['deflate + predictor 2, 256x256 tiles (tiffcp)', ['-c', 'zip:2', '-t', '-w', '256', '-l', '256']],
  ] as const) {
    const out = join(dir, 'out.tif');
    const r = spawnSync('tiffcp', [...args, src, out]);
    if (r.status === 0) files.push([label, new Uint8Array(readFileSync(out))]);
    else console.log(`${label}: skipped (tiffcp not available)`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const mb = (SIZE * SIZE * 2) / 1e6;
console.log(
  `decodeTiff, ${SIZE}x${SIZE} uint16 (${mb.toFixed(1)} MB decoded), median of ${RUNS} runs, node ${process.version}`,
);
for (const [label, bytes] of files) {
  const back = decodeTiff(bytes);
  for (let i = 0; i < pixels.length; i++) {
    if (back.data[i] !== pixels[i])
      throw new Error(`${label}: pixel ${i} decoded as ${back.data[i]}, wrote ${pixels[i]}`);
  }
  const times: number[] = [];
  const cpuTimes: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    decodeTiff(bytes);
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpuTimes.push((c.user + c.system) / 1000);
  }
  const ms = median(times);
  const cpuMs = median(cpuTimes);
  console.log(
    `${label.padEnd(48)} file ${(bytes.length / 1e6).toFixed(2).padStart(5)} MB  ` +
      `${ms.toFixed(1).padStart(7)} ms/decode  ${(mb / (ms / 1000)).toFixed(0).padStart(5)} MB/s  ` +
      `(cpu ${cpuMs.toFixed(1)} ms, ${(mb / (cpuMs / 1000)).toFixed(0)} MB/s)`,
  );
}

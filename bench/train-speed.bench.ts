/**
 * Training speed of the nuclear U-Net (workers/model/network.ts, default config) on 256x256 single-channel
 * crops: wasm with our gradient kernels vs the pure-JS cpu backend in the same process, plus forward time
 * per 512x512 tile on each. The cpu part runs few steps (it is slow). Prints plain text lines.
 * Env: BENCH_BATCH (default 4), BENCH_WASM_STEPS (default 4), BENCH_CPU_STEPS (default 1).
 */
import * as tf from '@tensorflow/tfjs-core';
import { cpus } from 'node:os';
import { buildNetwork, countParams } from '../workers/model/network.js';
import { initTfjs } from '../workers/model/runtime.js';

const batch = Number(process.env['BENCH_BATCH'] ?? 4);
const wasmSteps = Number(process.env['BENCH_WASM_STEPS'] ?? 4);
const cpuSteps = Number(process.env['BENCH_CPU_STEPS'] ?? 1);

/** MSE on inner/outer + softmax cross-entropy on fgbg, on synthetic targets of the right shapes. */
function loss(outputs: tf.Tensor[], targets: tf.Tensor[]): tf.Scalar {
  const [inner, outer, fgbg] = outputs as [tf.Tensor, tf.Tensor, tf.Tensor];
  const [tInner, tOuter, tFg] = targets as [tf.Tensor, tf.Tensor, tf.Tensor];
  const ce = tf.neg(tf.mean(tf.sum(tf.mul(tFg, tf.log(tf.add(fgbg, 1e-6))), -1)));
  return tf.addN([
    tf.mean(tf.squaredDifference(inner, tInner)),
    tf.mean(tf.squaredDifference(outer, tOuter)),
    ce,
  ]) as tf.Scalar;
}

async function trainSpeed(
  prefer: 'wasm' | 'cpu',
  steps: number,
): Promise<{ samplesPerS: number; stepMs: number[]; losses: number[] }> {
  const info = await initTfjs({ prefer });
  tf.randomUniform([1]).dispose(); // touch the backend
  const model = buildNetwork();
  const opt = tf.train.adam(1e-3);
  const x = tf.randomUniform([batch, 256, 256, 1]);
  const fg = tf.cast(tf.greater(x, 0.5), 'float32');
  const targets = [tf.mul(x, 0.5), tf.mul(x, 0.3), tf.concat([tf.sub(1, fg), fg], -1)];
  const stepMs: number[] = [];
  const losses: number[] = [];
  const warmup = prefer === 'wasm' ? 1 : 0;
  for (let s = 0; s < steps + warmup; s++) {
    const t0 = performance.now();
    const cost = opt.minimize(() => loss(model.apply(x, { training: true }) as tf.Tensor[], targets), true);
    losses.push((await cost!.data())[0]!);
    cost!.dispose();
    if (s >= warmup) stepMs.push(performance.now() - t0);
  }
  const mean = stepMs.reduce((a, b) => a + b, 0) / stepMs.length;
  console.log(
    `train ${info.backend} (threads ${info.threads ?? '?'}): batch ${batch} 256x256, ${steps} timed steps, ` +
      `step ms ${stepMs.map((m) => m.toFixed(0)).join(' ')} → ${((batch * 1000) / mean).toFixed(3)} samples/s; ` +
      `losses ${losses.map((l) => l.toFixed(4)).join(' ')}`,
  );
  tf.dispose([x, fg, ...targets]);
  opt.dispose();
  model.dispose();
  return { samplesPerS: (batch * 1000) / mean, stepMs, losses };
}

async function forwardMs(prefer: 'wasm' | 'cpu', runs: number): Promise<number> {
  await initTfjs({ prefer });
  const model = buildNetwork();
  const x = tf.randomUniform([1, 512, 512, 1]);
  const times: number[] = [];
  for (let r = 0; r < runs + (prefer === 'wasm' ? 1 : 0); r++) {
    const t0 = performance.now();
    const outs = model.predict(x) as tf.Tensor[];
    await Promise.all(outs.map((o) => o.data()));
    tf.dispose(outs);
    times.push(performance.now() - t0);
  }
  const timed = prefer === 'wasm' ? times.slice(1) : times;
  const median = [...timed].sort((a, b) => a - b)[Math.floor(timed.length / 2)]!;
  console.log(
    `forward ${prefer} 512x512 tile: ms ${timed.map((t) => t.toFixed(0)).join(' ')} (median ${median.toFixed(0)})`,
  );
  x.dispose();
  model.dispose();
  return median;
}

await initTfjs({ prefer: 'wasm' });
const probe = buildNetwork();
console.log(
  `network: buildNetwork() defaults, ${countParams(probe)} params; machine: ${cpus().length} cores (shared)`,
);
probe.dispose();
const wasm = await trainSpeed('wasm', wasmSteps);
const cpu = await trainSpeed('cpu', cpuSteps);
console.log(`train speed-up wasm/cpu: ${(wasm.samplesPerS / cpu.samplesPerS).toFixed(1)}x`);
const fw = await forwardMs('wasm', 3);
const fc = await forwardMs('cpu', 1);
console.log(`forward speed-up wasm/cpu: ${(fc / fw).toFixed(1)}x`);

/**
 * Writes the int8 copy of a model folder (how models/nuclear/1/model.int8.onnx was made; docs/performance.md):
 *
 *   nice -n 5 node --import tsx workers/model/quantize-main.ts --model models/nuclear/1 \
 *     [--train ../shared/data/nuclei/train] [--val ../shared/data/nuclei/val] [--stride 8] \
 *     [--method minmax | percentile:P] [--weight-bits 8 | 7] [--threads 2]
 *
 * Calibrates on every `stride`-th training image through the real pipeline, quantizes (QDQ), scores float and
 * int8 on val through the same pipeline, and writes model.int8.onnx + card.int8 only when the int8 copy is
 * within the gate (|ΔF1@0.5| ≤ 0.005, |ΔDSB| ≤ 0.01); otherwise it removes any earlier copy and exits 1.
 * Deterministic for the same inputs (no randomness: fixed image list, histogram calibration, round-to-nearest).
 */
import { parseArgs } from 'node:util';
import type { CalibrationMethod } from './quantize.js';
import { methodName, quantizeModelDir } from './quantize-model-dir.js';
import { NUCLEI_TRAIN, NUCLEI_VAL } from '../../test/data.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/nuclear/1' },
    train: { type: 'string', default: NUCLEI_TRAIN },
    val: { type: 'string', default: NUCLEI_VAL },
    stride: { type: 'string', default: '8' },
    method: { type: 'string', default: 'minmax' },
    'weight-bits': { type: 'string', default: '8' },
    threads: { type: 'string', default: '2' },
  },
});

function parseMethod(s: string): CalibrationMethod {
  if (s === 'minmax') return { kind: 'minmax' };
  const m = /^percentile:(\d+(\.\d+)?)$/.exec(s);
  const p = m ? Number(m[1]) : NaN;
  if (!(p > 50 && p <= 100))
    throw new Error(`--method must be minmax or percentile:P (50 < P <= 100); got '${s}'`);
  return { kind: 'percentile', percentile: p };
}
const bits = values['weight-bits'];
if (bits !== '8' && bits !== '7') throw new Error(`--weight-bits must be 8 or 7; got '${bits}'`);
const stride = Number(values.stride);
const threads = Number(values.threads);
if (!Number.isInteger(stride) || stride < 1) throw new Error(`--stride must be a positive integer`);
if (!Number.isInteger(threads) || threads < 1) throw new Error(`--threads must be a positive integer`);
const method = parseMethod(values.method);
const log = (line: string): void => void process.stdout.write(`${new Date().toISOString()} ${line}\n`);
log(
  `quantizing ${values.model}: ${methodName(method)}, ${bits}-bit weights, every ${stride}th training image`,
);
const r = await quantizeModelDir(values.model, {
  trainDir: values.train,
  valDir: values.val,
  calibrationStride: stride,
  method,
  weightMax: bits === '7' ? 63 : 127,
  threads,
  log,
});
log(r.passed ? `wrote ${r.path} (${r.bytes.length} B) and card.int8` : 'gate failed: no int8 copy written');
process.exitCode = r.passed ? 0 : 1;

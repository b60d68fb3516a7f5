import { parseArgs } from 'node:util';
import { UsageError, type Command } from '../command.js';
import { exportModelDir } from '../../workers/model/export-model-dir.js';
import { initTfjs } from '../../workers/model/runtime.js';

const usage = `Usage: kiosk export-onnx MODEL_DIR...

Writes MODEL_DIR/model.onnx (opset 13, NHWC input/outputs) from the tfjs model in MODEL_DIR
(model.json + weights.bin) for CPU serving in onnxruntime-node, after checking that both runtimes agree.
Example: kiosk export-onnx models/nuclear/1`;

export const command: Command = {
  name: 'export-onnx',
  summary: 'export a tfjs model folder to model.onnx (for onnxruntime-node serving)',
  usage,
  async run(args) {
    let dirs: string[];
    try {
      dirs = parseArgs({ args, allowPositionals: true, options: {} }).positionals;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (dirs.length === 0) throw new UsageError('give at least one model folder');
    await initTfjs();
    let failed = 0;
    for (const dir of dirs) {
      try {
        const r = await exportModelDir(dir);
        const diffs = Object.entries(r.maxAbsDiff)
          .map(([k, v]) => `${k} ${v.toExponential(1)}`)
          .join(', ');
        process.stdout.write(`${r.path}: ${(r.bytes / 1e6).toFixed(2)} MB, max |tfjs - onnx|: ${diffs}\n`);
      } catch (err) {
        failed++;
        process.stderr.write(`${dir}: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
    return failed ? 1 : 0;
  },
};

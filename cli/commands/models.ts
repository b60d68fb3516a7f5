import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { UsageError, type Command } from '../command.js';
import { readImageFile } from '../../workers/image/files.js';
import { toImages } from '../../workers/image/channels.js';
import type { OutputRole } from '../../workers/bioimageio/card.js';
import { exportBioimageio } from '../../workers/bioimageio/export.js';
import { checkPackage, writeImportedModel } from '../../workers/bioimageio/import.js';
import { BioimageioError } from '../../workers/bioimageio/rdf.js';
import { findModelDir } from './segment.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const usage = `Usage: kiosk models import PATH|ZIP [--name NAME] [options]
       kiosk models export NAME --format bioimageio --out PATH[.zip] [options]

import: reads a bioimage.io model package (a folder or .zip with rdf.yaml / bioimageio.yaml, format 0.4
or 0.5, ONNX weights), checks it, runs its test input through ONNX Runtime and compares the result with
its test output, then writes it as MODELS_DIR/NAME/VERSION/ (model.onnx, card.json, rdf.yaml), so
\`kiosk segment --model NAME\` serves it. See docs/bioimageio.md.
  --name NAME               model name here                           (default: from the rdf's name)
  --models-dir DIR          where models live        (default: $KIOSK_MODELS_DIR, else the repo's models/)
  --roles R[,R...]          what each output channel is: foreground, boundaries, ignore
                            (default: from the rdf's channel names)
  --threads N               onnxruntime threads for the test run      (default: 1)

export: writes our model as a bioimage.io package (format 0.5: rdf.yaml, model.onnx, README.md, a test
input and its outputs as .npy) that \`kiosk models import\` and other bioimage.io tools accept.
  --format bioimageio       the package format (the only one)          (required)
  --out PATH                a folder, or a .zip file                   (required)
  --version N               model version                             (default: the latest)
  --model-dir PATH          a model folder instead of NAME
  --test-image PATH         the package's test input (one channel; cropped to a multiple of the
                            model's size multiple)                     (default: a synthetic image)`;

function modelsDir(flag: string | undefined): string {
  return flag ?? process.env.KIOSK_MODELS_DIR ?? join(repoRoot, 'models');
}

async function runImport(args: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      'models-dir': { type: 'string' },
      roles: { type: 'string' },
      threads: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('give one package: a folder or a .zip');
  const threads = v.threads === undefined ? 1 : Number(v.threads);
  if (!Number.isInteger(threads) || threads < 1)
    throw new UsageError(`--threads must be a positive integer; got '${v.threads}'`);
  const roles = v.roles?.split(',').map((r) => r.trim()) as OutputRole[] | undefined;
  const imported = await checkPackage(positionals[0]!, {
    ...(v.name !== undefined ? { name: v.name } : {}),
    ...(roles ? { roles } : {}),
    threads,
  });
  const { dir, version } = await writeImportedModel(modelsDir(v['models-dir']), imported);
  const section = imported.card['bioimageio'] as {
    test: { maxAbsDiff: number; values: number; tolerance: { absolute: number; relative: number } };
    labels: { method: string };
  };
  const t = section.test;
  process.stdout.write(
    `imported '${imported.descr.name}' (bioimage.io ${imported.descr.formatVersion}) as ${imported.name}/${version} in ${dir}\n` +
      `test: ${t.values} output values match the package's test output (largest difference ${t.maxAbsDiff.toPrecision(3)}; tolerance ${t.tolerance.absolute} + ${t.tolerance.relative}·|want|)\n` +
      `labels: ${section.labels.method}\n`,
  );
  return 0;
}

async function runExport(args: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      format: { type: 'string' },
      out: { type: 'string' },
      version: { type: 'string' },
      'model-dir': { type: 'string' },
      'test-image': { type: 'string' },
    },
  });
  if (v.format !== 'bioimageio') throw new UsageError(`--format must be bioimageio; got '${v.format ?? ''}'`);
  if (!v.out) throw new UsageError('--out PATH is required (a folder, or a file ending in .zip)');
  if (!v['model-dir'] && positionals.length !== 1)
    throw new UsageError('give one model NAME (or --model-dir)');
  let version: number | undefined;
  if (v.version !== undefined) {
    version = Number(v.version);
    if (!Number.isInteger(version) || version < 1)
      throw new UsageError(`--version must be a positive integer; got '${v.version}'`);
  }
  const dir = v['model-dir'] ?? (await findModelDir(positionals[0]!, version));
  let testImage;
  if (v['test-image']) {
    const images = toImages(await readImageFile(v['test-image']), { channels: [0] });
    testImage = images[0];
  }
  const files = await exportBioimageio(dir, v.out, testImage ? { testImage } : {});
  process.stdout.write(`wrote a bioimage.io package of ${dir} to ${v.out}: ${files.join(', ')}\n`);
  return 0;
}

export const command: Command = {
  name: 'models',
  summary: 'import a bioimage.io model package, or export a model as one',
  usage,
  async run(args) {
    const [sub, ...rest] = args;
    try {
      if (sub === 'import') return await runImport(rest);
      if (sub === 'export') return await runExport(rest);
    } catch (err) {
      if (err instanceof BioimageioError) {
        process.stderr.write(`kiosk models ${sub}: ${err.message} [${err.code}]\n`);
        return 1;
      }
      if (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
        throw new UsageError(err.message);
      throw err;
    }
    throw new UsageError(`unknown sub-command '${sub ?? ''}'; use import or export`);
  },
};

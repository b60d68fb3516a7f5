import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command } from '../../cli/commands/models.js';
import { runCaptured } from '../../cli/commands/run-captured.test-helpers.js';
import { runKiosk } from '../../cli/run-kiosk.test-helpers.js';
import { NUCLEI_VAL } from '../../test/data.js';
import { readLabelsFile } from '../image/files.js';
import { matchInstances } from '../image/metrics.js';
import { diskLabels } from '../image/synthetic-nuclei.js';
import { packZip } from '../image/zip.js';
import { readModelCard } from '../model/model-io.js';
import { loadRunner } from '../model/runners.js';
import { segmentImage } from '../pipeline/segment.js';
import type { BioimageioCardSection } from './card.js';
import { readNpy, writeNpy } from './npy.js';
import {
  boundaryPackage04,
  foregroundPackage05,
  separatedNuclei,
  type PackageFiles,
  withRdf,
} from './testing/third-party.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bioimageio-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeFolder(files: PackageFiles, name: string): Promise<string> {
  const out = join(dir, name);
  await mkdir(out, { recursive: true });
  for (const [f, data] of files) await writeFile(join(out, f), data);
  return out;
}

async function writeZip(files: PackageFiles, name: string): Promise<string> {
  const out = join(dir, name);
  await writeFile(out, packZip([...files].map(([n, data]) => ({ name: n, data }))));
  return out;
}

const cli = (args: string[]) => runCaptured(command, args);

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** F1 at IoU 0.5 of `labels` against the disks. */
function f1(
  labels: { data: Uint32Array; height: number; width: number },
  truth: ReturnType<typeof diskLabels>,
): number {
  const m = matchInstances(labels, truth, 0.5);
  return (2 * m.tp) / (2 * m.tp + m.fp + m.fn);
}

/** Segments a 200x200 image of separated synthetic nuclei with the model in `modelDir`; F1@0.5. */
async function segmentSynthetic(
  modelDir: string,
  seed: number,
): Promise<{ f1: number; objects: number; truth: number }> {
  const card = await readModelCard(modelDir);
  const runner = await loadRunner(modelDir);
  try {
    const { image, disks } = separatedNuclei(200, seed, 40);
    const raw = { data: image.data, dtype: 'float32' as const, shape: [200, 200], axes: 'YX' };
    const [labels] = await segmentImage(raw, runner, card);
    const truth = diskLabels(disks, 200, 200);
    return { f1: f1(labels!, truth), objects: new Set(labels!.data).size - 1, truth: disks.length };
  } finally {
    await runner.dispose();
  }
}

describe('bioimage.io import of third-party packages built to the spec', () => {
  it('0.5 package (NCHW input, zero_mean_unit_variance, sigmoid foreground): kiosk models import checks its test, then the model segments (threshold + distance-transform watershed)', async () => {
    const { files } = foregroundPackage05();
    const pkg = await writeFolder(files, 'fg05');
    const models = join(dir, 'models-a');
    const r = await cli(['import', pkg, '--name', 'fg05', '--models-dir', models]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /imported 'Nuclei foreground \(third-party test\)' \(bioimage\.io 0\.5\.3\) as fg05\/1/,
    );
    expect(r.out).toMatch(/test: 4096 output values match/);
    const modelDir = join(models, 'fg05', '1');
    expect((await readdir(modelDir)).sort()).toEqual(['card.json', 'model.onnx', 'rdf.yaml']);
    const card = await readModelCard(modelDir);
    const section = card['bioimageio'] as BioimageioCardSection;
    expect(section.input.axes).toBe('bcyx');
    expect(section.labels.method).toBe('foreground-watershed');
    expect(section.outputs[0]!.roles).toEqual(['foreground']);
    expect(section.halo).toBe(8);
    expect(section.test.tolerance).toEqual({ relative: 1e-3, absolute: 1e-4, mismatchedPerMillion: 0 });
    expect(section.test.maxAbsDiff).toBeLessThan(1e-5);
    // The rdf is kept as it came.
    expect(await readFile(join(modelDir, 'rdf.yaml'))).toEqual(Buffer.from(files.get('rdf.yaml')!));
    const seg = await segmentSynthetic(modelDir, 11);
    process.stdout.write(
      `0.5 foreground model: F1@0.5 ${seg.f1.toFixed(3)}, ${seg.objects} objects, ${seg.truth} disks\n`,
    );
    expect(seg.f1).toBeGreaterThanOrEqual(0.9);
    // A second import of the same name is its next version.
    expect((await cli(['import', pkg, '--name', 'fg05', '--models-dir', models])).out).toMatch(/as fg05\/2/);
  });

  it('0.4 package from a .zip (axes string bcyx, scale_range, sigmoid post-processing, two channels): boundaries → seeded watershed', async () => {
    const { files } = boundaryPackage04();
    const zip = await writeZip(files, 'b04.zip');
    const models = join(dir, 'models-b');
    const r = await cli(['import', zip, '--models-dir', models]);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/as Nuclei-boundaries-0-4-third-party-test\/1/);
    expect(r.out).toMatch(/labels: boundary-watershed/);
    const modelDir = join(models, 'Nuclei-boundaries-0-4-third-party-test', '1');
    const section = (await readModelCard(modelDir))['bioimageio'] as BioimageioCardSection;
    expect(section.outputs[0]!.roles).toEqual(['foreground', 'boundaries']);
    expect(section.outputs[0]!.postprocessing).toEqual([{ op: 'sigmoid' }]);
    expect(section.preprocessing).toEqual([
      { op: 'scale_range', perChannel: true, minPercentile: 1, maxPercentile: 99.8, eps: 1e-6 },
    ]);
    const seg = await segmentSynthetic(modelDir, 12);
    process.stdout.write(
      `0.4 boundary model: F1@0.5 ${seg.f1.toFixed(3)}, ${seg.objects} objects, ${seg.truth} disks\n`,
    );
    expect(seg.f1).toBeGreaterThanOrEqual(0.9);
    // --roles overrides the rdf: the boundary channel ignored → threshold + distance-transform watershed.
    const r2 = await cli([
      'import',
      zip,
      '--name',
      'b04-fg',
      '--roles',
      'foreground,ignore',
      '--models-dir',
      models,
    ]);
    expect(r2.out).toMatch(/labels: foreground-watershed/);
    const bad = await cli([
      'import',
      zip,
      '--name',
      'b04-x',
      '--roles',
      'foreground',
      '--models-dir',
      models,
    ]);
    expect(bad.err).toMatch(/roles: 1 given; the outputs have 2 channel\(s\) in all \[bad-package\]/);
  });
});

/** Each kind of broken package, the error code and what the message must name. */
function brokenPackages(): { kind: string; files: PackageFiles; code: string; message: RegExp }[] {
  const { files } = foregroundPackage05();
  const b04 = boundaryPackage04().files;
  const offTest = (() => {
    const t = readNpy(files.get('test_output.npy')!);
    const bytes = writeNpy(
      Float32Array.from(t.data, (v) => v + 0.05),
      t.shape,
    );
    const copy = withRdf(files, (rdf) => (rdf.outputs[0].test_tensor.sha256 = sha(bytes)));
    copy.set('test_output.npy', bytes);
    return copy;
  })();
  const noOutput = new Map(files);
  noOutput.delete('test_output.npy');
  return [
    {
      kind: 'unsupported weights (torchscript only)',
      files: withRdf(
        files,
        (rdf) => (rdf.weights = { torchscript: { source: 'model.pt', sha256: '0'.repeat(64) } }),
      ),
      code: 'unsupported-weights',
      message: /rdf field 'weights': unsupported weight format \(torchscript\); supported: onnx/,
    },
    {
      kind: 'bad axes (0.5: a z axis)',
      files: withRdf(files, (rdf) => rdf.inputs[0].axes.push({ type: 'space', id: 'z', size: 8 })),
      code: 'bad-axes',
      message: /rdf field 'inputs\[0\]\.axes\[4\]\.id': space axis 'z' is not supported/,
    },
    {
      kind: 'bad axes (0.4: bczyx)',
      files: withRdf(b04, (rdf) => (rdf.inputs[0].axes = 'bczyx')),
      code: 'bad-axes',
      message: /rdf field 'inputs\[0\]\.axes': axis 'z' in 'bczyx' is not supported/,
    },
    {
      kind: 'missing file',
      files: noOutput,
      code: 'missing-file',
      message: /rdf field 'outputs\[0\]\.test_tensor\.source': file 'test_output\.npy' is not in the package/,
    },
    {
      kind: 'sha256 mismatch',
      files: withRdf(files, (rdf) => (rdf.weights.onnx.sha256 = 'f'.repeat(64))),
      code: 'sha256-mismatch',
      message: /rdf field 'weights\.onnx\.sha256': 'fg\.onnx' has sha256 [0-9a-f]{64}, the rdf says f{64}/,
    },
    {
      kind: 'test output mismatch',
      files: offTest,
      code: 'test-mismatch',
      message:
        /output 'prob': 4096 of 4096 values differ from the test output 'test_output\.npy' by more than 0\.0001 \+ 0\.001·\|want\| \(largest difference 0\.0500/,
    },
    {
      kind: 'unsupported processing (0.4 per_dataset)',
      files: withRdf(b04, (rdf) => (rdf.inputs[0].preprocessing[0].kwargs.mode = 'per_dataset')),
      code: 'unsupported-processing',
      message:
        /rdf field 'inputs\[0\]\.preprocessing\[0\]\.kwargs\.mode': 'per_dataset' is not supported for scale_range/,
    },
    {
      kind: 'unsupported format version',
      files: withRdf(files, (rdf) => (rdf.format_version = '0.3.6')),
      code: 'unsupported-format-version',
      message: /rdf field 'format_version': "0\.3\.6" is not supported; supported: 0\.4\.x and 0\.5\.x/,
    },
  ];
}

describe('broken packages: kiosk models import names the problem', () => {
  it.each(brokenPackages().map((p) => [p.kind, p] as const))('%s', async (_kind, p) => {
    const zip = await writeZip(p.files, `broken-${p.code}-${Math.random().toString(36).slice(2)}.zip`);
    const models = join(dir, 'models-broken');
    const r = await cli(['import', zip, '--name', 'broken', '--models-dir', models]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(p.message);
    expect(r.err).toContain(`[${p.code}]`);
    // Nothing was written.
    expect(await readdir(join(models, 'broken')).catch(() => [])).toEqual([]);
  });

  it('usage mistakes are usage errors', async () => {
    await expect(cli(['export', 'nuclear', '--format', 'onnx', '--out', join(dir, 'x')])).rejects.toThrow(
      /--format must be bioimageio; got 'onnx'/,
    );
    await expect(cli(['import'])).rejects.toThrow(/give one package/);
    await expect(cli(['frobnicate'])).rejects.toThrow(
      /unknown sub-command 'frobnicate'; use import or export/,
    );
  });

  it('not a package: a zip without rdf.yaml, a file that is not a zip', async () => {
    const noRdf = await writeZip(new Map([['x.npy', writeNpy(new Float32Array(1), [1])]]), 'nordf.zip');
    expect((await cli(['import', noRdf])).err).toMatch(
      /holds no rdf\.yaml or bioimageio\.yaml \[bad-package\]/,
    );
    const text = join(dir, 'notes.zip');
    await writeFile(text, 'hello');
    expect((await cli(['import', text])).err).toMatch(
      /is not a zip archive or a package folder \[bad-package\]/,
    );
  });
});

const ROUND_TRIP_IMAGES = 3;

describe('round trip: kiosk models export nuclear --format bioimageio → kiosk models import → kiosk segment', () => {
  it(`gives the built-in model's labels on ${ROUND_TRIP_IMAGES} val images (real CLI processes)`, async () => {
    const zip = join(dir, 'nuclear.bioimageio.zip');
    const ex = await runKiosk(['models', 'export', 'nuclear', '--format', 'bioimageio', '--out', zip]);
    expect(ex.stderr).toBe('');
    expect(ex.code).toBe(0);
    const models = join(dir, 'models-rt');
    const im = await runKiosk([
      'models',
      'import',
      zip,
      '--name',
      'nuclear-bioimageio',
      '--models-dir',
      models,
    ]);
    expect(im.stderr).toBe('');
    expect(im.stdout).toMatch(/as nuclear-bioimageio\/1/);
    expect(im.stdout).toMatch(/labels: deep-watershed/);
    const images = (await readdir(NUCLEI_VAL))
      .filter((f) => f.endsWith('.image.png'))
      .sort()
      .slice(0, ROUND_TRIP_IMAGES)
      .map((f) => join(NUCLEI_VAL, f));
    const [a, b] = [join(dir, 'labels-builtin'), join(dir, 'labels-imported')];
    // The built-in model in float: imports always run the float ONNX, and KIOSK_INT8=auto would serve the
    // built-in's int8 copy on machines where it is faster (a different model, close but not equal labels).
    const float = { env: { ...(process.env as Record<string, string>), KIOSK_INT8: 'off' } };
    const sa = await runKiosk(
      ['segment', ...images, '--out', a, '--model', 'nuclear', '--threads', '2'],
      float,
    );
    const sb = await runKiosk([
      'segment',
      ...images,
      '--out',
      b,
      '--model-dir',
      join(models, 'nuclear-bioimageio', '1'),
      '--threads',
      '2',
    ]);
    expect(sa.code).toBe(0);
    expect(sb.code).toBe(0);
    expect(sb.stdout).toMatch(/on onnxruntime-node\/cpu bioimage\.io/);
    const outs = (await readdir(a)).sort();
    expect(outs).toHaveLength(ROUND_TRIP_IMAGES);
    expect((await readdir(b)).sort()).toEqual(outs);
    for (const f of outs) {
      const [la, lb] = [await readLabelsFile(join(a, f)), await readLabelsFile(join(b, f))];
      expect(new Set(la.data).size).toBeGreaterThan(2); // real segmentations, not two empty images
      expect(lb.data).toEqual(la.data);
    }
  }, 300_000);
});

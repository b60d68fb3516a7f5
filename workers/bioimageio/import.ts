/**
 * Importing a bioimage.io model package (a folder or a .zip holding rdf.yaml / bioimageio.yaml, the ONNX
 * weights and the test tensors) as a cellkiosk model folder: model.onnx, card.json (generated from the rdf,
 * with a `bioimageio` section, see ./card.ts) and the original rdf.yaml.
 *
 * Before anything is written the package is checked and its declared test is run: the test input goes
 * through the declared pre-processing, the ONNX model (ONNX Runtime, CPU) and each output's
 * post-processing, and must match the test output within the tolerance (the rdf's
 * `config.bioimageio.reproducibility_tolerance`, else |got - want| <= 1e-4 + 1e-3 * |want| for every
 * value). Each refusal is a `BioimageioError` naming the field or file.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { applyBioimageOps, boundaryWatershed, foregroundWatershed } from '../image/bioimage-ops.js';
import type { Image } from '../image/types.js';
import { unpackZip, isZipArchive } from '../image/zip.js';
import { CARD_JSON } from '../model/model-io.js';
import { medianDiameter } from '../pipeline/scale.js';
import type { BioimageioCardSection, BioimageioOutput, LabelsMethod, OutputRole } from './card.js';
import { axisSizes, shapeFor, tensorToImages } from './layout.js';
import { NpyError, readNpy, type NpyArray } from './npy.js';
import { BioimageioError, describeModel, parseRdfText, type ModelDescr, type TensorDescr } from './rdf.js';
import { openSession, runSession } from './runner.js';

/** Names an rdf may have in a package, in the order they are looked for. */
export const RDF_NAMES = ['rdf.yaml', 'bioimageio.yaml'];
/** Model names: as the registry takes them. */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** Most bytes of a package (a zip, or a folder's files read), KIOSK_MAX_MODEL_PACKAGE_MB. @default 512 MiB */
export const DEFAULT_MAX_PACKAGE_BYTES = 512 * 2 ** 20;

export function maxPackageBytes(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.KIOSK_MAX_MODEL_PACKAGE_MB;
  if (v === undefined || v.trim() === '') return DEFAULT_MAX_PACKAGE_BYTES;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0)
    throw new BioimageioError(
      'bad-package',
      `KIOSK_MAX_MODEL_PACKAGE_MB must be a positive number; got '${v}'`,
    );
  return Math.floor(n * 2 ** 20);
}

/** A package's files, read on demand. */
export interface ModelPackage {
  readonly rdfName: string;
  readonly rdfText: string;
  /** The bytes of `path` (relative to the rdf); BioimageioError 'missing-file' naming `field`. */
  read(path: string, field: string): Promise<Uint8Array>;
}

function cleanPath(path: string, field: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path))
    throw new BioimageioError(
      'missing-file',
      `rdf field '${field}': '${path}' is a URL; the file must be inside the package (no downloads)`,
    );
  const p = posix.normalize(path.replace(/^\.\//, ''));
  if (p.startsWith('../') || p === '..' || p.startsWith('/') || p.includes('\\') || p.includes('\0'))
    throw new BioimageioError('bad-package', `rdf field '${field}': '${path}' points outside the package`);
  return p;
}

/** Opens a package from a folder, a .zip file path, or the bytes of a .zip. */
export async function openPackage(
  source: string | Uint8Array,
  maxBytes = maxPackageBytes(),
): Promise<ModelPackage> {
  if (typeof source === 'string') {
    const st = await stat(source).catch(() => undefined);
    if (!st) throw new BioimageioError('bad-package', `no package at ${source}`);
    if (st.isDirectory()) return openFolder(source, maxBytes);
    if (st.size > maxBytes)
      throw new BioimageioError(
        'bad-package',
        `${source} has ${st.size} bytes; packages may have ${maxBytes} (KIOSK_MAX_MODEL_PACKAGE_MB)`,
      );
    return openZip(await readFile(source), source, maxBytes);
  }
  return openZip(source, 'the upload', maxBytes);
}

async function openFolder(dir: string, maxBytes: number): Promise<ModelPackage> {
  const names = await readdir(dir);
  const rdfName =
    RDF_NAMES.find((n) => names.includes(n)) ?? names.find((n) => n.endsWith('.bioimageio.yaml'));
  if (!rdfName)
    throw new BioimageioError(
      'bad-package',
      `${dir} holds no rdf.yaml or bioimageio.yaml (a bioimage.io model package has one)`,
    );
  let total = 0;
  return {
    rdfName,
    rdfText: await readFile(join(dir, rdfName), 'utf8'),
    async read(path, field) {
      const p = cleanPath(path, field);
      const full = join(dir, ...p.split('/'));
      if (!existsSync(full))
        throw new BioimageioError(
          'missing-file',
          `rdf field '${field}': file '${path}' is not in the package`,
        );
      const bytes = await readFile(full);
      total += bytes.length;
      if (total > maxBytes)
        throw new BioimageioError(
          'bad-package',
          `the package's files exceed ${maxBytes} bytes (KIOSK_MAX_MODEL_PACKAGE_MB)`,
        );
      return bytes;
    },
  };
}

function openZip(bytes: Uint8Array, what: string, maxBytes: number): ModelPackage {
  if (!isZipArchive(bytes))
    throw new BioimageioError('bad-package', `${what} is not a zip archive or a package folder`);
  let entries;
  try {
    entries = unpackZip(bytes, { maxTotalBytes: maxBytes, maxEntries: 1000 });
  } catch (err) {
    throw new BioimageioError('bad-package', `${what}: ${(err as Error).message}`);
  }
  const files = new Map(entries.map((e) => [e.name, e.data]));
  // The rdf at the root, or in the archive's single top folder.
  let prefix = '';
  let rdfName =
    RDF_NAMES.find((n) => files.has(n)) ??
    [...files.keys()].find((n) => !n.includes('/') && n.endsWith('.bioimageio.yaml'));
  if (!rdfName) {
    const nested = [...files.keys()].filter((n) => /^[^/]+\/(rdf|bioimageio)\.yaml$/.test(n));
    if (nested.length === 1) {
      prefix = nested[0]!.slice(0, nested[0]!.indexOf('/') + 1);
      rdfName = nested[0]!.slice(prefix.length);
    }
  }
  if (!rdfName) throw new BioimageioError('bad-package', `${what} holds no rdf.yaml or bioimageio.yaml`);
  return {
    rdfName,
    rdfText: Buffer.from(files.get(prefix + rdfName)!).toString('utf8'),
    async read(path, field) {
      const data = files.get(prefix + cleanPath(path, field));
      if (!data)
        throw new BioimageioError(
          'missing-file',
          `rdf field '${field}': file '${path}' is not in the package`,
        );
      return Promise.resolve(data);
    },
  };
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function readChecked(
  pkg: ModelPackage,
  file: { source: string; sha256?: string },
  field: string,
): Promise<Uint8Array> {
  const bytes = await pkg.read(file.source, `${field}.source`);
  if (file.sha256 !== undefined && sha256(bytes) !== file.sha256.toLowerCase())
    throw new BioimageioError(
      'sha256-mismatch',
      `rdf field '${field}.sha256': '${file.source}' has sha256 ${sha256(bytes)}, the rdf says ${file.sha256}`,
    );
  return bytes;
}

async function readTest(pkg: ModelPackage, t: TensorDescr, field: string): Promise<NpyArray> {
  const bytes = await readChecked(pkg, t.test, field);
  try {
    return readNpy(bytes, `test tensor '${t.test.source}'`);
  } catch (err) {
    if (err instanceof NpyError)
      throw new BioimageioError('bad-test-tensor', `rdf field '${field}.source': ${err.message}`);
    throw err;
  }
}

export interface ImportOptions {
  /** The model's name here. @default - the rdf's `name`, made registry-safe */
  readonly name?: string;
  /**
   * Roles of the output channels, in output then channel order (e.g. ['foreground', 'boundaries']).
   * @default - from the rdf: a cellkiosk export's own; channel names (boundary, contour, edge, border → boundaries;
   *   background, bg → ignore; anything else → foreground); without names one channel = foreground, two =
   *   foreground + boundaries
   */
  readonly roles?: readonly OutputRole[];
  /** onnxruntime threads for the test run. @default 1 */
  readonly threads?: number;
}

/** A checked package, ready to be written as a model folder. */
export interface ImportedModel {
  readonly name: string;
  readonly card: Record<string, unknown>;
  readonly onnx: Uint8Array;
  readonly rdfText: string;
  readonly descr: ModelDescr;
}

/** Registry-safe name from a free text name: 'U-Net (nuclei) 2D' → 'U-Net-nuclei-2D'. */
export function safeModelName(text: string): string {
  const s = text
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^[-_]+|-+$/g, '')
    .slice(0, 64);
  return s === '' ? 'imported' : s;
}

/** Reads, checks and test-runs a package (see the module doc). Writes nothing. */
export async function checkPackage(
  source: string | Uint8Array | ModelPackage,
  opts: ImportOptions = {},
): Promise<ImportedModel> {
  const pkg = typeof source === 'object' && 'rdfText' in source ? source : await openPackage(source);
  const raw = parseRdfText(pkg.rdfText, pkg.rdfName);
  const descr = describeModel(raw);
  const name = opts.name ?? safeModelName(descr.name);
  if (!MODEL_NAME.test(name))
    throw new BioimageioError(
      'bad-package',
      `model name '${name}' must be 1-64 letters, digits, '-' or '_' starting with a letter or digit`,
    );
  const onnx = await readChecked(pkg, descr.weights, 'weights.onnx');
  const input = descr.inputs[0]!;
  const testIn = await readTest(pkg, input, 'inputs[0].test_tensor');
  const testOut = await Promise.all(
    descr.outputs.map((o, k) => readTest(pkg, o, `outputs[${k}].test_tensor`)),
  );
  const inSizes = axisSizes(input.axes, testIn.shape, `test input '${input.test.source}'`);
  if (input.axes.includes('c') && input.channels !== inSizes.c)
    throw new BioimageioError(
      'bad-axes',
      `rdf field 'inputs[0].axes': the input has ${input.channels} channel(s) but the test input has ${inSizes.c}`,
    );
  const channels = inSizes.c;
  const outputs = descr.outputs.map((o, k) => {
    const s = axisSizes(o.axes, testOut[k]!.shape, `test output '${o.test.source}'`);
    return { ...o, channels: s.c };
  });
  const { roles, labels } = chooseLabels(descr, outputs, opts.roles);
  const tiling = chooseTiling(input);
  const halo = Math.max(0, ...outputs.map((o) => Math.max(o.halo?.y ?? 0, o.halo?.x ?? 0)));

  // The declared test: pre-processing → model → post-processing, compared with the test output.
  const session = await openSession(onnx, opts.threads ?? 1).catch((err: Error) => {
    throw new BioimageioError('model-error', `weights.onnx: ${err.message}`);
  });
  let testLabels: ReturnType<typeof foregroundWatershed> | undefined;
  const check = { maxAbsDiff: 0, mismatched: 0, values: 0 };
  try {
    const images = tensorToImages(testIn.data, input.axes, testIn.shape, 'test input').map((im) =>
      applyBioimageOps(im, input.ops),
    );
    const { height: h, width: w } = images[0]!;
    const batch = new Float32Array(images.length * h * w * channels);
    images.forEach((im, b) => batch.set(im.data, b * h * w * channels));
    const { nhwcToTensor } = await import('./layout.js');
    let outs;
    try {
      outs = await runSession(
        session,
        nhwcToTensor(batch, images.length, h, w, channels, input.axes),
        shapeFor(input.axes, images.length, h, w, channels),
        outputs.map((o) => o.id),
      );
    } catch (err) {
      throw new BioimageioError(
        'model-error',
        `running the test input through weights.onnx failed: ${(err as Error).message}`,
      );
    }
    const tol = descr.tolerance;
    outputs.forEach((o, k) => {
      const got = tensorToImages(outs[k]!.data, o.axes, outs[k]!.dims, `output '${o.id}'`).map((im) =>
        applyBioimageOps(im, o.ops),
      );
      const want = tensorToImages(
        testOut[k]!.data,
        o.axes,
        testOut[k]!.shape,
        `test output '${o.test.source}'`,
      );
      if (got.length !== want.length || got.some((g, b) => g.data.length !== want[b]!.data.length))
        throw new BioimageioError(
          'test-mismatch',
          `output '${o.id}': the model gives shape (${outs[k]!.dims.join(', ')}); the test output '${o.test.source}' has (${testOut[k]!.shape.join(', ')})`,
        );
      let worst = { diff: 0, at: 0 };
      let bad = 0;
      got.forEach((g, b) => {
        const wd = want[b]!.data;
        for (let i = 0; i < g.data.length; i++) {
          const d = Math.abs(g.data[i]! - wd[i]!);
          if (!(d <= tol.absolute + tol.relative * Math.abs(wd[i]!))) bad++;
          if (!(d <= worst.diff)) worst = { diff: Number.isNaN(d) ? Infinity : d, at: i };
        }
      });
      const values = want.reduce((s, im) => s + im.data.length, 0);
      check.values += values;
      check.mismatched += bad;
      check.maxAbsDiff = Math.max(check.maxAbsDiff, worst.diff);
      if (bad > (tol.mismatchedPerMillion * values) / 1e6)
        throw new BioimageioError(
          'test-mismatch',
          `output '${o.id}': ${bad} of ${values} values differ from the test output '${o.test.source}' by more than ${tol.absolute} + ${tol.relative}·|want| (largest difference ${worst.diff.toPrecision(4)}); the model does not reproduce its own test`,
        );
      if (k === 0 || labels.method !== 'deep-watershed')
        testLabels = labelsOf(got[0]!, outputs, roles, labels, k, testLabels);
    });
  } finally {
    await session.release();
  }

  const own = cellkioskConfig(descr);
  const measured = testLabels ? medianDiameter(testLabels) : undefined;
  const targetDiameterPx =
    own?.input?.targetDiameterPx ?? (measured !== undefined ? Number(measured.toFixed(2)) : 14);
  const section: BioimageioCardSection = {
    formatVersion: descr.formatVersion,
    rdf: 'rdf.yaml',
    input: { id: input.id, axes: input.axes, minSize: input.minSize!, step: input.step! },
    preprocessing: input.ops,
    outputs: outputs.map((o, k): BioimageioOutput => ({
      id: o.id,
      axes: o.axes,
      channels: o.channels,
      postprocessing: o.ops,
      roles: roles[k]!,
    })),
    halo,
    tileSize: tiling.tileSize,
    labels,
    test: { passed: true, ...check, tolerance: descr.tolerance },
    importedAt: new Date().toISOString(),
  };
  const card: Record<string, unknown> = {
    name,
    version: 1,
    task: 'nuclear-segmentation',
    description: descr.description,
    input: own?.input ?? {
      channels,
      normalization: { method: 'percentile', low: 1, high: 99.8 },
      normalizationNote:
        "not used: the model's bioimage.io preprocessing (bioimageio.preprocessing) replaces it",
      targetDiameterPx,
      targetDiameterFrom:
        measured !== undefined
          ? 'the median object diameter in the labels of the test output'
          : 'default (no objects in the test output)',
      mpp: Number((9 / targetDiameterPx).toFixed(4)),
      typicalNucleusDiameterUm: 9,
      sizeMultiple: tiling.sizeMultiple,
    },
    outputs: roles.flat(),
    network: { source: 'bioimage.io', formatVersion: descr.formatVersion },
    params: 0,
    ...(own?.postprocess ? { postprocess: own.postprocess } : {}),
    source: { bioimageio: descr.name, ...(typeof raw.id === 'string' ? { id: raw.id } : {}) },
    bioimageio: section,
  };
  return { name, card, onnx, rdfText: pkg.rdfText, descr };
}

/** The `config.cellkiosk` section a cellkiosk export writes (see ./export.ts), when present and sound. */
function cellkioskConfig(descr: ModelDescr):
  | {
      input?: Record<string, unknown> & { targetDiameterPx?: number };
      postprocess?: Record<string, unknown>;
      roles?: OutputRole[][];
    }
  | undefined {
  const c = descr.config.cellkiosk;
  if (typeof c !== 'object' || c === null) return undefined;
  return c as never;
}

function labelsOf(
  out: Image,
  outputs: readonly { channels: number }[],
  roles: readonly (readonly OutputRole[])[],
  labels: LabelsMethod,
  k: number,
  prev: ReturnType<typeof foregroundWatershed> | undefined,
): ReturnType<typeof foregroundWatershed> | undefined {
  void outputs;
  const chan = (role: OutputRole) => {
    const ch = roles[k]!.indexOf(role);
    if (ch < 0) return undefined;
    const data = new Float32Array(out.height * out.width);
    for (let i = 0; i < data.length; i++) data[i] = out.data[i * out.channels + ch]!;
    return { data, height: out.height, width: out.width };
  };
  const fg = chan('foreground');
  if (!fg) return prev;
  if (labels.method === 'foreground-watershed') return foregroundWatershed(fg, labels);
  if (labels.method === 'boundary-watershed') {
    const b = chan('boundaries');
    return b ? boundaryWatershed(fg, b, labels) : prev;
  }
  return prev;
}

/** Roles of each output's channels and how they become labels (see ImportOptions.roles). */
function chooseLabels(
  descr: ModelDescr,
  outputs: readonly (TensorDescr & { channels: number })[],
  given: readonly OutputRole[] | undefined,
): { roles: OutputRole[][]; labels: LabelsMethod } {
  const own = cellkioskConfig(descr);
  let roles: OutputRole[][];
  const total = outputs.reduce((s, o) => s + o.channels, 0);
  if (given) {
    if (given.length !== total)
      throw new BioimageioError(
        'bad-package',
        `roles: ${given.length} given; the outputs have ${total} channel(s) in all`,
      );
    let p = 0;
    roles = outputs.map((o) => given.slice(p, (p += o.channels)));
  } else if (own?.roles) {
    roles = own.roles.map((r) => [...r]);
  } else {
    roles = outputs.map((o) => {
      if (o.channelNames && o.channelNames.length === o.channels)
        return o.channelNames.map((n): OutputRole =>
          /bound|contour|edge|border/i.test(n)
            ? 'boundaries'
            : /^(back|bg)/i.test(n)
              ? 'ignore'
              : 'foreground',
        );
      if (o.channels === 1) return ['foreground'];
      if (o.channels === 2) return ['foreground', 'boundaries'];
      throw new BioimageioError(
        'bad-package',
        `output '${o.id}' has ${o.channels} unnamed channels; say what each is (roles: foreground, boundaries, ignore)`,
      );
    });
  }
  const flat = roles.flat();
  const known: OutputRole[] = ['inner', 'outer', 'fg', 'bg', 'foreground', 'boundaries', 'ignore'];
  const unknown = flat.find((r) => !known.includes(r));
  if (unknown)
    throw new BioimageioError('bad-package', `role '${unknown}' is not one of ${known.join(', ')}`);
  const count = (r: OutputRole): number => flat.filter((x) => x === r).length;
  if (count('inner') === 1 && count('outer') === 1 && count('fg') === 1)
    return { roles, labels: { method: 'deep-watershed' } };
  if (count('foreground') === 0)
    throw new BioimageioError(
      'bad-package',
      `no output channel is a foreground probability (roles: ${flat.join(', ')}); labels need one`,
    );
  if (count('foreground') > 1) {
    // Several foreground-like channels (e.g. 'nuclei', 'cells'): the first one is used.
    let seen = false;
    roles = roles.map((rs) =>
      rs.map((r) => (r === 'foreground' ? (seen ? 'ignore' : ((seen = true), r)) : r)),
    );
  }
  if (count('boundaries') >= 1)
    return {
      roles,
      labels: { method: 'boundary-watershed', threshold: 0.5, boundaryThreshold: 0.5, minSize: 10 },
    };
  return { roles, labels: { method: 'foreground-watershed', threshold: 0.5, minDistance: 4, minSize: 10 } };
}

/** A square tile side that fits the input's size rule, and the multiple the pipeline checks tile sizes by. */
function chooseTiling(input: TensorDescr): { tileSize: number; sizeMultiple: number } {
  const { minSize, step } = input;
  if (!minSize || !step)
    throw new BioimageioError('bad-axes', "rdf field 'inputs[0]': no size for the y and x axes");
  const fits = (t: number, a: 'y' | 'x'): boolean =>
    step[a] === 0 ? t === minSize[a] : t >= minSize[a] && (t - minSize[a]) % step[a] === 0;
  if (step.y === 0 || step.x === 0) {
    const t = step.y === 0 ? minSize.y : minSize.x;
    if (!fits(t, 'y') || !fits(t, 'x'))
      throw new BioimageioError(
        'bad-axes',
        `rdf field 'inputs[0].axes': fixed input size ${minSize.y}x${minSize.x} is not square; square tiles are supported`,
      );
    return { tileSize: t, sizeMultiple: t };
  }
  for (let t = Math.max(256, minSize.y, minSize.x); t <= 4096; t++)
    if (fits(t, 'y') && fits(t, 'x')) {
      const m = step.y === step.x && minSize.y % step.y === 0 && minSize.x % step.x === 0 ? step.y : t;
      return { tileSize: t, sizeMultiple: m };
    }
  throw new BioimageioError(
    'bad-axes',
    `rdf field 'inputs[0].axes': no square tile up to 4096 px fits sizes min ${minSize.y}x${minSize.x}, step ${step.y}x${step.x}`,
  );
}

/** Versions (integer folder names) under `dir`, ascending. */
async function versionsIn(dir: string): Promise<number[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((d) => d.isDirectory() && /^\d+$/.test(d.name))
    .map((d) => Number(d.name))
    .sort((a, b) => a - b);
}

/**
 * Writes an imported model as `<modelsDir>/<name>/<version>/` (model.onnx, card.json, rdf.yaml), the next
 * version of `name`. Refuses ('name-taken') a name whose existing versions are not bioimage.io imports, so
 * an import never becomes the newest version of a model of our own.
 */
export async function writeImportedModel(
  modelsDir: string,
  m: ImportedModel,
): Promise<{ dir: string; version: number }> {
  const base = join(modelsDir, m.name);
  const versions = await versionsIn(base);
  for (const v of versions) {
    const card = await readFile(join(base, String(v), CARD_JSON), 'utf8')
      .then((t) => JSON.parse(t) as Record<string, unknown>)
      .catch(() => undefined);
    if (!card?.bioimageio)
      throw new BioimageioError(
        'name-taken',
        `a model '${m.name}' that is not a bioimage.io import exists in ${modelsDir}; import with another name (--name)`,
      );
  }
  const version = (versions[versions.length - 1] ?? 0) + 1;
  const dir = join(base, String(version));
  const tmp = `${dir}.part-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  for (const [file, data] of importedFiles(m, version)) await writeFile(join(tmp, file), data);
  await rename(tmp, dir);
  return { dir, version };
}

/** The files of the model folder of `m` as version `version`. */
export function importedFiles(
  m: ImportedModel,
  version: number,
  extra: Record<string, unknown> = {},
): Map<string, Uint8Array> {
  const card = { ...m.card, version, ...extra };
  return new Map<string, Uint8Array>([
    ['model.onnx', m.onnx],
    ['rdf.yaml', Buffer.from(m.rdfText, 'utf8')],
    [CARD_JSON, Buffer.from(`${JSON.stringify(card, null, 2)}\n`, 'utf8')],
  ]);
}

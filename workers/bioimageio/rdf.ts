/**
 * Reads a bioimage.io model description (rdf.yaml / bioimageio.yaml, format 0.4.x or 0.5.x) into one
 * version-independent shape, and refuses what this kiosk cannot serve with a `BioimageioError` whose
 * message names the field (e.g. `weights`, `inputs[0].axes`, `outputs[0].postprocessing[1].kwargs.mode`).
 *
 * Differences between the formats that matter here:
 * - axes: 0.4 a string of letters ('bcyx'); 0.5 a list of axis objects ({type: batch|channel|space|...,
 *   id, size, channel_names, halo});
 * - sizes: 0.4 `shape` (a list, {min, step}, or for outputs {reference_tensor, scale, offset}); 0.5 per axis
 *   `size` (an int, {min, step}, or {tensor_id, axis_id, offset});
 * - tensor ids: 0.4 `name`, 0.5 `id`; halo: 0.4 `outputs[k].halo` (a list), 0.5 per output space axis;
 * - test tensors: 0.4 top-level `test_inputs` / `test_outputs` lists, 0.5 `test_tensor.source` per tensor;
 * - processing steps: 0.4 {name, kwargs} with `mode` and `axes` as a string, 0.5 {id, kwargs} with `axes`
 *   as a list of axis ids.
 */
import { parse as parseYaml } from 'yaml';
import type { BioimageOp } from '../image/bioimage-ops.js';
import { BIOIMAGE_DTYPES } from '../image/bioimage-ops.js';

export type BioimageioErrorCode =
  | 'bad-package'
  | 'bad-rdf'
  | 'unsupported-format-version'
  | 'unsupported-weights'
  | 'bad-axes'
  | 'unsupported-processing'
  | 'missing-file'
  | 'sha256-mismatch'
  | 'bad-test-tensor'
  | 'test-mismatch'
  | 'model-error'
  | 'name-taken';

/** A package this kiosk cannot import; `message` names the field or file and what is wrong. */
export class BioimageioError extends Error {
  override readonly name = 'BioimageioError';
  constructor(
    readonly code: BioimageioErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** One input or output tensor. Axis letters: b (batch), c (channel), y, x. */
export interface TensorDescr {
  readonly id: string;
  /** Axis letters in the tensor's order, e.g. 'bcyx' or 'byxc'. */
  readonly axes: string;
  /** Channels (1 when the tensor has no channel axis). */
  readonly channels: number;
  readonly channelNames?: readonly string[];
  /** Inputs: smallest y/x size and the step sizes grow by (step 0: fixed). */
  readonly minSize?: { readonly y: number; readonly x: number };
  readonly step?: { readonly y: number; readonly x: number };
  /** Outputs: px at each y/x border the model does not get right (the halo). */
  readonly halo?: { readonly y: number; readonly x: number };
  /** Pre-processing (inputs) or post-processing (outputs), in order. */
  readonly ops: readonly BioimageOp[];
  /** The test tensor file in the package, with its sha256 when the rdf gives one. */
  readonly test: { readonly source: string; readonly sha256?: string };
  readonly dataType: string;
}

export interface ModelDescr {
  readonly formatVersion: string;
  readonly name: string;
  readonly description: string;
  readonly inputs: readonly TensorDescr[];
  readonly outputs: readonly TensorDescr[];
  readonly weights: { readonly source: string; readonly sha256?: string; readonly opsetVersion?: number };
  /** Tolerance of the test-tensor check: |got - want| <= abs + rel * |want| for all but `mismatchedPerMillion`. */
  readonly tolerance: {
    readonly relative: number;
    readonly absolute: number;
    readonly mismatchedPerMillion: number;
  };
  /** The rdf's `config` section (free-form). */
  readonly config: Readonly<Record<string, unknown>>;
  /** The parsed rdf as it was. */
  readonly raw: Readonly<Record<string, unknown>>;
}

/** Weight formats of the spec; only `onnx` runs here. */
export const WEIGHT_FORMATS = [
  'onnx',
  'pytorch_state_dict',
  'torchscript',
  'keras_hdf5',
  'tensorflow_js',
  'tensorflow_saved_model_bundle',
] as const;

/** Default tolerance of the test-tensor check (the spec's defaults for 0.5 `reproducibility_tolerance`). */
export const DEFAULT_TOLERANCE = { relative: 1e-3, absolute: 1e-4, mismatchedPerMillion: 0 } as const;

type Obj = Record<string, unknown>;

function fail(code: BioimageioErrorCode, field: string, what: string): never {
  throw new BioimageioError(code, `rdf field '${field}': ${what}`);
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown, field: string): string {
  if (typeof v !== 'string' || v === '')
    fail('bad-rdf', field, `must be a non-empty string; got ${JSON.stringify(v)}`);
  return v;
}

function num(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v))
    fail('bad-rdf', field, `must be a number; got ${JSON.stringify(v)}`);
  return v;
}

function numOrList(v: unknown, field: string): number | number[] {
  if (Array.isArray(v)) return v.map((x, i) => num(x, `${field}[${i}]`));
  return num(v, field);
}

/** Parses the YAML text of an rdf; BioimageioError 'bad-rdf' when it is not YAML or not a mapping. */
export function parseRdfText(text: string, file = 'rdf.yaml'): Obj {
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new BioimageioError(
      'bad-rdf',
      `${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  if (!isObj(raw)) throw new BioimageioError('bad-rdf', `${file} must be a YAML mapping (key: value)`);
  return raw;
}

/** Reads and checks a parsed rdf (see the module doc). */
export function describeModel(raw: Obj): ModelDescr {
  if (raw.type !== undefined && raw.type !== 'model')
    fail('bad-rdf', 'type', `must be 'model'; got ${JSON.stringify(raw.type)}`);
  const formatVersion = String(raw.format_version ?? '');
  const v = /^0\.([45])\.\d+$/.exec(formatVersion);
  if (!v)
    fail(
      'unsupported-format-version',
      'format_version',
      `${JSON.stringify(raw.format_version)} is not supported; supported: 0.4.x and 0.5.x`,
    );
  const is05 = v[1] === '5';
  const name = str(raw.name, 'name');
  const description = typeof raw.description === 'string' ? raw.description : '';
  const weights = readWeights(raw.weights);
  if (!Array.isArray(raw.inputs) || raw.inputs.length === 0)
    fail('bad-rdf', 'inputs', 'must be a non-empty list');
  if (!Array.isArray(raw.outputs) || raw.outputs.length === 0)
    fail('bad-rdf', 'outputs', 'must be a non-empty list');
  if (raw.inputs.length !== 1)
    fail(
      'bad-axes',
      'inputs',
      `has ${raw.inputs.length} tensors; models with one input tensor are supported`,
    );
  const testInputs = is05 ? undefined : (raw.test_inputs as unknown);
  const testOutputs = is05 ? undefined : (raw.test_outputs as unknown);
  if (!is05) {
    if (!Array.isArray(testInputs) || testInputs.length !== raw.inputs.length)
      fail('bad-rdf', 'test_inputs', `must list one .npy file per input (${raw.inputs.length})`);
    if (!Array.isArray(testOutputs) || testOutputs.length !== raw.outputs.length)
      fail('bad-rdf', 'test_outputs', `must list one .npy file per output (${raw.outputs.length})`);
  }
  const read = (kind: 'inputs' | 'outputs', t: unknown, k: number): TensorDescr => {
    const field = `${kind}[${k}]`;
    if (!isObj(t)) fail('bad-rdf', field, 'must be a mapping');
    const tests = kind === 'inputs' ? testInputs : testOutputs;
    return is05 ? readTensor05(t, field, kind) : readTensor04(t, field, kind, (tests as unknown[])[k], k);
  };
  const inputs = raw.inputs.map((t, k) => read('inputs', t, k));
  const outputs = raw.outputs.map((t, k) => read('outputs', t, k));
  const config = isObj(raw.config) ? raw.config : {};
  return {
    formatVersion,
    name,
    description,
    inputs,
    outputs,
    weights,
    tolerance: readTolerance(config),
    config,
    raw,
  };
}

function readWeights(w: unknown): ModelDescr['weights'] {
  if (!isObj(w) || Object.keys(w).length === 0)
    fail('bad-rdf', 'weights', 'must name at least one weight format');
  const onnx = w.onnx;
  if (onnx === undefined || onnx === null) {
    const have = Object.keys(w).join(', ');
    fail(
      'unsupported-weights',
      'weights',
      `unsupported weight format (${have}); supported: onnx (ONNX Runtime runs the model)`,
    );
  }
  if (!isObj(onnx)) fail('bad-rdf', 'weights.onnx', 'must be a mapping with source (and sha256)');
  const source = str(onnx.source, 'weights.onnx.source');
  const sha256 = onnx.sha256 === undefined ? undefined : str(onnx.sha256, 'weights.onnx.sha256');
  const opset = typeof onnx.opset_version === 'number' ? onnx.opset_version : undefined;
  return { source, ...(sha256 ? { sha256 } : {}), ...(opset !== undefined ? { opsetVersion: opset } : {}) };
}

function readTolerance(config: Obj): ModelDescr['tolerance'] {
  const bio = config.bioimageio;
  const list = isObj(bio) ? bio.reproducibility_tolerance : undefined;
  const first = Array.isArray(list) && isObj(list[0]) ? list[0] : undefined;
  if (!first) return DEFAULT_TOLERANCE;
  const pick = (key: string, fallback: number): number => {
    const v = first[key];
    if (v === undefined) return fallback;
    const n = num(v, `config.bioimageio.reproducibility_tolerance[0].${key}`);
    if (n < 0) fail('bad-rdf', `config.bioimageio.reproducibility_tolerance[0].${key}`, 'must be >= 0');
    return n;
  };
  return {
    relative: pick('relative_tolerance', DEFAULT_TOLERANCE.relative),
    absolute: pick('absolute_tolerance', DEFAULT_TOLERANCE.absolute),
    mismatchedPerMillion: pick('mismatched_elements_per_million', DEFAULT_TOLERANCE.mismatchedPerMillion),
  };
}

/** Checks the axis letters: b, c at most once, y and x exactly once, nothing else. */
function checkAxes(axes: string, field: string): void {
  const bad = [...axes].filter((a) => !'bcyx'.includes(a));
  if (bad.length)
    fail(
      'bad-axes',
      field,
      `axis '${bad[0]}' in '${axes}' is not supported; 2-D tensors with axes b, c, y, x are (no z, t or index axes)`,
    );
  for (const a of 'bcyx')
    if (axes.split(a).length > 2) fail('bad-axes', field, `axis '${a}' appears twice in '${axes}'`);
  if (!axes.includes('y') || !axes.includes('x')) fail('bad-axes', field, `'${axes}' must have both y and x`);
}

// ---------------------------------------------------------------- 0.4

function readTensor04(
  t: Obj,
  field: string,
  kind: 'inputs' | 'outputs',
  test: unknown,
  k: number,
): TensorDescr {
  const id = str(t.name, `${field}.name`);
  if (typeof t.axes !== 'string')
    fail(
      'bad-axes',
      `${field}.axes`,
      `must be a string of axis letters like 'bcyx'; got ${JSON.stringify(t.axes)}`,
    );
  const axes = t.axes.toLowerCase();
  checkAxes(axes, `${field}.axes`);
  const dataType = typeof t.data_type === 'string' ? t.data_type : 'float32';
  const shape = t.shape;
  let channels = 1;
  let minSize: TensorDescr['minSize'];
  let step: TensorDescr['step'];
  const at = (list: number[], a: string): number => list[axes.indexOf(a)] ?? 0;
  const shapeList = (v: unknown, f: string): number[] => {
    if (!Array.isArray(v) || v.length !== axes.length)
      fail(
        'bad-axes',
        f,
        `must list ${axes.length} sizes, one per axis of '${axes}'; got ${JSON.stringify(v)}`,
      );
    return v.map((x, i) => num(x, `${f}[${i}]`));
  };
  if (kind === 'inputs') {
    if (Array.isArray(shape)) {
      const s = shapeList(shape, `${field}.shape`);
      minSize = { y: at(s, 'y'), x: at(s, 'x') };
      step = { y: 0, x: 0 };
      if (axes.includes('c')) channels = at(s, 'c');
    } else if (isObj(shape)) {
      const min = shapeList(shape.min, `${field}.shape.min`);
      const st = shapeList(shape.step, `${field}.shape.step`);
      minSize = { y: at(min, 'y'), x: at(min, 'x') };
      step = { y: at(st, 'y'), x: at(st, 'x') };
      if (axes.includes('c')) {
        if (at(st, 'c') !== 0)
          fail('bad-axes', `${field}.shape.step`, 'the channel axis must have a fixed size (step 0)');
        channels = at(min, 'c');
      }
    } else fail('bad-rdf', `${field}.shape`, 'must be a list of sizes or {min, step}');
  } else {
    if (Array.isArray(shape)) {
      const s = shapeList(shape, `${field}.shape`);
      if (axes.includes('c')) channels = at(s, 'c');
    } else if (isObj(shape)) {
      const scale = shapeList(shape.scale, `${field}.shape.scale`);
      const offset =
        shape.offset === undefined
          ? axes.split('').map(() => 0)
          : shapeList(shape.offset, `${field}.shape.offset`);
      for (const a of 'yx')
        if (at(scale, a) !== 1 || at(offset, a) !== 0)
          fail(
            'bad-axes',
            `${field}.shape`,
            `output axis '${a}' must have the input's size (scale 1, offset 0); got scale ${at(scale, a)}, offset ${at(offset, a)}`,
          );
      if (axes.includes('c')) {
        const cScale = at(scale, 'c');
        // Channel count = reference channels * scale + 2 * offset (0.4); a scale of 0 means offset*2 channels.
        channels = cScale === 0 ? 2 * at(offset, 'c') : cScale * 1 + 2 * at(offset, 'c');
      }
    } else fail('bad-rdf', `${field}.shape`, 'must be a list of sizes or {reference_tensor, scale, offset}');
  }
  let halo: TensorDescr['halo'];
  if (kind === 'outputs' && t.halo !== undefined) {
    const h = shapeList(t.halo, `${field}.halo`);
    halo = { y: at(h, 'y'), x: at(h, 'x') };
  }
  if (typeof test !== 'string' || test === '')
    fail(
      'bad-rdf',
      kind === 'inputs' ? `test_inputs[${k}]` : `test_outputs[${k}]`,
      'must be the path of a .npy file in the package',
    );
  const procField = kind === 'inputs' ? 'preprocessing' : 'postprocessing';
  const ops = readOps(t[procField], `${field}.${procField}`, false, axes);
  return {
    id,
    axes,
    channels,
    ...(minSize ? { minSize } : {}),
    ...(step ? { step } : {}),
    ...(halo ? { halo } : {}),
    ops,
    test: { source: test },
    dataType,
  };
}

// ---------------------------------------------------------------- 0.5

function readTensor05(t: Obj, field: string, kind: 'inputs' | 'outputs'): TensorDescr {
  const id = str(t.id, `${field}.id`);
  if (!Array.isArray(t.axes) || t.axes.length === 0)
    fail(
      'bad-axes',
      `${field}.axes`,
      `must be a list of axis objects ({type: batch|channel|space, ...}); got ${JSON.stringify(t.axes)}`,
    );
  let axes = '';
  let channels = 1;
  let channelNames: string[] | undefined;
  const min: Record<string, number> = {};
  const step: Record<string, number> = {};
  const halo: Record<string, number> = {};
  t.axes.forEach((a, i) => {
    const f = `${field}.axes[${i}]`;
    if (!isObj(a)) fail('bad-axes', f, 'must be an axis object with a type');
    if (a.type === 'batch') axes += 'b';
    else if (a.type === 'channel') {
      axes += 'c';
      if (!Array.isArray(a.channel_names) || a.channel_names.length === 0)
        fail('bad-axes', `${f}.channel_names`, 'must list the channel names');
      channelNames = a.channel_names.map(String);
      channels = channelNames.length;
    } else if (a.type === 'space') {
      const axisId = String(a.id ?? 'x');
      if (axisId !== 'x' && axisId !== 'y')
        fail(
          'bad-axes',
          `${f}.id`,
          `space axis '${axisId}' is not supported; 2-D tensors with space axes y and x are`,
        );
      axes += axisId;
      const size = a.size;
      if (kind === 'inputs') {
        if (typeof size === 'number') {
          min[axisId] = size;
          step[axisId] = 0;
        } else if (isObj(size) && size.min !== undefined) {
          min[axisId] = num(size.min, `${f}.size.min`);
          step[axisId] = num(size.step, `${f}.size.step`);
        } else
          fail(
            'bad-axes',
            `${f}.size`,
            `an input space axis must have a fixed size or {min, step}; got ${JSON.stringify(size)}`,
          );
      } else {
        if (isObj(size) && size.tensor_id !== undefined) {
          if ((size.offset ?? 0) !== 0 || (size.axis_id !== undefined && size.axis_id !== axisId))
            fail(
              'bad-axes',
              `${f}.size`,
              `output axis '${axisId}' must have the input axis '${axisId}''s size (offset 0)`,
            );
        } else if (typeof size !== 'number')
          fail(
            'bad-axes',
            `${f}.size`,
            `must be a size or {tensor_id, axis_id}; got ${JSON.stringify(size)}`,
          );
        if (a.scale !== undefined && a.scale !== 1 && (a.scale as number) !== 1.0)
          fail(
            'bad-axes',
            `${f}.scale`,
            `output axis '${axisId}' must have the input's pixel size (scale 1)`,
          );
        if (a.halo !== undefined) halo[axisId] = num(a.halo, `${f}.halo`);
      }
    } else
      fail(
        'bad-axes',
        `${f}.type`,
        `axis type ${JSON.stringify(a.type)} is not supported; batch, channel and space (y, x) are`,
      );
  });
  checkAxes(axes, `${field}.axes`);
  const data = t.data;
  const dataType = isObj(data) && typeof data.type === 'string' ? data.type : 'float32';
  const tt = t.test_tensor;
  if (!isObj(tt)) fail('bad-rdf', `${field}.test_tensor`, 'must be {source: FILE.npy, sha256}');
  const source = str(tt.source, `${field}.test_tensor.source`);
  const sha256 = tt.sha256 === undefined ? undefined : str(tt.sha256, `${field}.test_tensor.sha256`);
  const procField = kind === 'inputs' ? 'preprocessing' : 'postprocessing';
  const ops = readOps(t[procField], `${field}.${procField}`, true, axes);
  return {
    id,
    axes,
    channels,
    ...(channelNames ? { channelNames } : {}),
    ...(kind === 'inputs' ? { minSize: { y: min.y!, x: min.x! }, step: { y: step.y!, x: step.x! } } : {}),
    ...(kind === 'outputs' && (halo.y || halo.x) ? { halo: { y: halo.y ?? 0, x: halo.x ?? 0 } } : {}),
    ops,
    test: { source, ...(sha256 ? { sha256 } : {}) },
    dataType,
  };
}

// ---------------------------------------------------------------- processing steps

/** Whether a reduction's `axes` kwarg keeps channels apart: no channel axis in it. */
function perChannelOf(axes: unknown, field: string, is05: boolean): boolean {
  if (axes === undefined || axes === null) return false; // 0.5: all axes; 0.4 requires it (checked by caller)
  if (is05) {
    if (!Array.isArray(axes))
      fail('bad-rdf', field, `must be a list of axis ids; got ${JSON.stringify(axes)}`);
    return !axes.map(String).some((a) => a === 'channel' || a === 'c');
  }
  if (typeof axes !== 'string')
    fail('bad-rdf', field, `must be a string of axis letters; got ${JSON.stringify(axes)}`);
  return !axes.includes('c');
}

function readOps(list: unknown, field: string, is05: boolean, tensorAxes: string): BioimageOp[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) fail('bad-rdf', field, 'must be a list of steps');
  return list.map((step, i) => readOp(step, `${field}[${i}]`, is05, tensorAxes));
}

function readOp(step: unknown, field: string, is05: boolean, tensorAxes: string): BioimageOp {
  if (!isObj(step)) fail('bad-rdf', field, 'must be a mapping');
  const name = is05 ? step.id : step.name;
  const nameField = `${field}.${is05 ? 'id' : 'name'}`;
  if (typeof name !== 'string') fail('bad-rdf', nameField, 'must name the operation');
  const kw = step.kwargs === undefined ? {} : step.kwargs;
  if (!isObj(kw)) fail('bad-rdf', `${field}.kwargs`, 'must be a mapping');
  const k = `${field}.kwargs`;
  const mode = kw.mode;
  const checkMode = (allowed: string[]): void => {
    if (!is05 && mode !== undefined && !allowed.includes(String(mode)))
      fail(
        'unsupported-processing',
        `${k}.mode`,
        `'${String(mode)}' is not supported for ${name}; supported: ${allowed.join(', ')}`,
      );
  };
  const eps = (fallback: number): number => (kw.eps === undefined ? fallback : num(kw.eps, `${k}.eps`));
  const channelAxisCheck = (): void => {
    if (kw.axis !== undefined && kw.axis !== 'channel' && kw.axis !== 'c')
      fail(
        'unsupported-processing',
        `${k}.axis`,
        `per-axis values are supported along the channel axis only; got ${JSON.stringify(kw.axis)}`,
      );
  };
  switch (name) {
    case 'zero_mean_unit_variance': {
      if (!is05 && mode === 'fixed') {
        return {
          op: 'fixed_zero_mean_unit_variance',
          mean: numOrList(kw.mean, `${k}.mean`),
          std: numOrList(kw.std, `${k}.std`),
          eps: eps(1e-6),
        };
      }
      checkMode(['per_sample', 'fixed']);
      return {
        op: 'zero_mean_unit_variance',
        perChannel: perChannelOf(kw.axes, `${k}.axes`, is05),
        eps: eps(1e-6),
      };
    }
    case 'fixed_zero_mean_unit_variance':
      channelAxisCheck();
      return {
        op: 'fixed_zero_mean_unit_variance',
        mean: numOrList(kw.mean, `${k}.mean`),
        std: numOrList(kw.std, `${k}.std`),
        eps: eps(1e-6),
      };
    case 'scale_range': {
      checkMode(['per_sample']);
      if (kw.reference_tensor !== undefined && kw.reference_tensor !== null)
        fail(
          'unsupported-processing',
          `${k}.reference_tensor`,
          'scale_range relative to another tensor is not supported',
        );
      const lo = kw.min_percentile === undefined ? 0 : num(kw.min_percentile, `${k}.min_percentile`);
      const hi = kw.max_percentile === undefined ? 100 : num(kw.max_percentile, `${k}.max_percentile`);
      if (!(lo >= 0 && lo < hi && hi <= 100))
        fail(
          'bad-rdf',
          k,
          `percentiles must satisfy 0 <= min_percentile < max_percentile <= 100; got ${lo}, ${hi}`,
        );
      return {
        op: 'scale_range',
        perChannel: perChannelOf(kw.axes, `${k}.axes`, is05),
        minPercentile: lo,
        maxPercentile: hi,
        eps: eps(1e-6),
      };
    }
    case 'scale_linear':
      channelAxisCheck();
      if (
        !is05 &&
        kw.axes !== undefined &&
        typeof kw.axes === 'string' &&
        kw.axes.length > 0 &&
        kw.axes !== 'c' &&
        Array.isArray(kw.gain)
      )
        fail(
          'unsupported-processing',
          `${k}.axes`,
          'per-axis gain/offset is supported along the channel axis only',
        );
      return {
        op: 'scale_linear',
        gain: kw.gain === undefined ? 1 : numOrList(kw.gain, `${k}.gain`),
        offset: kw.offset === undefined ? 0 : numOrList(kw.offset, `${k}.offset`),
      };
    case 'clip':
      return {
        op: 'clip',
        ...(kw.min !== undefined && kw.min !== null ? { min: num(kw.min, `${k}.min`) } : {}),
        ...(kw.max !== undefined && kw.max !== null ? { max: num(kw.max, `${k}.max`) } : {}),
      };
    case 'binarize':
      channelAxisCheck();
      return { op: 'binarize', threshold: numOrList(kw.threshold, `${k}.threshold`) };
    case 'sigmoid':
      return { op: 'sigmoid' };
    case 'ensure_dtype': {
      const dtype = str(kw.dtype, `${k}.dtype`);
      if (!(BIOIMAGE_DTYPES as readonly string[]).includes(dtype))
        fail(
          'unsupported-processing',
          `${k}.dtype`,
          `'${dtype}' is not supported; supported: ${BIOIMAGE_DTYPES.join(', ')}`,
        );
      return { op: 'ensure_dtype', dtype };
    }
    default:
      void tensorAxes;
      return fail(
        'unsupported-processing',
        nameField,
        `operation '${name}' is not supported; supported: zero_mean_unit_variance, fixed_zero_mean_unit_variance, scale_range, scale_linear, clip, binarize, sigmoid, ensure_dtype`,
      );
  }
}

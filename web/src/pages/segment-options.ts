/**
 * The Segment page's options form: job type and model (from the API), image resolution (µm/px, or the
 * objective and camera), channels and dimension order — each with a plain-language help text.
 */
import { api, type JobType, type ModelInfo, type SegmentationOptions } from '../api.js';
import { field, h, replace } from '../dom.js';
import {
  DEFAULT_CAMERA_PIXEL_UM,
  formatMicrons,
  micronsPerPixelFromObjective,
  parseChannels,
} from '../lib/units.js';

export interface ChosenOptions {
  readonly type: string;
  readonly model?: string;
  readonly modelVersion?: string;
  readonly options: SegmentationOptions;
}

export interface OptionsForm {
  readonly element: HTMLElement;
  /** The options, or an error message with the control to focus. */
  read(): { ok: true; value: ChosenOptions } | { ok: false; message: string; control: HTMLElement };
}

const DIMENSION_ORDERS: [string, string][] = [
  ['', 'As the file says (recommended)'],
  ['XY', 'XY — one grey image'],
  ['XYC', 'XYC — channels last (e.g. RGB)'],
  ['CXY', 'CXY — channels first'],
  ['ZXY', 'ZXY — a z-stack, each plane segmented'],
  ['ZXYC', 'ZXYC — z-stack, channels last'],
  ['ZCXY', 'ZCXY — z-stack, channels first'],
  ['TXY', 'TXY — a time series, each frame segmented'],
];

const OBJECTIVES = [4, 5, 10, 20, 40, 60, 63, 100];

export function optionsForm(): OptionsForm {
  const typeSel = h('select', {}, h('option', { value: 'segmentation' }, 'segmentation'));
  const modelSel = h('select', {}, h('option', { value: '' }, 'loading models…'));
  const modelHelp = h('p', { class: 'help', id: 'model-card-help' });
  let jobTypes: JobType[] = [];
  let models: ModelInfo[] = [];

  const fillModels = () => {
    const t = jobTypes.find((j) => j.name === typeSel.value);
    const names = [...new Set(models.map((m) => m.name))];
    if (names.length === 0) {
      replace(modelSel, h('option', { value: '' }, 'no models available'));
      return;
    }
    const opts: HTMLOptionElement[] = [];
    for (const name of names) {
      const versions = models.filter((m) => m.name === name).map((m) => m.version);
      const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
      opts.push(h('option', { value: `${name}@` }, `${name} (newest: v${newest})`));
      for (const v of versions) opts.push(h('option', { value: `${name}@${v}` }, `${name} v${v}`));
    }
    replace(modelSel, ...opts);
    const preferred = t?.defaultModel && names.includes(t.defaultModel) ? t.defaultModel : names[0];
    modelSel.value = `${preferred}@`;
    describeModel();
  };
  const describeModel = () => {
    const [name, version] = modelSel.value.split('@');
    const versions = models.filter((m) => m.name === name);
    const m = version
      ? versions.find((x) => x.version === version)
      : versions.sort((a, b) => Number(b.version) - Number(a.version))[0];
    const input = m?.card?.input as { mpp?: unknown } | undefined;
    const mpp = input?.mpp ?? m?.card?.micronsPerPixel;
    const task = m?.card?.task ?? m?.card?.description;
    modelHelp.textContent =
      [
        typeof task === 'string' ? `${task[0]!.toUpperCase()}${task.slice(1).replace(/-/g, ' ')}.` : '',
        typeof mpp === 'number'
          ? `Trained on images at ${formatMicrons(mpp)} µm/px; yours are rescaled to match.`
          : '',
      ]
        .filter(Boolean)
        .join(' ') || 'The network that finds the nuclei. The newest version is usually best.';
  };
  modelSel.addEventListener('change', describeModel);
  typeSel.addEventListener('change', fillModels);

  Promise.all([api.jobTypes(), api.models()]).then(
    ([t, m]) => {
      jobTypes = t;
      models = m;
      replace(typeSel, ...t.map((j) => h('option', { value: j.name, title: j.description ?? '' }, j.name)));
      fillModels();
    },
    (err: unknown) => {
      replace(modelSel, h('option', { value: '' }, 'models unavailable'));
      modelHelp.textContent = `Could not load the models: ${err instanceof Error ? err.message : String(err)}`;
    },
  );

  // Resolution: estimate / µm per pixel / objective.
  const mode = (v: string, label: string, checked = false) =>
    h('label', { class: 'radio' }, h('input', { type: 'radio', name: 'res-mode', value: v, checked }), label);
  const mppInput = h('input', {
    type: 'number',
    step: 'any',
    min: '0',
    placeholder: 'e.g. 0.65',
    'aria-label': 'micrometres per pixel',
  });
  const objSel = h(
    'select',
    { 'aria-label': 'objective magnification' },
    ...OBJECTIVES.map((m) => h('option', { value: m }, `${m}×`)),
  );
  objSel.value = '20';
  const camInput = h('input', {
    type: 'number',
    step: 'any',
    min: '0',
    value: String(DEFAULT_CAMERA_PIXEL_UM),
    'aria-label': 'camera pixel size in micrometres',
  });
  const binSel = h(
    'select',
    { 'aria-label': 'camera binning' },
    ...[1, 2, 3, 4].map((b) => h('option', { value: b }, `binning ${b}×${b}`)),
  );
  const objResult = h('p', { class: 'help', 'aria-live': 'polite' });
  const mppRow = h(
    'div',
    { class: 'inline', hidden: true },
    mppInput,
    h('span', { class: 'muted' }, 'µm per pixel'),
  );
  const objRow = h(
    'div',
    { hidden: true },
    h('div', { class: 'inline' }, objSel, camInput, binSel),
    objResult,
  );
  const resSet = h(
    'fieldset',
    { 'aria-describedby': 'res-help' },
    h('legend', {}, 'Image resolution'),
    mode('auto', 'Estimate it from the image (segments twice, a little slower)', true),
    mode('mpp', 'I know the pixel size (µm per pixel)'),
    mppRow,
    mode('objective', 'I know the objective magnification'),
    objRow,
    h(
      'p',
      { class: 'help', id: 'res-help' },
      'How big one pixel is in your sample, so nuclei are seen at the size the model learned. Fiji shows it under Image › Properties. ',
      'With the objective: camera pixel size (6.5 µm for most sCMOS cameras) × binning ÷ magnification.',
    ),
  );
  const currentMode = () =>
    resSet.querySelector<HTMLInputElement>('input[name=res-mode]:checked')?.value ?? 'auto';
  const updateRes = () => {
    mppRow.hidden = currentMode() !== 'mpp';
    objRow.hidden = currentMode() !== 'objective';
    try {
      objResult.textContent = `= ${formatMicrons(micronsPerPixelFromObjective(Number(objSel.value), Number(camInput.value), Number(binSel.value)))} µm per pixel`;
    } catch (err) {
      objResult.textContent = (err as Error).message;
    }
  };
  resSet.addEventListener('change', updateRes);
  resSet.addEventListener('input', updateRes);
  updateRes();

  const channels = h('input', { type: 'text', value: '0', inputmode: 'numeric', autocomplete: 'off' });
  const dimSel = h('select', {}, ...DIMENSION_ORDERS.map(([v, label]) => h('option', { value: v }, label)));

  const element = h(
    'div',
    {},
    field('job-type', 'Job type', typeSel, 'What to do with the images.'),
    h('div', { class: 'field' }, h('label', { for: 'model' }, 'Model'), modelSel, modelHelp),
    resSet,
    field(
      'channels',
      'Nuclear channel(s)',
      channels,
      'Which channel shows the nuclei, counting from 0 (for RGB images: 0 = red, 1 = green, 2 = blue). Several: 0, 1.',
    ),
    field(
      'dimension-order',
      'Dimension order',
      dimSel,
      'How the axes of your files are laid out. Leave it on "As the file says" unless results look scrambled.',
    ),
  );
  modelSel.id = 'model';
  modelSel.setAttribute('aria-describedby', modelHelp.id);

  return {
    element,
    read() {
      const options: SegmentationOptions = {};
      try {
        options.channels = parseChannels(channels.value);
        channels.removeAttribute('aria-invalid');
      } catch (err) {
        channels.setAttribute('aria-invalid', 'true');
        return { ok: false, message: `Nuclear channel(s): ${(err as Error).message}`, control: channels };
      }
      const m = currentMode();
      if (m === 'mpp') {
        const v = Number(mppInput.value);
        if (!(mppInput.value !== '' && Number.isFinite(v) && v > 0)) {
          mppInput.setAttribute('aria-invalid', 'true');
          return {
            ok: false,
            message: 'Pixel size: enter a number of µm per pixel greater than 0, e.g. 0.65',
            control: mppInput,
          };
        }
        mppInput.removeAttribute('aria-invalid');
        options.micronsPerPixel = v;
      } else if (m === 'objective') {
        try {
          options.micronsPerPixel = micronsPerPixelFromObjective(
            Number(objSel.value),
            Number(camInput.value),
            Number(binSel.value),
          );
        } catch (err) {
          return { ok: false, message: `Objective: ${(err as Error).message}`, control: camInput };
        }
      }
      if (dimSel.value) options.dimensionOrder = dimSel.value;
      const [model, version] = modelSel.value.split('@');
      return {
        ok: true,
        value: {
          type: typeSel.value || 'segmentation',
          ...(model ? { model } : {}),
          ...(version ? { modelVersion: version } : {}),
          options,
        },
      };
    },
  };
}

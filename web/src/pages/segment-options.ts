/**
 * The Segment page's options form: job type and model (from the API), image resolution (µm/px, or the
 * objective and camera), channels and dimension order — each with a plain-language help text.
 */
import { api, type JobType, type ModelInfo, type SegmentationOptions } from '../api.js';
import { field, h, replace } from '../dom.js';
import { formatMicrons, parseChannels } from '../lib/units.js';
import { cellModelField } from './segment-cell-model.js';
import { resolutionField } from './segment-resolution.js';

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

const NUCLEAR_LABEL = 'Nuclear channel(s)';
const NUCLEAR_HELP =
  'Which channel shows the nuclei, counting from 0 (for RGB images: 0 = red, 1 = green, 2 = blue). Several: 0, 1.';

/** The type's channel list when it is fixed (the model does not decide it), else undefined. */
function fixedChannels(t: JobType | undefined) {
  return t?.input && !t.input.channelsFromModel ? t.input.channels : undefined;
}

/** The chooser's option: name and channels, e.g. `whole-cell — nuclear + membrane`. */
function typeOption(t: JobType): string {
  const ch = t.input?.channels.map((c) => c.name);
  return ch?.length ? `${t.name} — ${ch.join(' + ')}` : t.name;
}

/** The chosen type in words: what it does, each channel with what it shows, and what comes out. */
function typeSummary(t: JobType): string {
  const ch = t.input?.channels ?? [];
  const outs = t.outputs ?? [];
  return [
    t.description ? `${t.description[0]!.toUpperCase()}${t.description.slice(1)}.` : '',
    ch.length
      ? `Channels: ${ch.map((c) => `${c.name} (${c.description})`).join('; ')}${t.input?.channelsFromModel ? ', as many as the model takes' : ''}.`
      : '',
    outs.length > 1 ? `Gives ${outs.length} label images: ${outs.map((o) => o.name).join(', ')}.` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

/** How many indices a channel list holds (0 when it does not parse). */
function parseCount(text: string): number {
  try {
    return parseChannels(text).length;
  } catch {
    return 0;
  }
}

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
      cellModel.setModels(m);
      replace(
        typeSel,
        ...t.map((j) => h('option', { value: j.name, title: j.description ?? '' }, typeOption(j))),
      );
      describeType();
      fillModels();
    },
    (err: unknown) => {
      replace(modelSel, h('option', { value: '' }, 'models unavailable'));
      modelHelp.textContent = `Could not load the models: ${err instanceof Error ? err.message : String(err)}`;
    },
  );

  const resolution = resolutionField();
  const cellModel = cellModelField();
  const channels = h('input', {
    type: 'text',
    value: '0',
    inputmode: 'numeric',
    autocomplete: 'off',
    id: 'channels',
    'aria-describedby': 'channels-help',
  });
  const channelsLabel = h('label', { for: 'channels' }, NUCLEAR_LABEL);
  const channelsHelp = h('p', { class: 'help', id: 'channels-help' }, NUCLEAR_HELP);
  const typeHelp = h('p', { class: 'help', id: 'job-type-help', 'data-testid': 'job-type-help' });
  typeSel.id = 'job-type';
  typeSel.setAttribute('aria-describedby', typeHelp.id);
  /** The chosen type's channels and outputs under the chooser; the channel field asks for each channel. */
  const describeType = () => {
    const t = jobTypes.find((j) => j.name === typeSel.value);
    typeHelp.textContent = t ? typeSummary(t) : 'What to do with the images.';
    const fixed = fixedChannels(t);
    channelsLabel.textContent = fixed ? `Channels: ${fixed.map((c) => c.name).join(', ')}` : NUCLEAR_LABEL;
    channelsHelp.textContent = fixed
      ? `For each of ${fixed.map((c) => c.name).join(' and ')}, in this order, the channel of your files that shows it, counting from 0 (RGB: 0 = red, 1 = green, 2 = blue), e.g. ${fixed.map((_, i) => i).join(', ')}.`
      : NUCLEAR_HELP;
    if (fixed && parseCount(channels.value) !== fixed.length)
      channels.value = fixed.map((_, i) => i).join(', ');
    cellModel.showFor(typeSel.value);
    volumeRow.hidden = !t?.input?.axes.includes('ZYX');
    if (volumeRow.hidden) volumeBox.checked = false;
  };
  const volumeBox = h('input', { type: 'checkbox', id: 'volume', 'aria-describedby': 'volume-help' });
  const volumeRow = h(
    'div',
    { class: 'field', hidden: true },
    h('label', { class: 'radio' }, volumeBox, 'My files are z-stacks: segment each in 3-D'),
    h(
      'p',
      { class: 'help', id: 'volume-help' },
      'Each plane is segmented at one scale and the planes are joined across z: one 3-D label TIFF (ZYX) per stack.',
    ),
  );
  typeSel.addEventListener('change', describeType);
  const dimSel = h('select', {}, ...DIMENSION_ORDERS.map(([v, label]) => h('option', { value: v }, label)));

  const element = h(
    'div',
    {},
    h('div', { class: 'field' }, h('label', { for: 'job-type' }, 'Job type'), typeSel, typeHelp),
    h('div', { class: 'field' }, h('label', { for: 'model' }, 'Model'), modelSel, modelHelp),
    cellModel.element,
    resolution.element,
    h('div', { class: 'field' }, channelsLabel, channels, channelsHelp),
    volumeRow,
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
        return {
          ok: false,
          message: `${channelsLabel.textContent}: ${(err as Error).message}`,
          control: channels,
        };
      }
      const fixed = fixedChannels(jobTypes.find((j) => j.name === typeSel.value));
      if (fixed && options.channels.length !== fixed.length) {
        channels.setAttribute('aria-invalid', 'true');
        const names = fixed.map((c) => c.name).join(', ');
        return {
          ok: false,
          message: `Channels: ${typeSel.value} takes ${fixed.length} channels (${names}); give one index for each, e.g. ${fixed.map((_, i) => i).join(', ')}`,
          control: channels,
        };
      }
      const res = resolution.read();
      if (!res.ok) return res;
      if (res.micronsPerPixel !== undefined) options.micronsPerPixel = res.micronsPerPixel;
      if (dimSel.value) options.dimensionOrder = dimSel.value;
      if (volumeBox.checked && !volumeRow.hidden) options.volume = true;
      const cells = cellModel.read();
      if (cells) options.cellModel = cells;
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

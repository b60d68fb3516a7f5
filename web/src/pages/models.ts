/**
 * Models: the registry, every model and version with its card — what it does, the input it expects
 * (µm/px, nucleus size, normalization), how it was trained and its validation figures. Card fields it does
 * not know are shown too, as they are (one level of nesting), so nothing a card says is hidden.
 */
import { api, type ModelInfo } from '../api.js';
import { h, replace } from '../dom.js';
import type { Page } from '../main.js';

/** Plain names of card fields; anything else is shown under its own key. */
const LABELS: Record<string, string> = {
  task: 'Task',
  description: 'About',
  'input.mpp': 'Trained at (µm/px)',
  'input.targetDiameterPx': 'Nucleus diameter (px)',
  'input.typicalNucleusDiameterUm': 'Typical nucleus (µm)',
  'input.channels': 'Channels',
  'input.normalization': 'Normalization',
  'input.sizeMultiple': 'Size multiple (px)',
  'validation.f1_50': 'F1 @ IoU 0.5',
  'validation.precision_50': 'Precision @ 0.5',
  'validation.recall_50': 'Recall @ 0.5',
  'validation.dsb': 'DSB score',
  'validation.images': 'Images',
  'validation.data': 'Data',
  params: 'Parameters',
};
const SECTIONS = ['input', 'training', 'validation', 'robustness'];
const SKIP = new Set(['name', 'version', 'network', 'outputs', 'postprocess']);

/** A card value as short text; objects one level deep as `key: value` pairs. */
export function showValue(v: unknown): string {
  if (typeof v === 'number')
    return Number.isInteger(v) ? v.toLocaleString('en') : String(Number(v.toPrecision(4)));
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Array.isArray(v)) return v.map(showValue).join(', ');
  if (v && typeof v === 'object')
    return Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${k}: ${typeof x === 'object' && x !== null ? JSON.stringify(x) : showValue(x)}`)
      .join(' · ');
  return String(v);
}

const isRowList = (v: unknown): v is Record<string, unknown>[] =>
  Array.isArray(v) &&
  v.length > 0 &&
  v.every((x) => x !== null && typeof x === 'object' && !Array.isArray(x));

/** A list of records (e.g. the training history per epoch) as a small table. */
function table(label: string, list: Record<string, unknown>[]): HTMLElement {
  const cols = [...new Set(list.flatMap((r) => Object.keys(r)))];
  return h(
    'table',
    { 'aria-label': label, style: 'margin:6px 0 10px' },
    h('thead', {}, h('tr', {}, ...cols.map((c) => h('th', { class: 'num' }, c)))),
    h(
      'tbody',
      {},
      ...list.map((r) =>
        h('tr', {}, ...cols.map((c) => h('td', { class: 'num' }, r[c] === undefined ? '' : showValue(r[c])))),
      ),
    ),
  );
}

function rows(obj: Record<string, unknown>, prefix: string): HTMLElement[] {
  const out: HTMLElement[] = [];
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v === undefined || v === null) continue;
    if (isRowList(v)) out.push(h('dt', {}, LABELS[key] ?? k), h('dd', {}, table(LABELS[key] ?? k, v)));
    else out.push(h('dt', {}, LABELS[key] ?? k), h('dd', {}, showValue(v)));
  }
  return out;
}

function card(m: ModelInfo): HTMLElement {
  const c = m.card ?? {};
  const top: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c)) if (!SKIP.has(k) && !SECTIONS.includes(k)) top[k] = v;
  const sections = SECTIONS.filter((s) => c[s] && typeof c[s] === 'object').map((s) =>
    h(
      'section',
      {},
      h('h3', { style: 'font-size:14px;margin:12px 0 4px' }, s[0]!.toUpperCase() + s.slice(1)),
      h('dl', { class: 'kv' }, ...rows(c[s] as Record<string, unknown>, s)),
    ),
  );
  return h(
    'article',
    { class: 'panel', 'aria-label': `${m.name} version ${m.version}` },
    h(
      'h2',
      {},
      `${m.name} `,
      h('span', { class: 'muted' }, `v${m.version}`),
      ' ',
      m.source ? h('span', { class: 'badge' }, m.source) : null,
    ),
    Object.keys(c).length
      ? h('dl', { class: 'kv' }, ...rows(top, ''))
      : h('p', { class: 'muted' }, 'This model has no card.'),
    ...sections,
  );
}

export const mountModels: Page = (root) => {
  const list = h('div', { class: 'cards' }, h('p', { class: 'muted' }, 'Loading…'));
  root.append(h('h1', {}, 'Models'), list);
  let alive = true;
  api.models().then(
    (models) => {
      if (!alive) return;
      const sorted = [...models].sort(
        (a, b) => a.name.localeCompare(b.name) || Number(b.version) - Number(a.version),
      );
      replace(
        list,
        ...(sorted.length ? sorted.map(card) : [h('p', { class: 'muted' }, 'No models are registered.')]),
      );
    },
    (err: unknown) =>
      alive &&
      replace(list, h('p', { class: 'notice bad' }, `Could not load models: ${(err as Error).message}`)),
  );
  return () => (alive = false);
};

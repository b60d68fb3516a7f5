/** Models: the registry — every model and version with its card (training data, µm/px, validation figures). */
import { api, type ModelInfo } from '../api.js';
import { h, replace } from '../dom.js';
import { formatMicrons } from '../lib/units.js';
import type { Page } from '../main.js';

/** Card fields shown first, with plain names; anything else the card holds follows as it is. */
const KNOWN: [string, string][] = [
  ['task', 'Task'],
  ['description', 'About'],
  ['micronsPerPixel', 'Trained at (µm/px)'],
  ['mpp', 'Trained at (µm/px)'],
  ['trainingData', 'Training data'],
  ['data', 'Training data'],
  ['normalization', 'Normalization'],
  ['validation', 'Validation'],
  ['metrics', 'Validation'],
  ['createdAt', 'Created'],
  ['parent', 'Fine-tuned from'],
];

function show(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : formatMicrons(v);
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.every((x) => typeof x !== 'object')) return v.join(', ');
  if (v && typeof v === 'object')
    return (
      Object.entries(v as Record<string, unknown>)
        .filter(([, x]) => typeof x !== 'object' || x === null)
        .map(([k, x]) => `${k}: ${typeof x === 'number' && !Number.isInteger(x) ? x.toFixed(3) : String(x)}`)
        .join(' · ') || JSON.stringify(v).slice(0, 200)
    );
  return String(v);
}

function card(m: ModelInfo): HTMLElement {
  const c = m.card ?? {};
  const rows: HTMLElement[] = [];
  const seen = new Set(['name', 'version']);
  for (const [k, label] of KNOWN) {
    if (c[k] === undefined || seen.has(label)) continue;
    seen.add(label);
    seen.add(k);
    rows.push(h('dt', {}, label), h('dd', {}, show(c[k])));
  }
  for (const [k, v] of Object.entries(c)) {
    if (seen.has(k) || (typeof v === 'object' && v !== null && JSON.stringify(v).length > 400)) continue;
    rows.push(h('dt', {}, k), h('dd', {}, show(v)));
  }
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
    rows.length ? h('dl', { class: 'kv' }, ...rows) : h('p', { class: 'muted' }, 'This model has no card.'),
    h(
      'div',
      { class: 'actions', style: 'margin-top:12px' },
      h('a', { class: 'button small', href: `/v1/models`, target: '_blank' }, 'Raw card (JSON)'),
    ),
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

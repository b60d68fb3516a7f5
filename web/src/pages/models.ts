/**
 * Models: every model and version, each as what a biologist needs to choose one (lib/model-summary.ts):
 * what it segments, the input it wants, the pixel size it was trained at, its accuracy in words and
 * numbers, what it was trained on, where it came from, and the model's version history. The full
 * card.json is one click away (a <details> under each), so nothing the card says is hidden. Above the list,
 * a form imports a bioimage.io model package (POST /v1/models/import).
 */
import { api, type ModelInfo } from '../api.js';
import { field, h, replace } from '../dom.js';
import { summarizeCard } from '../lib/model-summary.js';
import type { Page } from '../page.js';

const f1Of = (m: ModelInfo): number | undefined => {
  const v = (m.card?.validation as { f1_50?: unknown } | undefined)?.f1_50;
  return typeof v === 'number' ? v : undefined;
};

/** How a version imported from a bioimage.io package came to be (its card's `bioimageio` section), else undefined. */
function importedFrom(m: ModelInfo): string | undefined {
  const section = m.card?.['bioimageio'] as { formatVersion?: unknown } | undefined;
  if (!section) return undefined;
  const format = typeof section.formatVersion === 'string' ? ` (format ${section.formatVersion})` : '';
  return `imported from a bioimage.io package${format}`;
}

/** One line per version of the model, newest first; this card's own is marked. */
function history(m: ModelInfo, versions: readonly ModelInfo[]): HTMLElement {
  return h(
    'ol',
    { class: 'versions', 'aria-label': `Versions of ${m.name}`, reversed: true },
    ...versions.map((v) => {
      const s = summarizeCard(v.card ?? {});
      const f1 = f1Of(v);
      const self = v.version === m.version;
      return h(
        'li',
        { 'data-version': v.version, ...(self ? { 'aria-current': 'true' } : {}) },
        h('strong', {}, `v${v.version}`),
        self ? ' (this card)' : '',
        ' — ',
        importedFrom(v) ??
          (s.parent && s.parent !== `${v.name} v${v.version}` ? `fine-tuned from ${s.parent}` : 'trained'),
        s.trainingData ? ` on ${s.trainingData.replace(/\.$/, '')}` : '',
        f1 !== undefined ? ` · F1 ${f1.toFixed(3)}` : ' · not validated',
      );
    }),
  );
}

function card(m: ModelInfo, versions: readonly ModelInfo[]): HTMLElement {
  const c = m.card ?? {};
  const s = summarizeCard(c);
  const row = (label: string, ...value: (Node | string | null)[]) => [
    h('dt', {}, label),
    h('dd', { 'data-field': label }, ...value),
  ];
  const parent =
    s.parent === undefined
      ? null
      : s.parent === `${m.name} v${m.version}`
        ? 'an earlier training run of this same version (continued)'
        : s.parent;
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
      versions[0]?.version === m.version && versions.length > 1
        ? h('span', { class: 'badge badge-done', style: 'margin-left:6px' }, 'newest')
        : null,
    ),
    Object.keys(c).length
      ? h(
          'dl',
          { class: 'kv' },
          ...row('Segments', s.segments),
          ...(s.input ? row('Input', s.input) : []),
          ...(s.pixelSize ? row('Pixel size', s.pixelSize) : []),
          ...row(
            'Accuracy',
            ...(s.accuracy
              ? [
                  h('div', {}, s.accuracy.words),
                  h('div', { class: 'muted' }, s.accuracy.numbers.join(' · ')),
                  ...s.accuracy.notes.map((n) => h('div', { class: 'help' }, n)),
                ]
              : ['Not measured: this version has no validation figures.']),
          ),
          ...(s.trainingData ? row('Trained on', s.trainingData) : []),
          ...(s.training ? row('Training', s.training) : []),
          ...(parent ? row('Fine-tuned from', parent) : []),
          ...row('Versions', history(m, versions)),
        )
      : h('p', { class: 'muted' }, 'This model has no card.'),
    Object.keys(c).length
      ? h(
          'details',
          { class: 'full-card' },
          h('summary', {}, 'Full card (card.json)'),
          h('pre', { 'data-testid': 'card-json' }, JSON.stringify(c, null, 2)),
        )
      : null,
  );
}

/**
 * The Import form: a bioimage.io package (.zip) and an optional name go to POST /v1/models/import; a CPU
 * worker checks the package and runs its test, and the status line says what happened — the API's reason
 * when it refuses the package. `imported` refreshes the list.
 */
function importForm(imported: () => void, alive: () => boolean): HTMLElement {
  const file = h('input', { type: 'file', accept: '.zip,application/zip' });
  const name = h('input', { type: 'text', placeholder: "the package's own name", autocomplete: 'off' });
  const status = h('p', { id: 'import-status', class: 'help', role: 'status', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', class: 'primary', id: 'import-button' }, 'Import');
  const say = (text: string, tone?: 'bad' | 'ok') => {
    if (!alive()) return;
    status.textContent = text;
    status.className = tone === 'bad' ? 'notice bad' : tone === 'ok' ? 'notice' : 'help';
  };
  const form = h(
    'form',
    { class: 'panel', 'aria-labelledby': 'import-title' },
    h('h2', { id: 'import-title' }, 'Import a bioimage.io model'),
    field(
      'import-package',
      'Package (.zip)',
      file,
      'A bioimage.io model package (format 0.4 or 0.5) with ONNX weights. Its own test is run before it is added to your models.',
    ),
    field(
      'import-name',
      'Name (optional)',
      name,
      'Letters, digits, - and _; empty: the name the package gives.',
    ),
    button,
    status,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const pkg = file.files?.[0];
    if (!pkg) return say('Choose a package (.zip) first.', 'bad');
    button.disabled = true;
    say(`Uploading ${pkg.name}…`);
    api
      .importModel(pkg, name.value.trim() || undefined, (stage, f) =>
        say(
          stage === 'uploading'
            ? `Uploading ${pkg.name}… ${Math.round((f ?? 0) * 100)} %`
            : 'Importing… running its test',
        ),
      )
      .then(
        (m) => {
          say(
            `Imported ${m.name} v${m.version}: its test ${m.test.passed === false ? 'did not pass' : 'passed'}; ` +
              `labels by ${m.labels}.`,
            'ok',
          );
          form.reset();
          imported();
        },
        (err: unknown) => say(`Not imported: ${(err as Error).message}`, 'bad'),
      )
      .finally(() => (button.disabled = false));
  });
  return form;
}

export const mountModels: Page = (root) => {
  const list = h('div', { class: 'cards' }, h('p', { class: 'muted' }, 'Loading…'));
  let alive = true;
  const load = () =>
    api.models().then(
      (models) => {
        if (!alive) return;
        const sorted = [...models].sort(
          (a, b) => a.name.localeCompare(b.name) || Number(b.version) - Number(a.version),
        );
        const byName = new Map<string, ModelInfo[]>();
        for (const m of sorted) byName.set(m.name, [...(byName.get(m.name) ?? []), m]);
        replace(
          list,
          ...(sorted.length
            ? sorted.map((m) => card(m, byName.get(m.name)!))
            : [h('p', { class: 'muted' }, 'No models are registered.')]),
        );
      },
      (err: unknown) =>
        alive &&
        replace(list, h('p', { class: 'notice bad' }, `Could not load models: ${(err as Error).message}`)),
    );
  root.append(
    h('h1', {}, 'Models'),
    importForm(
      () => void load(),
      () => alive,
    ),
    list,
  );
  void load();
  return () => (alive = false);
};

/**
 * One training's live view for the Train page: status, progress, queue position, a Cancel button while it
 * runs, the new model when done (and which epoch it was saved from), and charts of loss and validation
 * (F1 @ IoU 0.5, DSB score) per epoch as SVG, plus the epoch table.
 */
import { h, progressBar, statusBadge } from '../dom.js';
import { layoutChart, type Series } from '../lib/chart.js';
import {
  CANCELLED_REASON,
  remainingSeconds,
  trainingHeadline,
  type EpochProgress,
  type TrainingView,
} from '../lib/training.js';
import { formatDuration } from '../lib/units.js';

const COLOURS = ['#1f5fbf', '#d9480f', '#2b8a3e'];

function chart(
  title: string,
  series: Series[],
  xRange: [number, number],
  yRange?: [number, number],
  yFloor?: number,
): HTMLElement {
  const W = 520;
  const H = 220;
  const l = layoutChart(series, {
    width: W,
    height: H,
    pad: 34,
    xRange,
    ...(yRange ? { yRange } : {}),
    ...(yFloor !== undefined ? { yFloor } : {}),
  });
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  const last = series.map((s) => `${s.label} ${s.points.at(-1)?.y.toFixed(3) ?? '–'}`).join(', ');
  svg.setAttribute('aria-label', `${title}: ${last}`);
  const add = (tag: string, attrs: Record<string, string>, text?: string) => {
    const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text) el.textContent = text;
    svg.append(el);
  };
  add('line', { x1: '34', y1: String(H - 34), x2: String(W - 34), y2: String(H - 34), stroke: '#c9ced6' });
  add('line', { x1: '34', y1: '34', x2: '34', y2: String(H - 34), stroke: '#c9ced6' });
  add('text', { x: '34', y: '24' }, l.yMax.toPrecision(3));
  add('text', { x: '34', y: String(H - 38), 'text-anchor': 'start' }, l.yMin.toPrecision(3));
  add('text', { x: '34', y: String(H - 16) }, `epoch ${Math.round(l.xMin)}`);
  add('text', { x: String(W - 34), y: String(H - 16), 'text-anchor': 'end' }, `epoch ${Math.round(l.xMax)}`);
  l.paths.forEach(
    (d, i) =>
      d && add('path', { d, fill: 'none', stroke: COLOURS[i % COLOURS.length]!, 'stroke-width': '2' }),
  );
  l.points.forEach((ps, i) =>
    ps.forEach(([cx, cy]) =>
      add('circle', { cx: String(cx), cy: String(cy), r: '3', fill: COLOURS[i % COLOURS.length]! }),
    ),
  );
  const legend = h(
    'div',
    { class: 'legend' },
    ...series.map((s, i) =>
      h(
        'span',
        {},
        h('span', { class: 'swatch', style: `background:${COLOURS[i % COLOURS.length]}` }),
        s.label,
      ),
    ),
  );
  return h(
    'figure',
    { style: 'margin:0' },
    h('figcaption', { style: 'font-weight:600;margin-bottom:4px' }, title),
    svg,
    legend,
  );
}

/** What the page knows beyond the training record, and what it can do with it. */
export interface TrainingViewOptions {
  /** Asks the service to cancel the training (the Cancel button shows while it has not finished). */
  readonly onCancel?: () => void;
  /** A cancel request was sent and the training has not stopped yet. */
  readonly cancelling?: boolean;
  /** The epoch whose weights became the saved model (its card's training.bestEpoch), once done. */
  readonly bestEpoch?: number;
}

export function showTraining(t: TrainingView, o: TrainingViewOptions = {}): HTMLElement {
  const epochs = t.params.epochs;
  const xr: [number, number] = [1, Math.max(2, epochs)];
  const loss: Series = {
    label: 'training loss (mean per epoch)',
    points: t.history.map((e) => ({ x: e.epoch, y: e.trainLoss })),
  };
  const f1: Series = {
    label: 'validation F1 @ IoU 0.5',
    points: t.history.filter((e) => e.valF1 !== undefined).map((e) => ({ x: e.epoch, y: e.valF1! })),
  };
  const dsb: Series = {
    label: 'validation DSB score',
    points: t.history.filter((e) => e.valDsb !== undefined).map((e) => ({ x: e.epoch, y: e.valDsb! })),
  };
  const final = t.status === 'done' || t.status === 'failed';
  const left = remainingSeconds(t);
  const best = o.bestEpoch !== undefined ? t.history.find((e) => e.epoch === o.bestEpoch) : undefined;
  const cancelled = t.status === 'failed' && t.reason === CANCELLED_REASON;
  return h(
    'div',
    { 'data-training': t.id, 'data-status': t.status },
    h(
      'div',
      { class: 'summary' },
      statusBadge(cancelled ? 'cancelled' : t.status),
      progressBar(t.progress, 'Training progress'),
      h(
        'span',
        { 'data-testid': 'train-headline' },
        trainingHeadline(t),
        left !== undefined ? ` · about ${formatDuration(left)} left (from its epochs so far)` : '',
      ),
      !final && o.onCancel
        ? h(
            'button',
            {
              type: 'button',
              class: 'small',
              disabled: o.cancelling === true,
              onclick: o.onCancel,
              'data-testid': 'cancel-training',
            },
            o.cancelling ? 'Cancelling…' : 'Cancel training',
          )
        : null,
    ),
    t.reason
      ? h(
          'p',
          { class: cancelled ? 'notice' : 'error' },
          cancelled ? 'Cancelled by the user: no model was saved.' : t.reason,
        )
      : null,
    t.model
      ? h(
          'p',
          { class: 'notice', 'data-testid': 'new-model' },
          'New model: ',
          h('strong', {}, `${t.model.name} v${t.model.version}`),
          best ? ` — saved from epoch ${best.epoch} of ${t.history.length}, ${whyBest(best)}` : '',
          ' — ',
          h('a', { href: '#/models' }, 'see its card'),
          ' or ',
          h('a', { href: '#/segment' }, 'segment with it'),
          '.',
        )
      : null,
    h(
      'div',
      { class: 'cols', style: 'grid-template-columns:1fr 1fr' },
      chart('Loss per epoch', [loss], xr, undefined, 0),
      chart('Validation per epoch (0 to 1)', [f1, dsb], xr, [0, 1]),
    ),
    h(
      'table',
      { 'aria-label': 'Epochs' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Epoch', 'Mean loss', 'Val F1', 'Val DSB', 'Time'].map((x) => h('th', { class: 'num' }, x)),
          h('th', {}, 'Saved model'),
        ),
      ),
      h(
        'tbody',
        {},
        ...t.history.map((e) =>
          h(
            'tr',
            { 'data-epoch': e.epoch, ...(e.epoch === o.bestEpoch ? { 'data-saved': 'true' } : {}) },
            h('td', { class: 'num' }, e.epoch),
            h('td', { class: 'num' }, e.trainLoss.toFixed(4)),
            h('td', { class: 'num' }, e.valF1?.toFixed(3) ?? '–'),
            h('td', { class: 'num' }, e.valDsb?.toFixed(3) ?? '–'),
            h('td', { class: 'num' }, formatDuration(e.seconds)),
            h('td', {}, e.epoch === o.bestEpoch ? h('strong', {}, '✓ this epoch') : ''),
          ),
        ),
      ),
    ),
  );
}

/** Why the service kept this epoch (workers/model/train.ts: best (F1 + DSB) / 2 on validation, else lowest loss). */
function whyBest(e: EpochProgress): string {
  return e.valF1 !== undefined
    ? `the best validation score ((F1 + DSB) / 2 = ${((e.valF1 + (e.valDsb ?? 0)) / 2).toFixed(3)})`
    : `the lowest training loss (${e.trainLoss.toFixed(4)}; no validation data)`;
}

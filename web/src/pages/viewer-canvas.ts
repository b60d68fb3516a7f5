/**
 * The Viewer's canvas and controls for one finished image job: the image (contrast window) with its labels
 * over it (outline/fill, opacity), zoom (wheel, + / − keys, buttons) and pan (drag, arrow keys), the object
 * under the mouse (id and area), the object count and the downloads. Pure parts live in ../lib.
 */
import { api, type Job } from '../api.js';
import { announce, field, h, replace } from '../dom.js';
import { contrastWindow, toGreyRgba, type Plane } from '../lib/display.js';
import type { LabelImage } from '../lib/label-file.js';
import { labelAt, labelStats, type LabelStats } from '../lib/label-stats.js';
import { renderOverlay, type OverlayMode } from '../lib/overlay.js';
import { formatDuration } from '../lib/units.js';
import { fitView, panBy, toImage, zoomAt, type View } from '../lib/viewport.js';

function offscreen(w: number, h: number): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  return c;
}

/** Draws the viewer into `root`; returns the function that stops its observers. */
export function showViewer(
  root: HTMLElement,
  job: Job,
  labels: LabelImage,
  plane: Plane | undefined,
  imageNote: string,
): () => void {
  const { width: W, height: H } = labels;
  const stats: LabelStats = labelStats(labels.data);
  const base = offscreen(W, H);
  const over = offscreen(W, H);
  const baseCtx = base.getContext('2d')!;
  const overCtx = over.getContext('2d')!;
  const overlayData = overCtx.createImageData(W, H);
  let mode: OverlayMode = 'outline';
  let opacity = 0.9;
  let saturate = 0.5;
  let hovered = 0;
  let view: View = { scale: 1, tx: 0, ty: 0 };

  const canvas = h('canvas', {
    tabindex: 0,
    'aria-label': `${job.name} with ${stats.count} labelled objects. Arrow keys pan, + and − zoom, 0 fits.`,
    'data-testid': 'viewer-canvas',
  });
  const wrap = h('div', { class: 'canvas-wrap' }, canvas);
  const hover = h('div', { class: 'hover', 'aria-live': 'off', hidden: true, 'data-testid': 'hover' });
  wrap.append(hover);
  const ctx = canvas.getContext('2d')!;

  const drawBase = () => {
    if (plane) {
      const sized = plane.width === W && plane.height === H ? plane : undefined;
      const p = sized ?? plane;
      const [lo, hi] = contrastWindow(p, saturate);
      const img = new ImageData(p.width, p.height);
      toGreyRgba(p, lo, hi, img.data);
      if (sized) baseCtx.putImageData(img, 0, 0);
      else {
        const tmp = offscreen(p.width, p.height);
        tmp.getContext('2d')!.putImageData(img, 0, 0);
        baseCtx.drawImage(tmp, 0, 0, W, H);
      }
    } else {
      baseCtx.fillStyle = '#000';
      baseCtx.fillRect(0, 0, W, H);
    }
  };
  const drawOverlay = () => {
    renderOverlay(labels.data, W, H, { mode, opacity, highlight: hovered, out: overlayData.data });
    overCtx.putImageData(overlayData, 0, 0);
  };
  let frame = 0;
  const paint = () => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      const r = canvas.getBoundingClientRect();
      const dpr = window.devicePixelRatio || 1;
      const cw = Math.max(1, Math.round(r.width * dpr));
      const ch = Math.max(1, Math.round(r.height * dpr));
      if (canvas.width !== cw || canvas.height !== ch) {
        canvas.width = cw;
        canvas.height = ch;
      }
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.fillStyle = '#111';
      ctx.fillRect(0, 0, cw, ch);
      ctx.imageSmoothingEnabled = view.scale < 1;
      ctx.setTransform(view.scale, 0, 0, view.scale, view.tx, view.ty);
      ctx.drawImage(base, 0, 0);
      ctx.drawImage(over, 0, 0);
      canvas.dataset.painted = String(Number(canvas.dataset.painted ?? 0) + 1);
    });
  };
  const fit = () => {
    const r = canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    view = fitView(W, H, r.width * dpr, r.height * dpr);
    paint();
  };
  const zoom = (factor: number, sx?: number, sy?: number) => {
    view = zoomAt(view, factor, sx ?? canvas.width / 2, sy ?? canvas.height / 2);
    paint();
  };

  // Mouse: wheel zoom, drag pan, hover info.
  let drag: { x: number; y: number } | undefined;
  const canvasPoint = (e: MouseEvent): [number, number] => {
    const r = canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    return [(e.clientX - r.left) * dpr, (e.clientY - r.top) * dpr];
  };
  canvas.addEventListener(
    'wheel',
    (e) => {
      e.preventDefault();
      const [sx, sy] = canvasPoint(e);
      zoom(Math.exp(-e.deltaY * 0.0015), sx, sy);
    },
    { passive: false },
  );
  canvas.addEventListener('pointerdown', (e) => {
    drag = { x: e.clientX, y: e.clientY };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener('pointerup', () => (drag = undefined));
  canvas.addEventListener('pointermove', (e) => {
    if (drag) {
      const dpr = window.devicePixelRatio || 1;
      view = panBy(view, (e.clientX - drag.x) * dpr, (e.clientY - drag.y) * dpr);
      drag = { x: e.clientX, y: e.clientY };
      paint();
      return;
    }
    const [ix, iy] = toImage(view, ...canvasPoint(e));
    const id = labelAt(labels.data, W, H, ix, iy);
    if (id !== hovered) {
      hovered = id;
      drawOverlay();
      paint();
    }
    hover.hidden = false;
    hover.textContent = id
      ? `Object #${id} · area ${stats.areas.get(id)} px${mpp ? ` (${((stats.areas.get(id) ?? 0) * mpp * mpp).toFixed(1)} µm²)` : ''}`
      : ix < 0 || iy < 0 || ix >= W || iy >= H
        ? 'outside the image'
        : `x ${Math.floor(ix)}, y ${Math.floor(iy)} · background`;
  });
  canvas.addEventListener('pointerleave', () => {
    hover.hidden = true;
    if (hovered) {
      hovered = 0;
      drawOverlay();
      paint();
    }
  });
  canvas.addEventListener('keydown', (e) => {
    const step = 40 * (window.devicePixelRatio || 1);
    const moves: Record<string, [number, number]> = {
      ArrowLeft: [step, 0],
      ArrowRight: [-step, 0],
      ArrowUp: [0, step],
      ArrowDown: [0, -step],
    };
    if (moves[e.key]) {
      view = panBy(view, ...moves[e.key]!);
      paint();
    } else if (e.key === '+' || e.key === '=') zoom(1.25);
    else if (e.key === '-' || e.key === '_') zoom(0.8);
    else if (e.key === '0') fit();
    else return;
    e.preventDefault();
  });

  // Controls.
  const mpp = typeof job.options.micronsPerPixel === 'number' ? job.options.micronsPerPixel : undefined;
  const modeSel = h(
    'select',
    {
      onchange: (e: Event) => {
        mode = (e.target as HTMLSelectElement).value as OverlayMode;
        drawOverlay();
        paint();
      },
    },
    h('option', { value: 'outline' }, 'Outlines'),
    h('option', { value: 'fill' }, 'Filled'),
  );
  const opacityIn = h('input', {
    type: 'range',
    min: 0,
    max: 100,
    value: String(opacity * 100),
    'data-testid': 'opacity',
  });
  opacityIn.addEventListener('input', () => {
    opacity = Number(opacityIn.value) / 100;
    drawOverlay();
    paint();
  });
  const contrastIn = h('input', {
    type: 'range',
    min: 0,
    max: 10,
    step: 0.1,
    value: String(saturate),
    disabled: !plane,
  });
  contrastIn.addEventListener('input', () => {
    saturate = Number(contrastIn.value);
    drawBase();
    paint();
  });
  const timing = job.totalTime !== undefined ? formatDuration(job.totalTime) : '–';
  const side = h(
    'aside',
    { class: 'panel', 'aria-label': 'Result and display controls' },
    h('div', { class: 'big', 'data-testid': 'object-count' }, String(stats.count)),
    h('div', { class: 'muted', style: 'margin-bottom:12px' }, stats.count === 1 ? 'object' : 'objects'),
    h(
      'dl',
      { class: 'kv' },
      h('dt', {}, 'Size'),
      h('dd', {}, `${W} × ${H} px`),
      h('dt', {}, 'Model'),
      h('dd', {}, `${job.model} v${job.modelVersion}`),
      typeof job.options.cellModel === 'string' ? h('dt', {}, 'Cells from') : null,
      typeof job.options.cellModel === 'string' ? h('dd', {}, job.options.cellModel) : null,
      h('dt', {}, 'Time'),
      h('dd', {}, timing),
      mpp ? h('dt', {}, 'Pixel') : null,
      mpp ? h('dd', {}, `${mpp} µm`) : null,
    ),
    h('hr'),
    field('overlay-mode', 'Labels', modeSel),
    field('overlay-opacity', 'Label opacity', opacityIn, 'Slide left to see the image alone.'),
    field(
      'contrast',
      'Contrast',
      contrastIn,
      plane ? 'Slide right to brighten faint nuclei (more pixels saturate).' : 'No image to adjust.',
    ),
    h(
      'div',
      { class: 'actions', style: 'margin-bottom:12px' },
      h(
        'button',
        { type: 'button', class: 'small', onclick: () => zoom(1.25), 'aria-label': 'Zoom in' },
        '+',
      ),
      h(
        'button',
        { type: 'button', class: 'small', onclick: () => zoom(0.8), 'aria-label': 'Zoom out' },
        '−',
      ),
      h('button', { type: 'button', class: 'small', onclick: fit }, 'Fit'),
    ),
    h(
      'div',
      { class: 'actions' },
      h(
        'a',
        {
          class: 'button',
          href: job.labelsUrl ?? api.labelsUrl(job.id),
          download: '',
          'data-testid': 'download-tif',
        },
        'Download label TIFF',
      ),
      h('a', { class: 'button', href: job.resultUrl ?? api.zipUrl(job.id), download: '' }, 'Download zip'),
    ),
  );
  const note = imageNote ? h('p', { class: 'notice' }, imageNote) : null;
  replace(root, note ?? '', h('div', { class: 'viewer' }, wrap, side));
  drawBase();
  drawOverlay();
  const ro = new ResizeObserver(() => fit());
  ro.observe(wrap);
  fit();
  canvas.dataset.ready = '1';
  announce(`${job.name}: ${stats.count} objects`);
  return () => ro.disconnect();
}

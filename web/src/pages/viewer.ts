/**
 * Viewer: the image with its labels over it on a canvas — outlines or filled, opacity and contrast, zoom
 * (wheel, + / − keys, buttons) and pan (drag, arrow keys), the object count, the object under the mouse
 * (id and area), and the downloads. #/viewer/<job> or #/viewer/<batch>/<child>.
 */
import { api, type Job } from '../api.js';
import { announce, field, h, replace } from '../dom.js';
import { decodeImage } from '../../../workers/image/decode.js';
import { unpackZip } from '../../../workers/image/zip.js';
import { contrastWindow, planeOf, toGreyRgba, type Plane } from '../lib/display.js';
import { decodeLabelTiff, type LabelImage } from '../lib/label-file.js';
import { labelAt, labelStats, type LabelStats } from '../lib/label-stats.js';
import { renderOverlay, type OverlayMode } from '../lib/overlay.js';
import { fitView, panBy, toImage, zoomAt, type View } from '../lib/viewport.js';
import { formatDuration } from '../lib/units.js';
import type { Page } from '../main.js';
import { session } from '../store.js';

function offscreen(w: number, h: number): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  return c;
}

async function pickJob(root: HTMLElement): Promise<void> {
  const list = h('ul');
  root.append(
    h('h1', {}, 'Viewer'),
    h('section', { class: 'panel' }, h('h2', {}, 'Pick a finished job'), list),
  );
  try {
    const jobs = await api.jobs({ status: 'done', limit: 50 });
    if (jobs.length === 0)
      list.append(h('li', { class: 'muted' }, 'No finished jobs yet. Segment something first.'));
    for (const j of jobs)
      list.append(
        h(
          'li',
          {},
          h('a', { href: `#/viewer/${j.id}` }, j.name),
          ' ',
          h('span', { class: 'muted' }, `${j.objectCount ?? '?'} objects`),
        ),
      );
  } catch (err) {
    list.append(h('li', { class: 'error' }, `Could not list jobs: ${(err as Error).message}`));
  }
}

export const mountViewer: Page = (root, { args }) => {
  let alive = true;
  const [jobId, childId] = args;
  if (!jobId) {
    void pickJob(root);
    return () => (alive = false);
  }
  const status = h('p', { class: 'muted', role: 'status' }, 'Loading…');
  const title = h('h1', {}, 'Viewer');
  const body = h('div');
  let cleanup: (() => void) | undefined;
  root.append(title, status, body);

  void (async () => {
    let job: Job;
    try {
      job = await api.job(jobId);
    } catch (err) {
      status.className = 'notice bad';
      status.textContent = `Could not load job ${jobId}: ${(err as Error).message}`;
      return;
    }
    if (!alive) return;
    if (job.kind === 'batch') {
      const done = (job.children ?? []).filter((c) => c.status === 'done');
      const chosen = childId ?? done[0]?.id;
      const picker = h(
        'select',
        {
          onchange: (e: Event) =>
            (location.hash = `#/viewer/${job.id}/${(e.target as HTMLSelectElement).value}`),
        },
        ...(job.children ?? []).map((c) =>
          h('option', { value: c.id, disabled: c.status !== 'done' }, `${c.name} — ${c.status}`),
        ),
      );
      if (chosen) picker.value = chosen;
      title.after(
        h(
          'div',
          { class: 'panel' },
          field('child', `Image of batch ${job.name}`, picker),
          h('a', { class: 'button small', href: api.zipUrl(job.id), download: '' }, 'Download the batch zip'),
        ),
      );
      if (!chosen) {
        status.textContent = 'No image of this batch has finished yet.';
        return;
      }
      try {
        job = await api.job(chosen);
      } catch (err) {
        status.textContent = `Could not load image ${chosen}: ${(err as Error).message}`;
        return;
      }
    }
    if (job.status !== 'done') {
      status.className = job.status === 'failed' ? 'notice bad' : 'notice';
      status.textContent =
        job.status === 'failed'
          ? `${job.name} failed: ${job.reason ?? 'no reason given'}`
          : `${job.name} is ${job.status} (${Math.round(job.progress)} %). Come back when it is done.`;
      return;
    }
    let labels: LabelImage;
    try {
      labels = decodeLabelTiff(await api.bytes(job.labelsUrl ?? api.labelsUrl(job.id)));
    } catch (err) {
      status.className = 'notice bad';
      status.textContent = `Could not read the labels of ${job.name}: ${(err as Error).message}`;
      return;
    }
    let plane: Plane | undefined;
    let imageNote = '';
    try {
      const bytes = await inputBytes(job, job.parent ?? (jobId !== job.id ? jobId : undefined));
      if (bytes) {
        const channels = job.options.channels as number[] | undefined;
        plane = planeOf(decodeImage(bytes, { name: job.name }), channels?.[0] ?? 0);
      } else
        imageNote =
          'The original image is not available to this page (it was not submitted from this browser tab, and the kiosk does not serve job inputs): labels only.';
    } catch (err) {
      imageNote = `The original image could not be shown (${(err as Error).message}): labels only.`;
    }
    if (!alive) return;
    status.remove();
    title.textContent = job.name;
    cleanup = showViewer(body, job, labels, plane, imageNote);
  })();
  return () => {
    alive = false;
    cleanup?.();
  };
};

/**
 * The bytes of the image a job segmented: the file this tab submitted; for an image of a batch, its entry in
 * the zip this tab submitted; else the job's `inputUrl` when the API gives one; else undefined.
 */
async function inputBytes(job: Job, batchId: string | undefined): Promise<Uint8Array | undefined> {
  const local = session.files.get(job.id)?.file;
  if (local) return new Uint8Array(await local.arrayBuffer());
  const zip = batchId ? session.files.get(batchId)?.file : undefined;
  if (zip && /\.zip$/i.test(zip.name)) {
    const entry = unpackZip(new Uint8Array(await zip.arrayBuffer())).find((e) => e.name === job.name);
    if (entry) return entry.data;
  }
  return job.inputUrl ? api.bytes(job.inputUrl) : undefined;
}

/** Draws the viewer into `root`; returns the function that stops its observers. */
function showViewer(
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

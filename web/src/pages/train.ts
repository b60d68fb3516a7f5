/**
 * Train: upload training data (a zip or a folder of NAME.image / NAME.labels pairs), set the parameters
 * (with a time estimate from the kiosk's measured speed, and a quick setting), start; watch loss and
 * validation per epoch live, cancel; get the resulting model version and the epoch it was saved from. Talks to the training
 * API (POST /v1/trainings/upload, GET /v1/trainings[/:id], its event stream); where the kiosk has no training
 * service (the routes answer 404) the page says so and the form stays disabled.
 */
import { api, ApiRequestError, authorizeXhr, getJson, withToken } from '../api.js';
import { announce, field, h, replace, statusBadge } from '../dom.js';
import { filesFromDrop, filesFromInput, type PickedFile } from '../drop.js';
import {
  applyTrainingEvent,
  CANCELLED_REASON,
  checkTrainingPaths,
  DEFAULT_SIZE,
  type TrainingEvent,
  type TrainingView,
} from '../lib/training.js';
import type { Page } from '../page.js';
import { estimatePanel } from './train-estimate.js';
import { showTraining } from './train-view.js';

export const mountTrain: Page = (root) => {
  let alive = true;
  let picked: PickedFile[] = [];
  let source: EventSource | undefined;
  const notice = h('div', { role: 'status' });
  const dataInfo = h('div', { class: 'help', 'aria-live': 'polite' }, 'No data chosen yet.');
  const zipInput = h('input', {
    type: 'file',
    accept: '.zip,.png,.tif,.tiff',
    multiple: true,
    class: 'sr-only',
    tabindex: -1,
    'aria-hidden': 'true',
  });
  const dirInput = h('input', {
    type: 'file',
    multiple: true,
    class: 'sr-only',
    tabindex: -1,
    'aria-hidden': 'true',
  });
  dirInput.setAttribute('webkitdirectory', '');
  const drop = h(
    'div',
    {
      class: 'drop',
      role: 'button',
      tabindex: 0,
      'aria-label': 'Add training data: drop a zip or a folder, or press Enter to choose',
    },
    h('strong', {}, 'Drop a zip or a folder of image/label pairs'),
    h(
      'span',
      { class: 'muted' },
      'NAME.image.png + NAME.labels.png (or .tif); pairs under val/ are used for validation',
    ),
  );
  const modelName = h('input', { type: 'text', placeholder: 'e.g. nuclear-mylab', autocomplete: 'off' });
  const baseSel = h('select', {}, h('option', { value: '' }, 'loading…'));
  const epochs = h('input', { type: 'number', min: 1, max: 1000, value: String(DEFAULT_SIZE.epochs) });
  const steps = h('input', { type: 'number', min: 1, value: String(DEFAULT_SIZE.stepsPerEpoch) });
  const batch = h('input', { type: 'number', min: 1, max: 64, value: String(DEFAULT_SIZE.batchSize) });
  const crop = h('input', {
    type: 'number',
    min: 16,
    max: 1024,
    step: 16,
    value: String(DEFAULT_SIZE.cropSize),
  });
  const est = estimatePanel({ epochs, steps, batch, crop });
  const quickBtn = est.quickButton;
  const lr = h('input', { type: 'number', step: 'any', min: 0, placeholder: 'default' });
  const mpp = h('input', { type: 'number', step: 'any', min: 0, placeholder: 'unknown' });
  const startBtn = h('button', { type: 'button', class: 'primary', disabled: true }, 'Start training');
  const formError = h('div', { class: 'error', role: 'alert' });
  const current = h(
    'section',
    { class: 'panel', 'aria-labelledby': 'train-current' },
    h('h2', { id: 'train-current' }, 'Training'),
    h('p', { class: 'muted' }, 'Start one, or pick one below.'),
  );
  const list = h('ul');
  const chooseZip = h(
    'button',
    { type: 'button', onclick: () => zipInput.click() },
    'Choose a zip or files…',
  );
  const chooseDir = h('button', { type: 'button', onclick: () => dirInput.click() }, 'Choose a folder…');
  const controls = [
    modelName,
    baseSel,
    epochs,
    steps,
    batch,
    crop,
    lr,
    mpp,
    startBtn,
    chooseZip,
    chooseDir,
    quickBtn,
  ];
  let unavailable = false;

  const setData = (files: PickedFile[]) => {
    picked = files.filter((f) => !/(^|\/)\./.test(f.path));
    const zips = picked.filter((f) => /\.zip$/i.test(f.path)).length;
    const c = checkTrainingPaths(picked.map((f) => f.path));
    replace(
      dataInfo,
      h(
        'div',
        {},
        zips === picked.length
          ? `${picked.map((f) => f.path).join(', ')}: the pairs inside are checked on upload.`
          : `${picked.length} file${picked.length === 1 ? '' : 's'}: ${c.trainPairs} training pair${c.trainPairs === 1 ? '' : 's'}, ${c.valPairs} validation pair${c.valPairs === 1 ? '' : 's'}${zips ? ` (+ ${zips} zip${zips === 1 ? '' : 's'}, checked on upload)` : ''}.`,
      ),
      ...c.problems.map((p) => h('div', { class: 'error' }, p.message)),
      c.ignored.length
        ? h('div', {}, `Ignored: ${c.ignored.slice(0, 5).join(', ')}${c.ignored.length > 5 ? '…' : ''}`)
        : null,
    );
    startBtn.disabled = picked.length === 0 || baseSel.disabled;
  };
  drop.addEventListener('click', () => !unavailable && zipInput.click());
  drop.addEventListener('keydown', (e) => {
    if ((e.key === 'Enter' || e.key === ' ') && !unavailable) {
      e.preventDefault();
      zipInput.click();
    }
  });
  drop.addEventListener('dragover', (e) => e.preventDefault());
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    if (e.dataTransfer && !unavailable) void filesFromDrop(e.dataTransfer).then(setData);
  });
  zipInput.addEventListener('change', () => setData(filesFromInput(zipInput)));
  dirInput.addEventListener('change', () => setData(filesFromInput(dirInput)));

  const cancelError = h('p', { class: 'error', role: 'alert' });
  /** The training shown: its view, a cancel under way, the epoch its model was saved from. */
  let shown: { view: TrainingView; cancelling: boolean; bestEpoch?: number } | undefined;
  const draw = () => {
    if (!alive || !shown) return;
    const s = shown;
    replace(
      current,
      h('h2', { id: 'train-current' }, `Training ${s.view.params.modelName}`),
      showTraining(s.view, {
        cancelling: s.cancelling,
        ...(s.bestEpoch !== undefined ? { bestEpoch: s.bestEpoch } : {}),
        onCancel: () => void cancel(s),
      }),
      cancelError,
    );
  };
  const cancel = async (s: NonNullable<typeof shown>) => {
    s.cancelling = true;
    cancelError.textContent = '';
    draw();
    try {
      const v = await api.cancelTraining<TrainingView>(s.view.id);
      // A waiting training is failed at once; a running one keeps running until its worker sees the flag.
      if (shown === s && (v.status === 'done' || v.status === 'failed')) s.view = v;
      announce(v.status === 'failed' ? 'Training cancelled' : 'Cancelling the training…');
    } catch (err) {
      s.cancelling = false;
      cancelError.textContent = `Could not cancel: ${(err as Error).message}`;
    }
    draw();
  };
  /** Reads which epoch became the model from its card (training.bestEpoch). */
  const findBestEpoch = async (s: NonNullable<typeof shown>) => {
    const m = s.view.model;
    if (!m) return;
    try {
      const card = (await api.models()).find((x) => x.name === m.name && x.version === m.version)?.card;
      const best = (card?.training as { bestEpoch?: unknown } | undefined)?.bestEpoch;
      if (typeof best === 'number' && shown === s) {
        s.bestEpoch = best;
        draw();
      }
    } catch {
      // The table simply marks no epoch.
    }
  };

  const watch = (t: TrainingView) => {
    source?.close();
    const s = { view: t, cancelling: false };
    shown = s;
    cancelError.textContent = '';
    draw();
    if (t.status === 'done') void findBestEpoch(s);
    if (t.status === 'done' || t.status === 'failed') return;
    const es = new EventSource(withToken(t.eventsUrl ?? `/v1/trainings/${encodeURIComponent(t.id)}/events`));
    source = es;
    const finished = () => {
      es.close();
      s.cancelling = false;
      announce(s.view.reason === CANCELLED_REASON ? 'Training cancelled' : `Training ${s.view.status}`);
      if (s.view.status === 'done') void findBestEpoch(s);
    };
    es.addEventListener('snapshot', (e) => {
      s.view = JSON.parse((e as MessageEvent<string>).data) as TrainingView;
      draw();
      if (s.view.status === 'done' || s.view.status === 'failed') finished();
    });
    es.addEventListener('training', (e) => {
      const before = s.view.status;
      const ev = JSON.parse((e as MessageEvent<string>).data) as TrainingEvent;
      s.view = applyTrainingEvent(s.view, ev);
      // A new status, or a finished epoch (a measured speed for the estimate), refreshes the list.
      if (s.view.status !== before || ev.epochRecord) void loadList();
      draw();
      if (s.view.status === 'done' || s.view.status === 'failed') finished();
    });
  };

  const start = () => {
    formError.textContent = '';
    const form = new FormData();
    for (const f of picked) form.append('file', f.file, f.path);
    const num = (name: string, el: HTMLInputElement) => el.value !== '' && form.append(name, el.value);
    if (modelName.value.trim()) form.append('modelName', modelName.value.trim());
    if (baseSel.value === '') form.append('fromScratch', 'true');
    else {
      const [name, version] = baseSel.value.split('@');
      form.append('baseModel', name!);
      if (version) form.append('baseVersion', version);
    }
    num('epochs', epochs);
    num('stepsPerEpoch', steps);
    num('batchSize', batch);
    num('cropSize', crop);
    num('learningRate', lr);
    num('micronsPerPixel', mpp);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/v1/trainings/upload');
    authorizeXhr(xhr);
    xhr.responseType = 'json';
    startBtn.disabled = true;
    xhr.upload.onprogress = (e) =>
      e.lengthComputable && (startBtn.textContent = `Uploading ${Math.round((100 * e.loaded) / e.total)} %`);
    xhr.onloadend = () => {
      startBtn.disabled = false;
      startBtn.textContent = 'Start training';
      const body = xhr.response as
        | (TrainingView & {
            error?: string;
            message?: string;
            problems?: { file: string; message: string }[];
          })
        | null;
      if (xhr.status === 201 && body) {
        announce('Training started');
        watch(body);
        void loadList();
        return;
      }
      const problems = body?.problems ?? [];
      replace(
        formError,
        problems.length
          ? `The kiosk refused the training data (${problems.length} problem${problems.length === 1 ? '' : 's'}):`
          : (body?.message ?? `The kiosk answered ${xhr.status || 'nothing (network error)'}`),
        ...(problems.length ? [h('ul', {}, ...problems.map((p) => h('li', {}, p.message)))] : []),
      );
    };
    xhr.send(form);
  };
  startBtn.addEventListener('click', start);

  const loadList = async () => {
    try {
      const r = await getJson<{ trainings: TrainingView[] }>('/v1/trainings?limit=20');
      if (!alive) return;
      est.setTrainings(r.trainings);
      replace(
        list,
        ...(r.trainings.length
          ? r.trainings.map((t) =>
              h(
                'li',
                {},
                h('button', { type: 'button', class: 'small', onclick: () => watch(t) }, t.params.modelName),
                ' ',
                statusBadge(t.status),
                ' ',
                h(
                  'span',
                  { class: 'muted' },
                  `${new Date(t.createdAt).toLocaleString()}${t.model ? ` → v${t.model.version}` : ''}`,
                ),
              ),
            )
          : [h('li', { class: 'muted' }, 'No trainings yet.')]),
      );
      return true;
    } catch (err) {
      if (err instanceof ApiRequestError && err.status === 404) return false;
      replace(list, h('li', { class: 'error' }, `Could not list trainings: ${(err as Error).message}`));
      return true;
    }
  };

  root.append(
    h('h1', {}, 'Train a model'),
    notice,
    h(
      'div',
      { class: 'cols' },
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'train-data' },
        h('h2', { id: 'train-data' }, '1. Training data'),
        drop,
        h('div', { class: 'actions', style: 'margin:10px 0' }, chooseZip, chooseDir),
        zipInput,
        dirInput,
        dataInfo,
        h('h2', { style: 'margin-top:18px' }, '2. Parameters'),
        field(
          'train-name',
          'Name of the new model',
          modelName,
          "Default: the base model's name (a new version of it).",
        ),
        field(
          'train-base',
          'Start from',
          baseSel,
          'Fine-tuning an existing model needs far less data and time than training from scratch.',
        ),
        h(
          'div',
          { class: 'inline' },
          field('train-epochs', 'Epochs', epochs),
          field('train-steps', 'Steps per epoch', steps),
        ),
        h(
          'div',
          { class: 'inline' },
          field('train-batch', 'Batch size', batch),
          field('train-crop', 'Crop size (px)', crop, 'A multiple of 16.'),
        ),
        h(
          'div',
          { class: 'inline' },
          field('train-lr', 'Learning rate', lr),
          field('train-mpp', 'µm per pixel of the data', mpp),
        ),
        est.element,
        h('div', { class: 'actions', style: 'margin-bottom:10px' }, quickBtn),
        formError,
        h('div', { class: 'actions' }, startBtn),
      ),
      h('div', {}, current, h('section', { class: 'panel' }, h('h2', {}, 'Recent trainings'), list)),
    ),
  );

  void (async () => {
    const available = await loadList();
    if (!alive) return;
    if (!available) {
      notice.className = 'notice';
      replace(
        notice,
        h('strong', {}, 'Training service not available. '),
        'This kiosk has no training routes (/v1/trainings answered 404), so models cannot be trained here yet. Segmentation works as usual.',
      );
      for (const c of controls) (c as HTMLInputElement).disabled = true;
      unavailable = true;
      drop.setAttribute('aria-disabled', 'true');
      drop.tabIndex = -1;
      drop.classList.add('disabled');
      replace(baseSel, h('option', { value: '' }, 'not available'));
      replace(list, h('li', { class: 'muted' }, 'not available'));
      return;
    }
    try {
      const models = await api.models();
      replace(
        baseSel,
        ...models.map((m) => h('option', { value: `${m.name}@${m.version}` }, `${m.name} v${m.version}`)),
        h('option', { value: '' }, 'Nothing: train from scratch'),
      );
      const nuclear = models
        .filter((m) => m.name === 'nuclear')
        .sort((a, b) => Number(b.version) - Number(a.version))[0];
      if (nuclear) baseSel.value = `${nuclear.name}@${nuclear.version}`;
    } catch {
      replace(baseSel, h('option', { value: '' }, 'Nothing: train from scratch'));
    }
    startBtn.disabled = picked.length === 0;
  })();
  return () => {
    alive = false;
    source?.close();
  };
};

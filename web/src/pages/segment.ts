/**
 * Segment: drop many files, a folder or a zip; choose options; submit; watch every file's job live.
 * Each file becomes its own job (a zip becomes one batch job over its images), so one bad file fails
 * alone with its reason while the others go on. The list (./segment-batch.ts) survives a visit to the
 * Viewer, and its submitted files a reload too.
 */
import { api, ApiRequestError, submitFile } from '../api.js';
import { announce, h, progressBar, replace, statusBadge } from '../dom.js';
import { filesFromDrop, filesFromInput, type PickedFile } from '../drop.js';
import { classifyFile } from '../lib/files.js';
import { aggregateProgress, describeProgress, type ItemState } from '../lib/progress.js';
import { formatBytes } from '../lib/units.js';
import { labelTiffLinks } from '../output-links.js';
import type { Page } from '../page.js';
import { session } from '../store.js';
import { items, newUid, restoreBatch, saveBatch, stateOf, type Item } from './segment-batch.js';
import { downloadAll } from './segment-download.js';
import { optionsForm } from './segment-options.js';

/** Uploads and job creations running at once. */
const PARALLEL = 3;

export const mountSegment: Page = (root, { store }) => {
  const form = optionsForm();
  const fileInput = h('input', {
    type: 'file',
    multiple: true,
    accept: '.png,.tif,.tiff,.zip',
    class: 'sr-only',
    tabindex: -1,
    'aria-hidden': 'true',
    'data-testid': 'file-input',
  });
  const folderInput = h('input', {
    type: 'file',
    multiple: true,
    class: 'sr-only',
    tabindex: -1,
    'aria-hidden': 'true',
  });
  folderInput.setAttribute('webkitdirectory', '');
  const drop = h(
    'div',
    {
      class: 'drop',
      role: 'button',
      tabindex: 0,
      'aria-describedby': 'drop-help',
      'aria-label': 'Add images: drop files, a folder or a zip here, or press Enter to choose files',
      'data-testid': 'drop-zone',
    },
    h('strong', {}, 'Drop images, a folder or a .zip here'),
    h(
      'span',
      { class: 'muted', id: 'drop-help' },
      'TIFF or PNG, any number of files — or press Enter to choose',
    ),
  );
  const submitBtn = h('button', { class: 'primary', type: 'button', disabled: true }, 'Segment');
  const clearBtn = h('button', { type: 'button' }, 'Clear finished');
  const allBtn = h(
    'button',
    { type: 'button', hidden: true, 'data-testid': 'download-all' },
    'Download all label TIFFs (.zip)',
  );
  const formError = h('p', { class: 'error', role: 'alert' });
  const summaryText = h('span', { 'data-testid': 'summary' });
  const summaryBar = h('div', { class: 'summary' });
  const tbody = h('tbody');
  const table = h(
    'table',
    { 'aria-label': 'Files and their jobs' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'File'),
        h('th', {}, 'Status'),
        h('th', {}, 'Progress'),
        h('th', { class: 'num' }, 'Objects'),
        h('th', {}, 'Result'),
      ),
    ),
    tbody,
  );

  const rowCache = new Map<number, { sig: string; rows: HTMLElement[] }>();
  const add = (picked: PickedFile[]) => {
    let rejected = 0;
    let added = 0;
    for (const p of picked) {
      const c = classifyFile(p.path, p.file.size);
      if (c.kind === 'skip') continue;
      const it: Item = {
        uid: newUid(),
        path: p.path,
        file: p.file,
        size: p.file.size,
        phase: c.kind === 'unsupported' ? 'rejected' : 'ready',
        upload: 0,
      };
      if (c.reason) {
        it.error = c.reason;
        rejected++;
      } else added++;
      items.push(it);
    }
    announce(`${added} file${added === 1 ? '' : 's'} ready${rejected ? `, ${rejected} refused` : ''}`);
    render();
  };

  drop.addEventListener('click', () => fileInput.click());
  drop.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      fileInput.click();
    }
  });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer) void filesFromDrop(e.dataTransfer).then(add);
  });
  fileInput.addEventListener('change', () => {
    add(filesFromInput(fileInput));
    fileInput.value = '';
  });
  folderInput.addEventListener('change', () => {
    add(filesFromInput(folderInput));
    folderInput.value = '';
  });

  const submitOne = async (it: Item, chosen: ReturnType<typeof form.read> & { ok: true }) => {
    if (!it.file) return;
    const file = it.file;
    it.phase = 'uploading';
    render();
    try {
      // One request: the file and the job's fields (POST /v1/jobs/upload).
      const job = await submitFile(
        file,
        it.path.split('/').pop() ?? it.path,
        { ...chosen.value, ...(it.path.includes('/') ? { name: it.path } : {}) },
        (f) => {
          it.upload = f;
          render();
        },
      );
      session.files.set(job.id, { file, uploadKey: job.inputs?.[0] ?? '' });
      it.jobId = job.id;
      it.phase = 'submitted';
      saveBatch();
      store.put(job);
    } catch (err) {
      it.phase = 'error';
      it.error = err instanceof ApiRequestError || err instanceof Error ? err.message : String(err);
      render();
    }
  };

  const submit = async () => {
    const chosen = form.read();
    if (!chosen.ok) {
      formError.textContent = chosen.message;
      chosen.control.focus();
      return;
    }
    formError.textContent = '';
    const queue = items.filter((i) => i.phase === 'ready');
    announce(`Submitting ${queue.length} file${queue.length === 1 ? '' : 's'}`);
    const workers = Array.from({ length: Math.min(PARALLEL, queue.length) }, async () => {
      for (let it = queue.shift(); it; it = queue.shift()) await submitOne(it, chosen);
    });
    render();
    await Promise.all(workers);
  };
  submitBtn.addEventListener('click', () => void submit());
  allBtn.addEventListener('click', () => {
    const done = items.flatMap((it) => {
      const j = stateOf(it, store).job;
      return j?.status === 'done' && j.kind === 'image' ? [{ path: it.path, id: j.id }] : [];
    });
    allBtn.disabled = true;
    allBtn.textContent = `Fetching ${done.length} results…`;
    void downloadAll(done)
      .then(
        () => announce(`Downloaded ${done.length} label images`),
        (err: unknown) => announce(`Download failed: ${(err as Error).message}`),
      )
      .finally(() => {
        allBtn.disabled = false;
        allBtn.textContent = 'Download all label TIFFs (.zip)';
      });
  });
  clearBtn.addEventListener('click', () => {
    for (let i = items.length - 1; i >= 0; i--) {
      const s = stateOf(items[i]!, store).state;
      if (s === 'done' || s === 'failed' || s === 'rejected') items.splice(i, 1);
    }
    saveBatch();
    render();
  });

  const chooseFolder = h(
    'button',
    { type: 'button', onclick: () => folderInput.click() },
    'Choose a folder…',
  );
  const chooseFiles = h('button', { type: 'button', onclick: () => fileInput.click() }, 'Choose files…');
  root.append(
    h('h1', {}, 'Segment images'),
    h(
      'div',
      { class: 'cols' },
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'seg-files' },
        h('h2', { id: 'seg-files' }, '1. Add images'),
        drop,
        h('div', { class: 'actions', style: 'margin:10px 0 14px' }, chooseFiles, chooseFolder),
        fileInput,
        folderInput,
        h('div', { class: 'actions', style: 'margin-bottom:18px' }, submitBtn),
        formError,
        h('h2', {}, 'Options'),
        h(
          'p',
          { class: 'help', style: 'margin:-6px 0 12px' },
          'The defaults suit most images; they apply to the files you submit next.',
        ),
        form.element,
      ),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'seg-jobs' },
        h('h2', { id: 'seg-jobs' }, 'Jobs'),
        summaryBar,
        table,
        h('div', { class: 'actions', style: 'margin-top:10px' }, allBtn, clearBtn),
      ),
    ),
  );

  function row(it: Item): HTMLElement[] {
    const s = stateOf(it, store);
    const status = s.state === 'rejected' ? (it.phase === 'error' ? 'failed' : 'rejected') : s.state;
    const job = s.job;
    const reason = it.error ?? (job?.status === 'failed' ? job.reason : undefined);
    const result: (HTMLElement | string)[] = [];
    if (job?.status === 'done') {
      result.push(
        h(
          'a',
          { class: 'button small', href: `#/viewer/${job.id}`, 'aria-label': `View ${it.path}` },
          'View',
        ),
      );
      if (job.kind === 'image') result.push(...labelTiffLinks(job, it.path));
      result.push(
        h(
          'a',
          {
            class: 'button small',
            href: api.zipUrl(job.id),
            download: '',
            'aria-label': `Download result zip of ${it.path}`,
          },
          'Zip',
        ),
      );
    }
    const rows = [
      h(
        'tr',
        { 'data-file': it.path, 'data-status': status, 'data-job': job?.id ?? '' },
        h(
          'td',
          { class: 'name' },
          h('div', {}, it.path, ' ', h('span', { class: 'muted' }, it.size ? formatBytes(it.size) : '')),
          reason ? h('div', { class: 'error', 'data-testid': 'reason' }, reason) : null,
        ),
        h('td', {}, statusBadge(status)),
        h('td', {}, progressBar(s.progress, `${it.path} progress`)),
        h('td', { class: 'num', 'data-testid': 'objects' }, job?.objectCount ?? ''),
        h('td', {}, h('div', { class: 'actions' }, ...result)),
      ),
    ];
    if (job?.kind === 'batch') {
      for (const child of job.children ?? []) {
        const c = store.get(child.id) ?? child;
        rows.push(
          h(
            'tr',
            { class: 'child', 'data-file': `${it.path}/${child.name}`, 'data-status': c.status },
            h(
              'td',
              { class: 'name' },
              child.name,
              c.status === 'failed' && c.reason ? h('div', { class: 'error' }, String(c.reason)) : null,
            ),
            h('td', {}, statusBadge(c.status)),
            h('td', {}, progressBar(c.progress, `${child.name} progress`)),
            h('td', { class: 'num' }, child.objectCount ?? ''),
            h('td', {}),
          ),
        );
      }
    }
    return rows;
  }

  function render(): void {
    const states = items.map((it) => stateOf(it, store));
    const p = aggregateProgress(
      states
        .filter((s) => s.state !== 'ready')
        .map((s) => ({ state: s.state as ItemState, progress: s.progress })),
    );
    summaryText.textContent = describeProgress(p, items.filter((i) => i.phase === 'ready').length);
    replace(summaryBar, progressBar(p.percent, 'All files'), summaryText);
    // Rows are rebuilt only when what they show changed, so keyboard focus stays on unchanged rows.
    const rows = items.flatMap((it, i) => {
      const kids = states[i]!.job?.children?.map((c) => store.get(c.id) ?? c);
      const sig = JSON.stringify([states[i], kids, it.phase, it.error, it.upload]);
      const cached = rowCache.get(it.uid);
      if (cached && cached.sig === sig) return cached.rows;
      const fresh = row(it);
      rowCache.set(it.uid, { sig, rows: fresh });
      return fresh;
    });
    if (rows.length === 0)
      replace(
        tbody,
        h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'Nothing yet: add images on the left.')),
      );
    else if (rows.length !== tbody.children.length || rows.some((r, i) => tbody.children[i] !== r))
      replace(tbody, ...rows);
    allBtn.hidden = states.filter((x) => x.job?.status === 'done' && x.job.kind === 'image').length < 2;
    const ready = items.filter((i) => i.phase === 'ready').length;
    submitBtn.disabled = ready === 0;
    submitBtn.textContent = ready ? `Segment ${ready} file${ready === 1 ? '' : 's'}` : 'Segment';
  }

  restoreBatch(store, render);
  const unsubscribe = store.subscribe(render);
  render();
  return unsubscribe;
};

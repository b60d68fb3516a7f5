/**
 * Jobs: the history, newest first, with filters (status, name), live status, and per job: view, download,
 * re-run (same files, model and options), cancel (running) and delete.
 */
import { api, ApiRequestError, authHeaders, type Job } from '../api.js';
import { announce, h, progressBar, replace, statusBadge } from '../dom.js';
import { isFinal, JOB_STATUSES, type JobStatus } from '../lib/job-events.js';
import { formatDuration } from '../lib/units.js';
import { labelTiffLinks } from '../output-links.js';
import type { Page } from '../page.js';
import { session } from '../store.js';

const PAGE = 50;
/** The status filter's choices: any ('') or one status. */
const STATUSES = ['', ...JOB_STATUSES];

/** Upload keys to re-run a job with: from the API when it exposes them, else from this tab's session. */
function inputsOf(job: Job): readonly string[] | undefined {
  if (job.inputs?.length) return job.inputs;
  const s = session.files.get(job.id);
  return s ? [s.uploadKey] : undefined;
}

/**
 * Deletes a job: DELETE /v1/jobs/:id; where this API has no such route, the record is expired at once
 * through the DeepCell-compatible POST /api/redis/expire (it then disappears from the history).
 */
async function deleteJob(id: string): Promise<void> {
  try {
    await api.remove(id);
  } catch (err) {
    if (!(err instanceof ApiRequestError && err.status === 404 && /no route/i.test(err.message))) throw err;
    const res = await fetch('/api/redis/expire', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeaders() },
      body: JSON.stringify({ hash: id, expireIn: 1 }),
    });
    if (!res.ok) throw new Error(`could not delete job ${id} (${res.status})`);
  }
}

export const mountJobs: Page = (root, { store }) => {
  let jobs: Job[] = [];
  let more = false;
  let alive = true;
  const statusSel = h(
    'select',
    { id: 'job-status', 'aria-label': 'Show jobs with status' },
    ...STATUSES.map((s) => h('option', { value: s }, s || 'any status')),
  );
  const search = h('input', {
    type: 'text',
    id: 'job-search',
    placeholder: 'file name contains…',
    'aria-label': 'Filter by file name',
  });
  const message = h('p', { role: 'status', class: 'muted' });
  const tbody = h('tbody');
  const moreBtn = h('button', { type: 'button', hidden: true }, 'Load more');
  /** Rows are rebuilt only when their job changed, so keyboard focus stays put during live updates. */
  const cache = new Map<string, { sig: string; row: HTMLElement }>();

  const load = async (append: boolean) => {
    message.textContent = 'Loading…';
    try {
      const page = await api.jobs({ limit: PAGE, offset: append ? jobs.length : 0, status: statusSel.value });
      if (!alive) return;
      jobs = append ? [...jobs, ...page] : page;
      more = page.length === PAGE;
      for (const j of page) if (!store.get(j.id) || isFinal(j.status as JobStatus)) store.put(j);
      message.textContent = '';
      render();
    } catch (err) {
      message.textContent = `Could not load jobs: ${(err as Error).message}`;
    }
  };

  const act = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      announce(what);
      message.textContent = what;
    } catch (err) {
      message.textContent = `${what} failed: ${(err as Error).message}`;
    }
  };

  const row = (j0: Job) => {
    const live = store.get(j0.id);
    const j = { ...j0, ...(live ?? {}) } as Job;
    const inputs = inputsOf(j);
    const running = !isFinal(j.status as JobStatus);
    const buttons = [
      j.status === 'done' ? h('a', { class: 'button small', href: `#/viewer/${j.id}` }, 'View') : null,
      // The label TIFFs of an image job (each output's, for a type with several; a batch's labels are in its
      // zip), as on the Segment page.
      ...(j.status === 'done' && j.kind === 'image' ? labelTiffLinks(j, j.name) : []),
      j.status === 'done'
        ? h('a', { class: 'button small', href: api.zipUrl(j.id), download: '' }, 'Zip')
        : null,
      h(
        'button',
        {
          type: 'button',
          class: 'small',
          disabled: !inputs,
          title: inputs
            ? 'Run again with the same files, model and options'
            : 'The API does not say which files this job used, so it cannot be re-run from here',
          onclick: () =>
            void act(`Re-ran ${j.name}`, async () => {
              const job = await api.createJob({
                type: j.type,
                model: j.model,
                modelVersion: j.modelVersion,
                inputs: inputs!,
                options: j.options,
                name: j.name,
              });
              const s = session.files.get(j.id);
              if (s) session.files.set(job.id, s);
              store.put(job);
              jobs = [job, ...jobs];
              render();
            }),
        },
        'Re-run',
      ),
      running
        ? h(
            'button',
            {
              type: 'button',
              class: 'small',
              onclick: () => void act(`Cancelled ${j.name}`, async () => store.put(await api.cancel(j.id))),
            },
            'Cancel',
          )
        : h(
            'button',
            {
              type: 'button',
              class: 'small',
              'aria-label': `Delete ${j.name}`,
              onclick: () => {
                if (!confirm(`Delete job ${j.name} and forget its result?`)) return;
                void act(`Deleted ${j.name}`, async () => {
                  await deleteJob(j.id);
                  jobs = jobs.filter((x) => x.id !== j.id);
                  store.forget(j.id);
                  render();
                });
              },
            },
            'Delete',
          ),
    ];
    return h(
      'tr',
      { 'data-job': j.id, 'data-status': j.status },
      h(
        'td',
        { class: 'name' },
        j.name,
        j.kind === 'batch' ? h('span', { class: 'muted' }, ` (batch)`) : null,
        j.status === 'failed' && j.reason ? h('div', { class: 'error' }, j.reason) : null,
      ),
      h('td', {}, statusBadge(j.status)),
      h('td', {}, progressBar(j.progress, `${j.name} progress`)),
      h('td', { class: 'num' }, j.objectCount ?? ''),
      h(
        'td',
        {},
        `${j.model} v${j.modelVersion}`,
        typeof j.options.cellModel === 'string'
          ? h('div', { class: 'muted', 'data-testid': 'cell-model' }, `cells: ${j.options.cellModel}`)
          : null,
      ),
      h('td', {}, new Date(j.createdAt).toLocaleString()),
      h('td', { class: 'num' }, j.totalTime !== undefined ? formatDuration(j.totalTime) : ''),
      h('td', {}, h('div', { class: 'actions' }, ...buttons)),
    );
  };

  function render(): void {
    const q = search.value.trim().toLowerCase();
    const shown = jobs.filter((j) => !q || j.name.toLowerCase().includes(q));
    const rows = shown.map((j) => {
      const sig = JSON.stringify([j, store.get(j.id)]);
      const c = cache.get(j.id);
      if (c?.sig === sig) return c.row;
      const r = row(j);
      cache.set(j.id, { sig, row: r });
      return r;
    });
    if (
      rows.length &&
      rows.length === tbody.children.length &&
      rows.every((r, i) => tbody.children[i] === r)
    ) {
      moreBtn.hidden = !more;
      return;
    }
    replace(
      tbody,
      ...(rows.length
        ? rows
        : [
            h(
              'tr',
              {},
              h(
                'td',
                { colspan: 8, class: 'muted' },
                jobs.length
                  ? 'No job matches the filter.'
                  : statusSel.value
                    ? `No job is ${statusSel.value}.`
                    : 'No jobs yet.',
              ),
            ),
          ]),
    );
    moreBtn.hidden = !more;
  }

  statusSel.addEventListener('change', () => void load(false));
  search.addEventListener('input', render);
  moreBtn.addEventListener('click', () => void load(true));
  root.append(
    h('h1', {}, 'Jobs'),
    h(
      'section',
      { class: 'panel' },
      h(
        'div',
        { class: 'actions', style: 'margin-bottom:12px' },
        statusSel,
        search,
        h('button', { type: 'button', onclick: () => void load(false) }, 'Refresh'),
      ),
      message,
      h(
        'table',
        { 'aria-label': 'Job history' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['Name', 'Status', 'Progress', 'Objects', 'Model', 'Submitted', 'Time', 'Actions'].map((t) =>
              h('th', {}, t),
            ),
          ),
        ),
        tbody,
      ),
      h('div', { class: 'actions', style: 'margin-top:10px' }, moreBtn),
    ),
  );
  const unsubscribe = store.subscribe(render);
  void load(false);
  return () => {
    alive = false;
    unsubscribe();
  };
};

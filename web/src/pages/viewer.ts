/**
 * Viewer: #/viewer/<job> or #/viewer/<batch>/<child>. Loads the job, its label TIFF and its image (from
 * this tab's files, a zip it submitted, or the API), then hands them to the canvas (viewer-canvas.ts).
 * Without a job id it lists finished jobs to pick from.
 */
import { api, type Job } from '../api.js';
import { field, h } from '../dom.js';
import { decodeImage } from '../../../workers/image/decode.js';
import { unpackZip } from '../../../workers/image/zip.js';
import { planeOf, type Plane } from '../lib/display.js';
import { decodeLabelTiff, type LabelImage } from '../lib/label-file.js';
import type { Page } from '../page.js';
import { session } from '../store.js';
import { showViewer } from './viewer-canvas.js';

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

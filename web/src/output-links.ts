/**
 * The label TIFF links of a done image job, as the Segment and Jobs pages show them: its labels ('TIFF'),
 * then, for a job type with several outputs (whole-cell: cells, then nuclei), each further output's TIFF.
 */
import { api, type Job } from './api.js';
import { h } from './dom.js';

/** `what` names the job in the links' accessible names (the file's path on Segment, the job's name on Jobs). */
export function labelTiffLinks(job: Pick<Job, 'id' | 'outputs'>, what: string): HTMLElement[] {
  const link = (href: string, label: string, text: string) =>
    h('a', { class: 'button small', href, download: '', 'aria-label': label }, text);
  return [
    link(api.labelsUrl(job.id), `Download label TIFF of ${what}`, 'TIFF'),
    ...(job.outputs?.slice(1) ?? []).map((o) =>
      link(o.url, `Download ${o.name} of ${what}`, `TIFF ${o.name}`),
    ),
  ];
}

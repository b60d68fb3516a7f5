/** The Segment page's "Download all": the session's label TIFFs in one zip, made in the browser. */
import { api } from '../api.js';
import { h } from '../dom.js';
import { uniqueLabelFileName } from '../../../workers/image/label-names.js';
import { packZip, type ZipEntry } from '../../../workers/image/zip.js';

/**
 * Packs the label TIFFs of finished image jobs into one zip in the browser (NAME.labels.tif, the project's
 * label-file name, workers/image/label-names.ts; folders kept; a clash gets NAME-2.labels.tif) and saves it.
 * Zips from the service are per job; this is the whole session's batch of single files in one go.
 */
export async function downloadAll(jobs: readonly { path: string; id: string }[]): Promise<void> {
  const entries: ZipEntry[] = [];
  const used = new Set<string>();
  for (const j of jobs) {
    const name = uniqueLabelFileName(used, j.path);
    entries.push({ name, data: await api.bytes(api.labelsUrl(j.id)) });
  }
  const blob = new Blob([packZip(entries) as Uint8Array<ArrayBuffer>], { type: 'application/zip' });
  const a = h('a', { href: URL.createObjectURL(blob), download: 'labels.zip' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
}

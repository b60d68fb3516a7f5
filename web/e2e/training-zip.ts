import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NUCLEI_DIR } from '../../test/data.js';
import { packZip, type ZipEntry } from '../../workers/image/zip.js';

/** The smallest real training upload the Train page accepts: one train and one val image with labels. */
export async function trainingZip(): Promise<Buffer> {
  const entries: ZipEntry[] = [];
  for (const [split, stem] of [
    ['train', 'dsb_00071198d059ba7f'],
    ['val', 'dsb_03398329ced0c23b'],
  ] as const) {
    for (const kind of ['image', 'labels'])
      entries.push({
        name: `${split}/${stem}.${kind}.png`,
        data: new Uint8Array(await readFile(join(NUCLEI_DIR, split, `${stem}.${kind}.png`))),
      });
  }
  return Buffer.from(packZip(entries));
}

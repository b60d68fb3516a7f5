/** Test fixtures: small folders of synthetic nuclei in the shared/data/nuclei layout. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodePng } from '../../image/png.js';
import { diskLabels, randomDisks } from '../../image/synthetic-nuclei.js';

/** Writes NAME.image.png (8-bit: 200 in disks, 10 outside) + NAME.labels.png (16-bit) with disks of radius r. */
export async function writeDiskPair(
  dir: string,
  name: string,
  size: number,
  r: number,
  seed: number,
): Promise<void> {
  const labels = diskLabels(randomDisks(30, size, size, { minR: r, maxR: r, seed }), size, size);
  const image = Uint8Array.from(labels.data, (v) => (v ? 200 : 10));
  await writeFile(
    join(dir, `${name}.image.png`),
    encodePng({ data: image, dtype: 'uint8', shape: [size, size], axes: 'YX' }),
  );
  await writeFile(
    join(dir, `${name}.labels.png`),
    encodePng({ data: Uint16Array.from(labels.data), dtype: 'uint16', shape: [size, size], axes: 'YX' }),
  );
}

/**
 * The bioimage.io round trip on the val images (issue 21 #2): export models/nuclear/<latest> as a package,
 * import it, segment every val image with both (the same pipeline, ONNX Runtime on the CPU, autoscale on)
 * and print how many label images are identical pixel for pixel and how many pixels differ in all.
 *
 *   npm run bench bioimageio-roundtrip [-- --images N]
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { findModelDir } from '../cli/commands/segment.js';
import { NUCLEI_VAL } from '../test/data.js';
import { exportBioimageio } from '../workers/bioimageio/export.js';
import { checkPackage, writeImportedModel } from '../workers/bioimageio/import.js';
import { readImageFile } from '../workers/image/files.js';
import { readModelCard } from '../workers/model/model-io.js';
import { loadRunner } from '../workers/model/runners.js';
import { segmentImage } from '../workers/pipeline/segment.js';

const { values } = parseArgs({ options: { images: { type: 'string' } } });
const builtin = await findModelDir('nuclear', undefined, resolve('models'));
const tmp = await mkdtemp(join(tmpdir(), 'bioimageio-bench-'));
try {
  const pkg = join(tmp, 'nuclear.zip');
  await exportBioimageio(builtin, pkg);
  const { dir: imported } = await writeImportedModel(join(tmp, 'models'), await checkPackage(pkg));
  const files = (await readdir(NUCLEI_VAL))
    .filter((f) => f.endsWith('.image.png'))
    .sort()
    .slice(0, values.images ? Number(values.images) : undefined);
  const [ca, cb] = [await readModelCard(builtin), await readModelCard(imported)];
  const ra = await loadRunner(builtin, { runtime: 'onnx', threads: 2, int8: 'off' });
  const rb = await loadRunner(imported, { threads: 2 });
  let equal = 0;
  let differing = 0;
  let pixels = 0;
  try {
    for (const f of files) {
      const raw = await readImageFile(join(NUCLEI_VAL, f));
      const [la] = await segmentImage(raw, ra, ca, { tileSize: 256 }); // the import's own tile (chooseTiling)
      const [lb] = await segmentImage(raw, rb, cb);
      let d = 0;
      for (let i = 0; i < la!.data.length; i++) if (la!.data[i] !== lb!.data[i]) d++;
      if (d === 0) equal++;
      else console.log(`${f}: ${d} of ${la!.data.length} px differ`);
      differing += d;
      pixels += la!.data.length;
    }
  } finally {
    await ra.dispose();
    await rb.dispose();
  }
  console.log(`model ${builtin} → bioimage.io package → import (${rb.runtime})`);
  console.log(
    `identical label images: ${equal} of ${files.length}; differing pixels: ${differing} of ${pixels}`,
  );
} finally {
  await rm(tmp, { recursive: true, force: true });
}

import { labelFileName, labelKeyName } from '../image/label-names.js';
import type { JobTypeDefinition } from './types.js';

/** `NAME.labels.tif` of output 0, `NAME.<output name>.labels.tif` of output k > 0. */
function ofOutput(primary: string, def: JobTypeDefinition, k: number): string {
  if (k === 0) return primary;
  return primary.replace(/\.labels\.tif$/, `.${def.outputs[k]?.name ?? `output${k}`}.labels.tif`);
}

/**
 * The result file (bucket key segment) of output `k` of image `name` in a job of type `def`: output 0 is
 * `NAME.labels.tif` (labelKeyName), output k > 0 `NAME.<output name>.labels.tif` (whole-cell:
 * `NAME.nuclei.labels.tif`).
 */
export const outputFileName = (name: string, def: JobTypeDefinition, k: number): string =>
  ofOutput(labelKeyName(name), def, k);

/** The same as a local file name (`kiosk segment`: labelFileName, the name's characters kept). */
export const outputLocalFileName = (imagePath: string, def: JobTypeDefinition, k: number): string =>
  ofOutput(labelFileName(imagePath), def, k);

/**
 * The result keys of a done image job's outputs (its type `def`): its labels key, then
 * `NAME.<output>.labels.tif` beside it for each further output.
 */
export function outputKeysOf(
  rec: { readonly name: string; readonly labels_key?: string },
  def: JobTypeDefinition,
): { name: string; key: string }[] {
  const labels = rec.labels_key;
  if (!labels) return [];
  const folder = labels.slice(0, labels.lastIndexOf('/') + 1);
  return def.outputs.map((o, k) => ({
    name: o.name,
    key: k === 0 ? labels : folder + outputFileName(rec.name, def, k),
  }));
}

import { labelKeyName } from '../image/label-names.js';
import type { JobTypeDefinition } from './types.js';

/**
 * The result file name of output `k` of image `name` in a job of type `def`: output 0 is `NAME.labels.tif`
 * (labelKeyName), output k > 0 `NAME.<output name>.labels.tif` (whole-cell: `NAME.nuclei.labels.tif`).
 */
export function outputFileName(name: string, def: JobTypeDefinition, k: number): string {
  const primary = labelKeyName(name);
  if (k === 0) return primary;
  return primary.replace(/\.labels\.tif$/, `.${def.outputs[k]?.name ?? `output${k}`}.labels.tif`);
}

import { zipSync } from 'fflate';

/**
 * Packs result files into one zip (stored, not deflated: label TIFFs are already Deflate-compressed).
 * Entry names must be unique; `uniqueEntryName` makes them so.
 */
export function zipFiles(entries: readonly (readonly [string, Uint8Array])[]): Uint8Array {
  const files: Record<string, [Uint8Array, { level: 0 }]> = {};
  for (const [name, data] of entries) {
    if (name in files) throw new RangeError(`duplicate zip entry ${name}`);
    files[name] = [data, { level: 0 }];
  }
  return zipSync(files);
}

/** `base + suffix`, or `base_2 + suffix`, `base_3 + suffix`... whichever is not in `taken` yet (adds it). */
export function uniqueEntryName(taken: Set<string>, base: string, suffix: string): string {
  let name = `${base}${suffix}`;
  for (let i = 2; taken.has(name); i++) name = `${base}_${i}${suffix}`;
  taken.add(name);
  return name;
}

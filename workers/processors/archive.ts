import { packZip } from '../image/zip.js';

/** Packs result files into one zip (H1's deterministic packZip; entry names must be unique). */
export function zipFiles(entries: readonly (readonly [string, Uint8Array])[]): Uint8Array {
  return packZip(entries.map(([name, data]) => ({ name, data })));
}

/** `base + suffix`, or `base_2 + suffix`, `base_3 + suffix`... whichever is not in `taken` yet (adds it). */
export function uniqueEntryName(taken: Set<string>, base: string, suffix: string): string {
  let name = `${base}${suffix}`;
  for (let i = 2; taken.has(name); i++) name = `${base}_${i}${suffix}`;
  taken.add(name);
  return name;
}

import { packZip } from '../image/zip.js';
import type { Storage } from '../storage/storage.js';

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

/**
 * Largest label TIFF whose zip the API makes on download (in memory, per download) instead of the bucket
 * storing it; a larger one's zip is stored, and streamed from there.
 */
export const ZIP_ON_DOWNLOAD_MAX_BYTES = 16 * 2 ** 20;

/**
 * True when a single image's result zip (`output_key`: its one label TIFF of `tifBytes` bytes, as the
 * DeepCell Kiosk gave it) is not stored but made by the API when it is downloaded: the bucket has no signed
 * URLs (the local folder), so every download goes through the API anyway, and storing the zip would write
 * each result twice — one more file per job for the CPU worker to create (on a disk, tens of microseconds
 * to a millisecond each) and twice the space. A cloud bucket's `output_url` is a signed URL to the object
 * itself, so there the zip is stored; so it is for a TIFF past ZIP_ON_DOWNLOAD_MAX_BYTES.
 */
export function zipsOnDownload(storage: Pick<Storage, 'kind'>, tifBytes: number): boolean {
  return storage.kind === 'local' && tifBytes <= ZIP_ON_DOWNLOAD_MAX_BYTES;
}

/** A single image's result zip: its label TIFF `tifName` as the one entry. */
export function singleImageZip(tifName: string, tif: Uint8Array): Uint8Array {
  return zipFiles([[tifName, tif]]);
}

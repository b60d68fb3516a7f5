/**
 * Plain-language helpers for the Segment page's resolution option. Pure.
 *
 * Image resolution is the size of one pixel in the sample, in µm per pixel. When people only know the
 * objective, it is the camera's pixel size (µm on the chip) × binning / total magnification.
 */

/** A typical scientific CMOS camera pixel (Hamamatsu ORCA-Flash, Andor Zyla): 6.5 µm. */
export const DEFAULT_CAMERA_PIXEL_UM = 6.5;

/**
 * µm/px from the objective magnification (e.g. 20 for a 20× objective).
 * Throws RangeError naming the value for a magnification, camera pixel or binning that is not > 0 and finite.
 */
export function micronsPerPixelFromObjective(
  magnification: number,
  cameraPixelUm = DEFAULT_CAMERA_PIXEL_UM,
  binning = 1,
): number {
  for (const [name, v] of [
    ['magnification', magnification],
    ['camera pixel size', cameraPixelUm],
    ['binning', binning],
  ] as const) {
    if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`${name} must be a number > 0, got ${v}`);
  }
  return (cameraPixelUm * binning) / magnification;
}

/**
 * Parses a channel list typed by a person: `0`, `0,1`, `0 1`, `1;2`. Returns 0-based indexes, in order.
 * Throws RangeError for anything else (negative, fractional, repeated, empty), naming the bad part.
 */
export function parseChannels(text: string): number[] {
  const parts = text.split(/[\s,;]+/).filter((p) => p !== '');
  if (parts.length === 0) throw new RangeError('give at least one channel number, e.g. 0');
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d+$/.test(p)) throw new RangeError(`channel "${p}" is not a whole number ≥ 0`);
    const c = Number(p);
    if (out.includes(c)) throw new RangeError(`channel ${c} is listed twice`);
    out.push(c);
  }
  return out;
}

/** Formats a µm/px value for display: 3 significant digits (`0.65`, `0.325`, `1.30`). */
export function formatMicrons(v: number): string {
  return Number.isFinite(v)
    ? v
        .toPrecision(3)
        .replace(/(\.\d*?)0+$/, '$1')
        .replace(/\.$/, '')
    : '–';
}

/** Bytes as a short size: `512 B`, `1.5 KiB`, `20.0 MiB`. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '–';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/** Seconds as `0.4 s`, `12 s`, `3 min 5 s`, `2 h 1 min`. */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '–';
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

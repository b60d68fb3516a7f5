/**
 * Sorting what a person dropped on the Segment page: images and zips go to the service, hidden system files
 * of a dropped folder are skipped quietly, anything else is refused with a reason before upload. The service
 * checks the bytes again (a `.png` that is not a PNG fails there, with its own reason). Pure.
 */

export type FileKind = 'image' | 'zip' | 'skip' | 'unsupported';

export interface Classified {
  readonly kind: FileKind;
  /** Why a file is refused (kind `unsupported`). */
  readonly reason?: string;
}

const IMAGE_EXT = /\.(png|tif|tiff)$/i;
const ZIP_EXT = /\.zip$/i;
/** Files a folder drop brings along that nobody means to segment. */
const SYSTEM_FILE = /(^|\/)(\.[^/]*|Thumbs\.db|desktop\.ini)$/i;

/** `path` is the file's path inside a dropped folder, or its plain name. */
export function classifyFile(path: string, size: number): Classified {
  if (SYSTEM_FILE.test(path)) return { kind: 'skip' };
  const name = path.split('/').pop() ?? path;
  if (size === 0) return { kind: 'unsupported', reason: `${name} is empty (0 bytes)` };
  if (ZIP_EXT.test(name)) return { kind: 'zip' };
  if (IMAGE_EXT.test(name)) return { kind: 'image' };
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 ? name.slice(dot) : '(no extension)';
  return {
    kind: 'unsupported',
    reason: `${name}: ${ext} files are not supported — drop TIFF (.tif, .tiff) or PNG images, or a .zip of them`,
  };
}

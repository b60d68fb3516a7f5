/**
 * Collecting files from a drop (files, whole folders, recursively) or a file input. Each file keeps its path
 * inside a dropped folder (`run1/a.tif`), which becomes its name in the job list and in zip-like results.
 */

export interface PickedFile {
  readonly file: File;
  /** Path inside a dropped folder, or the plain file name. */
  readonly path: string;
}

function readAllEntries(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  return new Promise((resolve, reject) => {
    const all: FileSystemEntry[] = [];
    const next = () =>
      reader.readEntries((batch) => {
        if (batch.length === 0) return resolve(all);
        all.push(...batch);
        next(); // readEntries returns at most ~100 entries per call
      }, reject);
    next();
  });
}

async function walk(entry: FileSystemEntry, prefix: string, out: PickedFile[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) =>
      (entry as FileSystemFileEntry).file(resolve, reject),
    );
    out.push({ file, path: prefix + entry.name });
  } else if (entry.isDirectory) {
    const children = await readAllEntries((entry as FileSystemDirectoryEntry).createReader());
    for (const c of children) await walk(c, `${prefix}${entry.name}/`, out);
  }
}

/**
 * The files of a drop event, folders expanded. Entries must be taken synchronously inside the event
 * handler, so call this first thing in `drop`; it falls back to `dataTransfer.files` when the browser gives
 * no entries (e.g. a DataTransfer built by a script).
 */
export function filesFromDrop(dt: DataTransfer): Promise<PickedFile[]> {
  const entries: FileSystemEntry[] = [];
  for (const item of Array.from(dt.items)) {
    if (item.kind !== 'file') continue;
    const e = typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null;
    if (e) entries.push(e);
  }
  const plain = Array.from(dt.files).map((file) => ({ file, path: file.name }));
  if (entries.length === 0) return Promise.resolve(plain);
  return (async () => {
    const out: PickedFile[] = [];
    for (const e of entries) await walk(e, '', out);
    return out;
  })();
}

/** The files of an <input type=file> (with `webkitdirectory`, paths are relative to the chosen folder). */
export function filesFromInput(input: HTMLInputElement): PickedFile[] {
  return Array.from(input.files ?? []).map((file) => ({ file, path: file.webkitRelativePath || file.name }));
}

/**
 * The one naming rule for label files (README "Label files"), used by `kiosk segment`, `kiosk predict`, the
 * API's label TIFF and the web UI's "Download all"; `kiosk eval` reads it back with {@link pairingName}.
 *
 * The labels of image `NAME.EXT` or `NAME.image.EXT` are `NAME.labels.tif`: the training data's layout
 * (`NAME.image.png` beside `NAME.labels.png`), so a prediction pairs with its ground truth by name. EXT is
 * the last extension; an OME-TIFF's `.ome` goes with it (`cells.ome.tif` → `cells.labels.tif`). A stack
 * segmented plane by plane gives `NAME_K.labels.tif` (K = 0, 1, ...).
 *
 * DeepCell zips keep DeepCell's names, `<stem>_feature_0.tif` (`<stem>`: the name less its last extension),
 * so DeepCell clients read them unchanged.
 *
 * Pure string functions: the web UI bundles this module too.
 */

/** What every label file's name ends with. */
export const LABELS_SUFFIX = '.labels.tif';

/** `.ome` then `.image` off the end of a name already without its last extension. */
function trimStem(stem: string): string {
  return stem.replace(/\.ome$/i, '').replace(/\.image$/i, '');
}

/**
 * NAME of an image's path: the last extension, then `.ome` and `.image`, dropped from the file name;
 * folders are kept as they are (`plate/a.image.png` → `plate/a`).
 */
export function labelStem(imagePath: string): string {
  const cut = Math.max(imagePath.lastIndexOf('/'), imagePath.lastIndexOf('\\')) + 1;
  const dir = imagePath.slice(0, cut);
  const base = imagePath.slice(cut);
  const dot = base.lastIndexOf('.');
  const stem = trimStem(dot > 0 ? base.slice(0, dot) : base);
  return dir + (stem || 'image');
}

/** `NAME.labels.tif` for image `imagePath` (folders kept); `NAME_K.labels.tif` for plane K of a stack. */
export function labelFileName(imagePath: string, plane?: number): string {
  return `${labelStem(imagePath)}${plane === undefined ? '' : `_${plane}`}${LABELS_SUFFIX}`;
}

/**
 * {@link labelFileName} as one bucket key segment (the API's result files): folders flattened to `_` and
 * anything outside `[A-Za-z0-9._-]` replaced by `_`, as the DeepCell names are (`plate/cell 1.png` →
 * `plate_cell_1.labels.tif`).
 */
export function labelKeyName(imagePath: string): string {
  return `${keySafe(labelStem(imagePath))}${LABELS_SUFFIX}`;
}

/** A name as it can stand in a bucket key segment: what `_feature_0.tif` names and {@link labelKeyName} use. */
export function keySafe(name: string): string {
  return (
    name
      .replace(/[\\/]+/g, '_')
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .replace(/^[._]+/, '') || 'image'
  );
}

/** DeepCell's name for the labels of `<stem>` in a result zip: `<stem>_feature_0.tif`. */
export function deepCellEntryName(stem: string): string {
  return `${stem}_feature_0.tif`;
}

const DEEPCELL_ENTRY = /^(.+)_feature_0\.tiff?$/i;

/** `NAME.labels.tif` for a DeepCell result zip's entry `<stem>_feature_0.tif`; undefined for another name. */
export function labelFileNameOfDeepCellEntry(entry: string): string | undefined {
  const m = DEEPCELL_ENTRY.exec(entry);
  return m ? `${trimStem(m[1]!) || 'image'}${LABELS_SUFFIX}` : undefined;
}

/**
 * `name` if no earlier call with `taken` gave it, else `NAME-2.labels.tif`, `NAME-3.labels.tif`, ... (for
 * packing several images' labels into one folder or zip). Adds the name it returns to `taken`.
 */
export function uniqueLabelFileName(taken: Set<string>, imagePath: string): string {
  const stem = labelStem(imagePath);
  let name = `${stem}${LABELS_SUFFIX}`;
  for (let k = 2; taken.has(name); k++) name = `${stem}-${k}${LABELS_SUFFIX}`;
  taken.add(name);
  return name;
}

const IMAGE_EXT = /\.(?:png|tiff?)$/i;
const RAW_IMAGE = /\.image(?:\.ome)?\.(?:png|tiff?)$/i;

/**
 * The NAME a file in a folder of label images stands for, to pair predictions with ground truth, from
 * any name the project writes or reads: `NAME.labels.tif` (this rule; also `.png`/`.tiff`),
 * `NAME.image.labels.tif` (the web UI's and `kiosk predict`'s older name), `NAME_feature_0.tif` and
 * `NAME.image_feature_0.tif` (DeepCell zip entries), plain `NAME.png`/`NAME.tif`. Undefined for a raw image
 * (`NAME.image.png`, the training layout's image beside its labels) and for anything not PNG or TIFF.
 */
export function pairingName(fileName: string): string | undefined {
  if (!IMAGE_EXT.test(fileName) || RAW_IMAGE.test(fileName)) return undefined;
  const deepcell = DEEPCELL_ENTRY.exec(fileName);
  if (deepcell) return trimStem(deepcell[1]!) || undefined;
  const labels = /^(.+)\.labels\.(?:png|tiff?)$/i.exec(fileName);
  if (labels) return trimStem(labels[1]!) || undefined;
  return trimStem(fileName.replace(IMAGE_EXT, '')) || undefined;
}

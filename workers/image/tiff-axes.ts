/**
 * What the pages of a multi-page TIFF are: read from the OME-XML or ImageJ description of page 0.
 *
 * - OME-TIFF: `<Pixels DimensionOrder="XYCZT" SizeC=.. SizeZ=.. SizeT=..>`; the order lists axes fastest
 *   first, so 'XYCZT' stacks pages as T (slowest), Z, C. Axes of size 1 are dropped. With samples per pixel
 *   S > 1, SizeC counts the samples too, so pages carry SizeC / S channels. PhysicalSizeX/Y are converted to
 *   µm from PhysicalSizeXUnit (default µm).
 * - ImageJ hyperstack: `images=, channels=, slices=, frames=` → axes T, Z, C (ImageJ's fixed order);
 *   `unit=` with the XResolution/YResolution tags (pixels per unit) → physical size in µm.
 * - Otherwise: one page has no leading axes; several pages are an unnamed stack 'Q'.
 */
import { ImageError } from './types.js';

export interface PageStack {
  /** Leading axes over pages, slowest first, e.g. 'TZC' or 'Q' or '' for one page. */
  readonly axes: string;
  /** Sizes of those axes; their product is `pages`. */
  readonly shape: number[];
  /** How many pages of the file form the image (the first ones). */
  readonly pages: number;
  readonly physicalSizeX?: number;
  readonly physicalSizeY?: number;
}

export interface StackFacts {
  readonly description: string | undefined;
  /** Number of full-resolution pages with page 0's shape and dtype. */
  readonly pageCount: number;
  readonly samplesPerPixel: number;
  /** XResolution / YResolution tags of page 0 (pixels per unit), when present. */
  readonly xResolution?: number;
  readonly yResolution?: number;
}

/** Length units seen in OME-XML and ImageJ descriptions, in µm (a Map: a unit named '__proto__' is no unit). */
const MICRONS_PER_UNIT = new Map<string, number>(Object.entries({
  'µm': 1, 'μm': 1, um: 1, micron: 1, microns: 1, micrometer: 1, nm: 1e-3, nanometer: 1e-3, pm: 1e-6,
  'Å': 1e-4, mm: 1e3, millimeter: 1e3, cm: 1e4, centimeter: 1e4, m: 1e6, meter: 1e6, inch: 25400,
})); // prettier-ignore

/** Interprets the pages of a TIFF; see the module comment. Inconsistent metadata → 'bad-dimension-order'. */
export function stackFromDescription(facts: StackFacts): PageStack {
  const d = facts.description ?? '';
  if (/<(\w+:)?OME[\s>]/.test(d)) return omeStack(d, facts);
  if (d.startsWith('ImageJ=')) return imagejStack(d, facts);
  return facts.pageCount > 1 ? { axes: 'Q', shape: [facts.pageCount], pages: facts.pageCount } : plain();
}

function plain(): PageStack {
  return { axes: '', shape: [], pages: 1 };
}

/**
 * The attributes of one XML start tag's inside. Linear time on any input: a name may only start after a
 * non-name character (the lookbehind), so a long run of name characters is scanned once, not once per start.
 */
function attributes(tag: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of tag.matchAll(/(?<![\w:])([\w:]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g))
    out.set(m[1]!, m[2] ?? m[3] ?? '');
  return out;
}

function omeStack(xml: string, facts: StackFacts): PageStack {
  // indexOf, not one regex over the rest of the document: no '>' after many '<Pixels ' must stay linear.
  const open = /<(?:\w+:)?Pixels\s/.exec(xml);
  const close = open ? xml.indexOf('>', open.index) : -1;
  if (!open || close < 0) throw new ImageError('bad-dimension-order', 'OME-XML has no <Pixels> element');
  const a = attributes(xml.slice(open.index + open[0].length, close));
  const order = a.get('DimensionOrder') ?? '';
  if (!/^XY(CZT|CTZ|ZCT|ZTC|TCZ|TZC)$/.test(order)) {
    throw new ImageError(
      'bad-dimension-order',
      `OME DimensionOrder '${order}' is not XY followed by C, Z, T`,
    );
  }
  const size = (name: string): number => {
    const raw = a.get(name) ?? '1';
    const v = Number(raw);
    if (!Number.isInteger(v) || v < 1)
      throw new ImageError('bad-dimension-order', `OME ${name}="${raw}" is not >= 1`);
    return v;
  };
  const spp = facts.samplesPerPixel;
  const sizeC = size('SizeC');
  if (sizeC % spp !== 0) {
    throw new ImageError(
      'bad-dimension-order',
      `OME SizeC=${sizeC} is not a multiple of ${spp} samples per pixel`,
    );
  }
  const sizes: Record<string, number> = { C: sizeC / spp, Z: size('SizeZ'), T: size('SizeT') };
  const slowestFirst = order.slice(2).split('').reverse();
  const axes = slowestFirst.filter((ax) => sizes[ax]! > 1);
  const pages = axes.reduce((p, ax) => p * sizes[ax]!, 1);
  if (pages > facts.pageCount) {
    throw new ImageError(
      'bad-dimension-order',
      `OME-XML describes ${pages} planes (SizeC=${sizeC}/${spp} samples, SizeZ=${sizes.Z}, SizeT=${sizes.T}) ` +
        `but the file has ${facts.pageCount} pages`,
    );
  }
  return {
    axes: axes.join(''),
    shape: axes.map((ax) => sizes[ax]!),
    pages,
    ...physical('X', a),
    ...physical('Y', a),
  };
}

function physical(axis: 'X' | 'Y', a: Map<string, string>): Partial<PageStack> {
  const raw = a.get(`PhysicalSize${axis}`);
  if (raw === undefined) return {};
  const value = Number(raw);
  const unit = a.get(`PhysicalSize${axis}Unit`) ?? 'µm';
  const scale = MICRONS_PER_UNIT.get(unit);
  if (!Number.isFinite(value) || value <= 0 || scale === undefined) return {};
  return { [`physicalSize${axis}`]: value * scale };
}

function imagejStack(desc: string, facts: StackFacts): PageStack {
  const kv = new Map<string, string>();
  for (const line of desc.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) kv.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const int = (key: string): number => {
    const raw = kv.get(key);
    if (raw === undefined) return 1;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < 1)
      throw new ImageError('bad-dimension-order', `ImageJ ${key}=${raw} is not >= 1`);
    return v;
  };
  const c = int('channels');
  let z = int('slices');
  const t = int('frames');
  const images = int('images');
  if (c * z * t === 1 && images > 1) z = images;
  const sizes: Record<string, number> = { T: t, Z: z, C: c };
  const axes = ['T', 'Z', 'C'].filter((ax) => sizes[ax]! > 1);
  const pages = c * z * t;
  if (pages > facts.pageCount) {
    throw new ImageError(
      'bad-dimension-order',
      `ImageJ description says ${pages} images (channels=${c}, slices=${z}, frames=${t}) but the file has ` +
        `${facts.pageCount} pages (ImageJ's contiguous >4 GiB layout is not supported)`,
    );
  }
  const out: PageStack = { axes: axes.join(''), shape: axes.map((ax) => sizes[ax]!), pages };
  const unit = (kv.get('unit') ?? '').replace(/\\u00B5/gi, 'µ');
  const scale = MICRONS_PER_UNIT.get(unit);
  if (scale === undefined) return out;
  const px = facts.xResolution && facts.xResolution > 0 ? scale / facts.xResolution : undefined;
  const py = facts.yResolution && facts.yResolution > 0 ? scale / facts.yResolution : px;
  return px === undefined ? out : { ...out, physicalSizeX: px, physicalSizeY: py };
}

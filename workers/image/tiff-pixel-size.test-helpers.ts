/** Independent readers' view of a TIFF's pixel size (tifffile, libtiff's tiffinfo), for tests (issue 23 #3). */
import { spawnSync } from 'node:child_process';
import { expect } from 'vitest';

export interface TifffilePixelSize {
  is_imagej: boolean;
  is_ome: boolean;
  /** ImageJ description's unit */
  unit: string | null;
  /** XResolution / YResolution as tifffile gives them: [numerator, denominator] */
  xres: number[] | null;
  yres: number[] | null;
  /** ResolutionUnit: 1 none, 2 inch, 3 cm */
  resunit: number | null;
  /** OME-XML Pixels PhysicalSizeX/Y and their units */
  ome_x: number | null;
  ome_y: number | null;
  ome_unit: string | null;
  labels_max: number;
}

/** What tifffile (an independent implementation) reads of a file's pixel size. */
export function tifffilePixelSize(path: string): TifffilePixelSize {
  const script = [
    'import sys, json, tifffile',
    'with tifffile.TiffFile(sys.argv[1]) as t:',
    '    p = t.pages[0]; tag = lambda n: p.tags[n].value if n in p.tags else None',
    '    pix = tifffile.xml2dict(t.ome_metadata)["OME"]["Image"]["Pixels"] if t.is_ome else {}',
    '    print(json.dumps({"is_imagej": t.is_imagej, "is_ome": t.is_ome,',
    '        "unit": (t.imagej_metadata or {}).get("unit"),',
    '        "xres": list(tag("XResolution") or []) or None, "yres": list(tag("YResolution") or []) or None,',
    '        "resunit": int(tag("ResolutionUnit")) if tag("ResolutionUnit") is not None else None,',
    '        "ome_x": pix.get("PhysicalSizeX"), "ome_y": pix.get("PhysicalSizeY"),',
    '        "ome_unit": pix.get("PhysicalSizeXUnit"), "labels_max": int(t.asarray().max())}))',
  ].join('\n');
  const r = spawnSync('/usr/bin/python3', ['-c', script, path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tifffile failed on ${path}: ${r.stderr}`);
  return JSON.parse(r.stdout) as TifffilePixelSize;
}

/** tiffinfo's report of a file (libtiff); fails naming the package when it is not installed. */
export function tiffinfo(path: string): string {
  const r = spawnSync('tiffinfo', [path], { encoding: 'utf8' });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
    throw new Error('tiffinfo (Debian package libtiff-tools) is not installed: bash scripts/setup-tests.sh');
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  return r.stdout;
}

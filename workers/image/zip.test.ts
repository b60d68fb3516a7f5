import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { encodePng } from './png.js';
import { encodeLabelsTiff } from './tiff-write.js';
import { ImageError } from './types.js';
import { crc32, packZip, unpackZip } from './zip.js';

const dir = mkdtempSync(join(tmpdir(), 'zip-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function archiveError(fn: () => unknown): ImageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ImageError);
    expect((err as ImageError).code).toBe('bad-archive');
    return err as ImageError;
  }
  throw new Error("expected ImageError 'bad-archive'");
}

/** Offset of the first central-directory header in a zip (for patching fields). */
const centralStart = (zip: Uint8Array): number =>
  new DataView(zip.buffer).getUint32(zip.length - 22 + 16, true);

/** The compression method of each of the first `n` entries of the central directory. */
function centralMethods(zip: Uint8Array, n: number): number[] {
  const v = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const methods: number[] = [];
  for (let p = centralStart(zip), i = 0; i < n; i++) {
    methods.push(v.getUint16(p + 10, true));
    p += 46 + v.getUint16(p + 28, true);
  }
  return methods;
}

describe('packZip', () => {
  const png = encodePng({ data: new Uint8Array(64), dtype: 'uint8', shape: [8, 8], axes: 'YX' });
  const entries = [
    { name: 'labels/a.tif', data: new Uint8Array(10_000).fill(3) },
    { name: 'b.png', data: png },
    { name: 'empty.txt', data: new Uint8Array(0) },
  ];

  it('round-trips, is deterministic, and passes Info-ZIP unzip -t', () => {
    const zip = packZip(entries);
    expect(packZip(entries)).toEqual(zip);
    expect(unpackZip(zip)).toEqual(entries);
    const path = join(dir, 'ok.zip');
    writeFileSync(path, zip);
    const r = spawnSync('unzip', ['-t', path], { encoding: 'utf8' });
    if (r.error === undefined) expect(r.stdout).toMatch(/No errors detected/);
  });

  it('deflates compressible data and stores already-compressed PNG', () => {
    const zip = packZip(entries);
    expect(centralMethods(zip, 3)).toEqual([8, 0, 0]);
    expect(zip.length).toBeLessThan(2000);
  });

  it('stores a TIFF whose strips are compressed already, deflates one that is not', () => {
    const labels = { data: new Uint32Array(64 * 64).map((_, i) => (i >> 9) + 1), height: 64, width: 64 };
    const packed = encodeLabelsTiff(labels);
    const plain = encodeLabelsTiff(labels, { compression: 'none' });
    const zip = packZip([
      { name: 'deflate.tif', data: packed },
      { name: 'plain.tif', data: plain },
      { name: 'short.tif', data: plain.subarray(0, 6) },
    ]);
    expect(centralMethods(zip, 3)).toEqual([0, 8, 0]);
    expect(unpackZip(zip).map((e) => e.data)).toEqual([packed, plain, plain.subarray(0, 6)]);
  });

  it("refuses unsafe or duplicate names with 'bad-argument'", () => {
    for (const name of ['../x', '/etc/x', 'a\\b', '.hidden', 'dir/', 'a//b']) {
      expect(() => packZip([{ name, data: new Uint8Array(1) }]), name).toThrowError(ImageError);
    }
    expect(() => packZip([entries[0]!, entries[0]!])).toThrowError(/appears twice/);
  });
});

describe('unpackZip', () => {
  it('skips directories, __MACOSX/ and dotfiles', () => {
    const zip = zipSync({
      'dir/': new Uint8Array(0),
      'dir/cell.tif': text('tif'),
      '__MACOSX/dir/._cell.tif': text('junk'),
      '.DS_Store': text('junk'),
      'dir/.hidden': text('junk'),
    });
    expect(unpackZip(zip).map((e) => e.name)).toEqual(['dir/cell.tif']);
  });

  it.each([
    ['../evil.tif', "has a '..' segment"],
    ['a/../../evil.tif', "has a '..' segment"],
    ['/etc/passwd', 'is an absolute path'],
    ['C:/Windows/x.tif', 'is an absolute path'],
    ['..\\evil.tif', 'contains a backslash'],
    ['dir\\cell.tif', 'contains a backslash'],
    ['D:evil.tif', 'is an absolute path'],
    ['//server/share/x.tif', 'is an absolute path'],
    ['a\0.tif', 'contains a NUL character'],
  ])('refuses the entry name %s', (name, why) => {
    const zip = zipSync({ [name]: text('x') });
    expect(archiveError(() => unpackZip(zip)).message).toBe(
      `zip entry '${name.replace('\0', '\\0')}' ${why}`,
    );
  });

  it('refuses too many entries before reading them', () => {
    const many = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i}.txt`, text('x')]));
    expect(archiveError(() => unpackZip(zipSync(many), { maxEntries: 10 })).message).toMatch(
      /lists 12 entries, more than the limit of 10/,
    );
  });

  it('refuses a zip bomb by its declared ratio, and a total over the limit', () => {
    const bomb = zipSync({ 'zeros.raw': new Uint8Array(4 << 20) }, { level: 9 });
    expect(archiveError(() => unpackZip(bomb, { maxRatio: 100 })).message).toMatch(
      /zip entry 'zeros.raw' expands \d+ to 4194304 bytes \(ratio \d+ > 100\)/,
    );
    expect(unpackZip(bomb)[0]!.data.length).toBe(4 << 20);
    expect(archiveError(() => unpackZip(bomb, { maxTotalBytes: 1 << 20 })).message).toMatch(
      /'zeros.raw' brings the uncompressed total to 4194304/,
    );
  });

  it('stops inflating an entry that lies about its size', () => {
    const zip = zipSync({ 'zeros.raw': new Uint8Array(1 << 20) });
    const v = new DataView(zip.buffer);
    v.setUint32(centralStart(zip) + 24, 1000, true); // declared uncompressed size: 1000 bytes
    expect(archiveError(() => unpackZip(zip)).message).toMatch(
      /'zeros.raw' inflates past its declared 1000 bytes/,
    );
  });

  it('detects a CRC mismatch, encryption, unknown methods and duplicates', () => {
    const base = zipSync({ 'a.txt': text('hello hello hello') }, { level: 0 });
    const cd = centralStart(base);
    const crc = base.slice();
    new DataView(crc.buffer).setUint32(cd + 16, 1234, true);
    expect(archiveError(() => unpackZip(crc)).message).toMatch(/'a.txt' fails its CRC-32 check/);
    const enc = base.slice();
    enc[cd + 8] |= 1;
    expect(archiveError(() => unpackZip(enc)).message).toMatch(/'a.txt' is encrypted/);
    const lzma = base.slice();
    new DataView(lzma.buffer).setUint16(cd + 10, 14, true);
    expect(archiveError(() => unpackZip(lzma)).message).toMatch(/compression method 14/);
    const twice = packZip([
      { name: 'a.txt', data: text('1') },
      { name: 'b.txt', data: text('2') },
    ]);
    twice.set(text('a'), centralStart(twice) + 46 + 46 + 5); // rename central entry b.txt → a.txt
    expect(archiveError(() => unpackZip(twice)).message).toMatch(/'a.txt' appears twice/);
  });

  it('refuses symbolic links (Unix mode S_IFLNK in the external attributes), whatever the link points at', () => {
    const zip = zipSync({ 'cells.tif': text('/etc/passwd') }, { level: 0 });
    const v = new DataView(zip.buffer);
    v.setUint16(centralStart(zip) + 4, (3 << 8) | 20, true); // made by Unix
    v.setUint32(centralStart(zip) + 38, (0o120777 << 16) >>> 0, true); // lrwxrwxrwx
    expect(archiveError(() => unpackZip(zip)).message).toBe("zip entry 'cells.tif' is a symbolic link");
    v.setUint32(centralStart(zip) + 38, (0o100644 << 16) >>> 0, true); // a regular file -rw-r--r--
    expect(unpackZip(zip).map((e) => e.name)).toEqual(['cells.tif']);
  });

  it('refuses a zip inside the zip (nested archives are not unpacked) and names equal after normalising', () => {
    const inner = zipSync({ 'a.tif': text('x') });
    expect(archiveError(() => unpackZip(zipSync({ 'plate.zip': inner }))).message).toMatch(
      /^zip entry 'plate.zip' is itself a zip archive; nested archives are not unpacked/,
    );
    const empty = zipSync({});
    expect(archiveError(() => unpackZip(zipSync({ 'x.tif': empty }))).message).toMatch(
      /'x.tif' is itself a zip/,
    );
    const same = zipSync({ 'a/b.txt': text('1'), 'a/./b.txt': text('2') });
    expect(archiveError(() => unpackZip(same)).message).toBe("zip entry 'a/b.txt' appears twice");
  });

  it('refuses bytes that are not a zip, and truncated zips', () => {
    expect(archiveError(() => unpackZip(text('hello'))).message).toMatch(/not a zip archive/);
    const zip = packZip([{ name: 'a.txt', data: text('a'.repeat(500)) }]);
    for (let cut = 0; cut < zip.length; cut += 7) archiveError(() => unpackZip(zip.subarray(0, cut)));
  });

  it('crc32 matches the standard check value', () => {
    expect(crc32(text('123456789'))).toBe(0xcbf43926);
  });
});

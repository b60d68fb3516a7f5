import { describe, expect, it } from 'vitest';
import { stackFromDescription } from './tiff-axes.js';
import { decodeLzw } from './tiff-codecs.js';
import { ImageError } from './types.js';

const ome = (pixels: string): string =>
  `<?xml version="1.0"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0">` +
  `<Pixels ID="Pixels:0" ${pixels} Type="uint16" SizeX="4" SizeY="3"></Pixels></Image></OME>`;

function codeAndMessage(fn: () => unknown): [string, string] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ImageError);
    return [(err as ImageError).code, (err as ImageError).message];
  }
  return ['no error', ''];
}

describe('stackFromDescription', () => {
  it('orders OME axes slowest first and drops axes of size 1', () => {
    const s = stackFromDescription({
      description: ome(
        'DimensionOrder="XYZTC" SizeC="2" SizeZ="3" SizeT="1" PhysicalSizeX="0.002" PhysicalSizeXUnit="mm"',
      ),
      pageCount: 6,
      samplesPerPixel: 1,
    });
    expect(s).toEqual({ axes: 'CZ', shape: [2, 3], pages: 6, physicalSizeX: 2 });
  });

  it('divides SizeC by the samples per pixel of RGB OME files and uses only the pages it describes', () => {
    const s = stackFromDescription({
      description: ome('DimensionOrder="XYCZT" SizeC="3" SizeZ="2"'),
      pageCount: 5,
      samplesPerPixel: 3,
    });
    expect(s).toMatchObject({ axes: 'Z', shape: [2], pages: 2 });
  });

  it("names unnamed stacks 'Q' and single pages ''", () => {
    expect(
      stackFromDescription({ description: '{"shape": [3, 4, 5]}', pageCount: 3, samplesPerPixel: 1 }).axes,
    ).toBe('Q');
    expect(stackFromDescription({ description: undefined, pageCount: 1, samplesPerPixel: 1 })).toEqual({
      axes: '',
      shape: [],
      pages: 1,
    });
  });

  it('reads a plain ImageJ stack (images= only) as Z, and ImageJ pixel size in nm', () => {
    const s = stackFromDescription({
      description: 'ImageJ=1.53t\nimages=4\nunit=nm\n',
      pageCount: 4,
      samplesPerPixel: 1,
      xResolution: 0.01,
    });
    expect(s).toEqual({ axes: 'Z', shape: [4], pages: 4, physicalSizeX: 0.1, physicalSizeY: 0.1 });
  });

  it("inconsistent metadata → 'bad-dimension-order' saying what disagrees", () => {
    const cases: [string, number, number, RegExp][] = [
      [ome('DimensionOrder="XYCZ" SizeC="2"'), 2, 1, /DimensionOrder 'XYCZ' is not XY followed by C, Z, T/],
      [
        ome('DimensionOrder="XYCZT" SizeC="2" SizeZ="3"'),
        4,
        1,
        /describes 6 planes .* but the file has 4 pages/,
      ],
      [ome('DimensionOrder="XYCZT" SizeC="4"'), 4, 3, /SizeC=4 is not a multiple of 3 samples/],
      [ome('DimensionOrder="XYCZT" SizeZ="0"'), 4, 1, /SizeZ="0" is not >= 1/],
      ['<OME><Image/></OME>', 1, 1, /no <Pixels> element/],
      ['ImageJ=1.11a\nimages=8\nchannels=2\nslices=4\n', 1, 1, /says 8 images .* file has 1 pages/],
      ['ImageJ=1.11a\nchannels=x\n', 1, 1, /channels=x is not >= 1/],
    ];
    for (const [description, pageCount, samplesPerPixel, message] of cases) {
      const [code, text] = codeAndMessage(() =>
        stackFromDescription({ description, pageCount, samplesPerPixel }),
      );
      expect(code, description).toBe('bad-dimension-order');
      expect(text).toMatch(message);
    }
  });
});

describe('decodeLzw on hand-made streams', () => {
  /** Packs 9-bit codes MSB first. */
  const pack9 = (codes: number[]): Uint8Array => {
    const bits = codes.map((c) => c.toString(2).padStart(9, '0')).join('');
    const out = new Uint8Array(Math.ceil(bits.length / 8));
    for (let i = 0; i < bits.length; i++) if (bits[i] === '1') out[i >> 3]! |= 0x80 >> (i & 7);
    return out;
  };

  it('decodes literals, a table code and the KwKwK case', () => {
    const out = new Uint8Array(7);
    // clear, 'a', 'b', 258 = 'ab', then 260 = next free code (KwKwK): 'ab' + 'a', EOI
    expect(decodeLzw(pack9([256, 97, 98, 258, 260, 257]), out)).toBe(7);
    expect(new TextDecoder().decode(out)).toBe('abababa');
  });

  it("refuses codes beyond the table and after a clear → 'corrupt-data', old-style LZW → 'unsupported-compression'", () => {
    expect(codeAndMessage(() => decodeLzw(pack9([256, 97, 300]), new Uint8Array(9)))).toEqual([
      'corrupt-data',
      expect.stringMatching(/LZW code 300 is beyond the table size 258/) as string,
    ]);
    expect(codeAndMessage(() => decodeLzw(pack9([256, 258]), new Uint8Array(9)))[1]).toMatch(
      /code 258 follows a clear code/,
    );
    expect(codeAndMessage(() => decodeLzw(new Uint8Array([0, 1, 2]), new Uint8Array(9)))[0]).toBe(
      'unsupported-compression',
    );
  });
});

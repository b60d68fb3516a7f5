/**
 * Fuzzing the TIFF and PNG decoders and the zip reader with a fixed seed (see fuzz-harness.ts): real files
 * with mutations, and random bytes. Every input must decode or throw ImageError — never another exception
 * — within 2 s, and no single buffer may exceed what the pixel limit allows (so a header that lies about
 * sizes cannot make the decoder allocate for it). For images, inspectImage (the API's header check) must
 * agree with decodeImage whenever decoding succeeds. A longer run: `npm run bench fuzz -- --seconds N`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  caseBytes,
  FuzzTally,
  headerFields,
  runCase,
  trackAllocations,
  fuzzCaseArb,
  type Format,
} from './fuzz-harness.js';

// Before the decoders load, so that the allocations of fflate and fast-png are seen too.
trackAllocations();
const { fuzzFiles } = await import('./fuzz-files.js');
const { decodeImage, inspectImage } = await import('./decode.js');
const { unpackZip } = await import('./zip.js');
const { ImageError } = await import('./types.js');

const SEED = 20240609;
/** Runs per format: about 15 s of test time (24 s with vitest start-up) on a shared 2-core machine. */
const RUNS: Record<Format, number> = { tiff: 50_000, png: 12_000, zip: 25_000 };
const LIMITS = { maxPixels: 1 << 20, maxFrames: 64 };
const ZIP_LIMITS = { maxEntries: 64, maxTotalBytes: 1 << 24 };
const CASE_MS = 2000;

/**
 * The largest single buffer a case may allocate: the output at 8 bytes per value, strips or tiles up to 4x
 * the image plus 2^20 values (tiff-read.ts), a few copies of the input, and 4 MiB for one inflate call.
 */
const allocationBudget = (inputBytes: number) =>
  8 * (5 * LIMITS.maxPixels + 2 ** 20) + 16 * inputBytes + (4 << 20);

function decoderOf(format: Format): (bytes: Uint8Array) => unknown {
  if (format === 'zip') return (bytes) => unpackZip(bytes, ZIP_LIMITS);
  return (bytes) => {
    let decoded: ReturnType<typeof decodeImage> | undefined;
    let decodeError: unknown;
    try {
      decoded = decodeImage(bytes, LIMITS);
    } catch (err) {
      decodeError = err;
    }
    let info: ReturnType<typeof inspectImage> | undefined;
    try {
      info = inspectImage(bytes, LIMITS);
    } catch (err) {
      if (!(err instanceof ImageError)) throw err;
      if (decoded) throw new Error(`inspectImage refused a file decodeImage reads: ${err.message}`);
    }
    if (decoded && info && JSON.stringify([info.dtype, info.shape, info.axes]) !== JSON.stringify([decoded.dtype, decoded.shape, decoded.axes]))
      throw new Error(`inspectImage says ${info.dtype} ${info.axes} [${info.shape.join(', ')}], decodeImage gives ${decoded.dtype} ${decoded.axes} [${decoded.shape.join(', ')}]`);
    if (decodeError !== undefined) throw decodeError;
    return decoded;
  }; // prettier-ignore
}

describe.each(['tiff', 'png', 'zip'] as const)('fuzzing the %s decoder', (format) => {
  it(`${RUNS[format]} mutated or random inputs: decoded or ImageError, each under ${CASE_MS} ms of CPU and within the allocation budget`, () => {
    const files = fuzzFiles(format);
    expect(files.length).toBeGreaterThan(2);
    const fields = files.map((f) => headerFields(format, f));
    expect(fields.every((f) => f.length > 0)).toBe(true);
    const decode = decoderOf(format);
    const codes = format === 'zip' ? ['bad-archive'] : undefined;
    const tally = new FuzzTally();
    fc.assert(
      fc.property(fuzzCaseArb(files.length), (c) => {
        const bytes = caseBytes(c, format, files, fields);
        const r = runCase(decode, bytes, codes);
        tally.add(c, r);
        if (r.outcome === 'other') throw r.error;
        expect(r.cpuMs, 'CPU milliseconds for one input').toBeLessThan(CASE_MS);
        expect(r.largestAllocation, 'bytes of the largest buffer').toBeLessThanOrEqual(
          allocationBudget(bytes.length),
        );
      }),
      { seed: SEED, numRuns: RUNS[format] },
    );
    console.log(
      `fuzz ${format}: ${tally.tried} inputs, ${tally.decoded} decoded, ${tally.typed} typed errors, ` +
        `${tally.other} other; slowest ${tally.slowestMs.toFixed(1)} ms (${tally.slowestCpuMs.toFixed(1)} ms CPU), ` +
        `largest buffer ${tally.largestAllocation} B`,
    );
    // Not vacuous: the mutations leave some files readable and break others.
    expect(tally.decoded).toBeGreaterThan(RUNS[format] / 50);
    expect(tally.typed).toBeGreaterThan(RUNS[format] / 2);
  });
});

describe('the fuzz harness', () => {
  it('sees the allocations of the libraries the decoders use', async () => {
    const { unzlibSync, zlibSync } = await import('fflate');
    const bomb = zlibSync(new Uint8Array(8 << 20));
    const r = runCase(() => unzlibSync(bomb), bomb);
    expect(r.outcome).toBe('decoded');
    expect(r.largestAllocation).toBeGreaterThanOrEqual(8 << 20);
  });

  it('classifies a foreign exception as other and ImageError of another code as other for the zip reader', () => {
    expect(runCase(() => JSON.parse('{'), new Uint8Array(0)).outcome).toBe('other');
    const wrongCode = () => {
      throw new ImageError('truncated', 'x');
    };
    expect(runCase(wrongCode, new Uint8Array(0), ['bad-archive']).outcome).toBe('other');
    expect(runCase(wrongCode, new Uint8Array(0)).outcome).toBe('typed');
  });
});

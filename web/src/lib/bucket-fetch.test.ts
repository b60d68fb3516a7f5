/**
 * The page's fetch of a signed bucket URL, run in Node (global fetch) against a real HTTP server standing
 * in for the bucket: it answers the way S3 and GCS answer a signed GET (the bytes; an XML <Error> for an
 * expired or refused link). What the browser alone can refuse (CORS, the CSP) is covered in Chromium by
 * api/security-bucket.test.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { api } from '../api.js';
import { BucketFetchError, bucketBytes, isOtherOrigin } from './bucket-fetch.js';

const S3_EXPIRED =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message>' +
  '<X-Amz-Expires>60</X-Amz-Expires><RequestId>R1</RequestId></Error>';
const GCS_EXPIRED =
  "<?xml version='1.0' encoding='UTF-8'?><Error><Code>ExpiredToken</Code><Message>Invalid argument.</Message>" +
  '<Details>The provided token has expired. Request signature expired at: 2026-01-01T00:00:00+00:00</Details></Error>';
const S3_DENIED =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>';

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

/** A stand-in for the bucket: answers every GET with `status` and `body`; records the request headers. */
async function standInBucket(status: number, body: string | Uint8Array) {
  const seen: Record<string, string | string[] | undefined>[] = [];
  server = createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(status, { 'content-type': status === 200 ? 'application/octet-stream' : 'application/xml' });
    res.end(body);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
  return { origin, url: `${origin}/lab-kiosk/results/lab/j1/labels.tif?X-Amz-Signature=abc`, seen };
} // prettier-ignore

async function failure(url: string): Promise<BucketFetchError> {
  const err = await bucketBytes(url).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BucketFetchError);
  return err as BucketFetchError;
}

describe('bucketBytes', () => {
  it('returns the object, sent without the kiosk token (the URL is signed; a header would need a preflight)', async () => {
    const b = await standInBucket(200, new Uint8Array([1, 2, 3]));
    expect(await bucketBytes(b.url)).toEqual(new Uint8Array([1, 2, 3]));
    expect(await api.bytes(b.url)).toEqual(new Uint8Array([1, 2, 3])); // api.bytes hands it over
    expect(b.seen.every((h) => h.authorization === undefined)).toBe(true);
  }); // prettier-ignore

  it.each([
    ['S3', S3_EXPIRED, /refused the signed link \(403 AccessDenied: Request has expired\)\. The link has expired: reload the page/],
    ['GCS', GCS_EXPIRED, /refused the signed link \(400 ExpiredToken: Invalid argument\. The provided token has expired\..*\)\. The link has expired: reload the page/],
  ])('an expired %s link says so, and to reload the page', async (_cloud, body, message) => {
    const b = await standInBucket(body === GCS_EXPIRED ? 400 : 403, body);
    const err = await failure(b.url);
    expect(err.message).toMatch(message);
    expect(err.message).toContain(`the bucket at ${b.origin}`);
    expect(err.code).toBe('signed-url-expired');
    await expect(api.bytes(b.url)).rejects.toThrow(message); // what the Viewer shows
  }); // prettier-ignore

  it('a refusal quotes the bucket (not a bare "403 Forbidden"), and is not taken for expiry', async () => {
    const b = await standInBucket(403, S3_DENIED);
    const err = await failure(b.url);
    expect(err.message).toBe(`the bucket at ${b.origin} refused the signed link (403 AccessDenied: Access Denied)`);
    expect(err).toMatchObject({ status: 403, code: 'bucket-refused' });
    const plain = await standInBucket(500, 'oops'); // not XML: the status alone
    expect((await failure(plain.url)).message).toBe(`the bucket at ${plain.origin} refused the signed link (500)`);
  }); // prettier-ignore

  it('no answer: names the bucket and the possible causes (CORS, the CSP, the network)', async () => {
    const b = await standInBucket(200, '');
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    const err = await failure(b.url);
    expect(err.status).toBe(0);
    expect(err.code).toBe('bucket-unreachable');
    expect(err.message).toMatch(
      new RegExp(`^the bucket at ${b.origin} did not answer this page \\(fetch failed\\): its CORS rules .*Content-Security-Policy.*the browser console says which$`),
    );
  }); // prettier-ignore

  it('isOtherOrigin: kiosk paths are not the bucket; absolute URLs are (no page in Node)', () => {
    expect(isOtherOrigin('/v1/jobs/j1/result?format=tif')).toBe(false);
    expect(isOtherOrigin('https://lab-kiosk.s3.eu-west-1.amazonaws.com/k?X-Amz-Signature=1')).toBe(true);
    expect(isOtherOrigin('//storage.googleapis.com/lab-kiosk/k')).toBe(true);
  });
});

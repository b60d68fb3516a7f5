/**
 * Fetching a cloud bucket's signed URL (a job's labels or input image, in the cloud) from the page, with
 * errors that say what went wrong instead of the browser's bare "Failed to fetch" or "403 Forbidden". The
 * browser hides why a cross-origin fetch failed (the bucket's CORS rules, the kiosk's Content-Security-
 * Policy, the network), so the message names the possible causes and points at the console, which says.
 * A bucket's refusal is an XML `<Error>` (S3 and GCS alike): its Code, Message and Details are quoted, and an
 * expired link (the API signs them for KIOSK_SIGNED_URL_TTL_S) says to reload the page for a fresh one.
 */

/** A signed bucket URL that could not be read; `status` is 0 when no answer reached the page. */
export class BucketFetchError extends Error {
  override readonly name = 'BucketFetchError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** True when `url` is on another origin than the page (in Node, where there is no page: any absolute URL). */
export function isOtherOrigin(url: string): boolean {
  const here = (globalThis as { location?: { href: string } }).location?.href;
  if (!here) return /^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith('//');
  return new URL(url, here).origin !== new URL(here).origin;
}

/** The origin of `url` (resolved against the page when relative). */
function originOf(url: string): string {
  try {
    return new URL(url, (globalThis as { location?: { href: string } }).location?.href).origin;
  } catch {
    return JSON.stringify(url);
  }
}

/** The text of `<tag>` in a bucket's XML error body, if any. */
function xmlField(body: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(body);
  return m?.[1]?.trim() || undefined;
}

/** The bytes of a signed bucket URL, or BucketFetchError with a message a person can act on. */
export async function bucketBytes(url: string): Promise<Uint8Array> {
  const origin = originOf(url);
  let res: Response;
  try {
    // No kiosk token or other headers: the signature in the URL is the authorization, and a header would
    // turn this simple GET into a CORS preflight.
    res = await fetch(url);
  } catch (err) {
    throw new BucketFetchError(
      0,
      'bucket-unreachable',
      `the bucket at ${origin} did not answer this page (${(err as Error).message}): its CORS rules may ` +
        `not allow this page's origin, the kiosk's Content-Security-Policy may not allow the bucket, or ` +
        `the network failed; the browser console says which`,
    );
  }
  if (!res.ok) {
    const body = await res.text().catch(() => '');
    const code = xmlField(body, 'Code');
    const detail = [xmlField(body, 'Message'), xmlField(body, 'Details')].filter(Boolean).join(' ');
    const expired = /expired/i.test(`${code ?? ''} ${detail}`);
    throw new BucketFetchError(
      res.status,
      expired ? 'signed-url-expired' : 'bucket-refused',
      `the bucket at ${origin} refused the signed link (${res.status}${code ? ` ${code}` : ''}` +
        `${detail ? `: ${detail}` : ''})` +
        (expired ? '. The link has expired: reload the page for a fresh one' : ''),
    );
  }
  return new Uint8Array(await res.arrayBuffer());
}

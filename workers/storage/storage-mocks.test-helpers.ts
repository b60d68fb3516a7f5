import { Readable } from 'node:stream';
import type { GcsBucketLike, GcsFileLike } from './gcs.js';

/**
 * In-process stand-ins for the clouds (unreachable from here). Both keep objects in a Map and answer the
 * same calls the real services would; tests that use them say "mock" in their names.
 */

/** A mock GCS bucket with the subset of the `@google-cloud/storage` Bucket API that GcsStorage calls. */
export function mockGcsBucket(name = 'mock-bucket'): GcsBucketLike & { objects: Map<string, Uint8Array> } {
  const objects = new Map<string, Uint8Array>();
  const notFound = (key: string) => Object.assign(new Error(`No such object: ${name}/${key}`), { code: 404 });
  const file = (key: string): GcsFileLike => ({
    name: key,
    async save(data) {
      objects.set(key, Uint8Array.from(data));
    },
    async download() {
      const d = objects.get(key);
      if (!d) throw notFound(key);
      return [d];
    },
    createReadStream() {
      const d = objects.get(key);
      return d
        ? Readable.from([Buffer.from(d)])
        : new Readable({
            read() {
              this.destroy(notFound(key));
            },
          });
    },
    async getMetadata() {
      const d = objects.get(key);
      if (!d) throw notFound(key);
      return [{ size: String(d.byteLength) }];
    },
    async delete({ ignoreNotFound }) {
      if (!objects.delete(key) && !ignoreNotFound) throw notFound(key);
    },
    async getSignedUrl({ expires }) {
      return [`https://storage.googleapis.com/${name}/${encodeURI(key)}?X-Goog-Expires=${expires}`];
    },
  });
  return {
    name,
    objects,
    file,
    async getFiles({ prefix }) {
      return [[...objects.keys()].filter((k) => k.startsWith(prefix)).map(file)];
    },
  };
}

interface HttpRequestLike {
  method: string;
  path: string;
  query?: Record<string, string | string[] | null>;
  body?: unknown;
}

/**
 * A mock S3 endpoint as an AWS SDK v3 request handler: the real S3Client serializes each command to HTTP
 * and this handler answers PUT/GET/HEAD/DELETE object and ListObjectsV2 (path-style) from a Map.
 */
export function mockS3Handler(): {
  objects: Map<string, Uint8Array>;
  handle(req: HttpRequestLike): Promise<{ response: unknown }>;
} {
  const objects = new Map<string, Uint8Array>();
  const reply = (
    statusCode: number,
    body: string | Uint8Array = '',
    headers: Record<string, string> = {},
  ) => ({
    response: {
      statusCode,
      headers: {
        'content-length': String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength),
        ...headers,
      },
      body: Readable.from([Buffer.from(body)]),
    },
  });
  const xmlError = (code: string, status: number) =>
    reply(status, `<?xml version="1.0"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`, {
      'content-type': 'application/xml',
    });
  return {
    objects,
    async handle(req) {
      // Path style: /<bucket>/<key...>
      const [, , ...rest] = req.path.split('/');
      const key = decodeURIComponent(rest.join('/'));
      if (req.method === 'PUT') {
        const body = req.body;
        let data: Uint8Array;
        if (body instanceof Uint8Array) data = Uint8Array.from(body);
        else if (typeof body === 'string') data = Buffer.from(body);
        else if (body instanceof Readable) {
          const chunks: Buffer[] = [];
          for await (const c of body) chunks.push(Buffer.from(c as Uint8Array));
          data = Buffer.concat(chunks);
        } else data = new Uint8Array();
        objects.set(key, data);
        return reply(200, '', { etag: '"x"' });
      }
      if (req.method === 'GET' && req.query?.['list-type'] === '2') {
        const prefix = String(req.query.prefix ?? '');
        const keys = [...objects.keys()].filter((k) => k.startsWith(prefix)).sort();
        const contents = keys.map(
          (k) => `<Contents><Key>${k}</Key><Size>${objects.get(k)?.byteLength}</Size></Contents>`,
        );
        return reply(
          200,
          `<?xml version="1.0"?><ListBucketResult><Name>b</Name><Prefix>${prefix}</Prefix><KeyCount>${keys.length}</KeyCount><IsTruncated>false</IsTruncated>${contents.join('')}</ListBucketResult>`,
          { 'content-type': 'application/xml' },
        );
      }
      const obj = objects.get(key);
      if (req.method === 'GET') return obj ? reply(200, obj) : xmlError('NoSuchKey', 404);
      if (req.method === 'HEAD')
        return obj ? reply(200, '', { 'content-length': String(obj.byteLength) }) : reply(404);
      if (req.method === 'DELETE') {
        objects.delete(key);
        return reply(204);
      }
      return xmlError('NotImplemented', 501);
    },
  };
}

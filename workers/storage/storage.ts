import type { Readable } from 'node:stream';

/** An object's bytes: one array, or parts to be stored one after another. */
export type Bytes = Uint8Array | readonly Uint8Array[];

/** The bytes as one array (parts copied together; a single array as it is). */
export function joinBytes(data: Bytes): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data.length === 1) return data[0]!;
  return Buffer.concat(data as Uint8Array[]);
}

/** Byte length of `data`. */
export function bytesLength(data: Bytes): number {
  return data instanceof Uint8Array ? data.byteLength : data.reduce((n, p) => n + p.byteLength, 0);
}

/**
 * Where inputs, intermediate arrays, results and models live. Keys are `/`-separated relative paths
 * (`uploads/<lab>/<id>/<file>`, `results/<lab>/<job>/...`, `models/<name>/<version>/...`, `scratch/<job>/...`).
 * One interface, three backends: a local folder (default), Google Cloud Storage and Amazon S3.
 *
 * Writes are whole-object and atomic (a reader never sees half a file), so a retried job that writes the
 * same key overwrites, never duplicates.
 */
export interface Storage {
  /** `local`, `gcs` or `s3`: used in logs and to decide whether downloads go through the API. */
  readonly kind: 'local' | 'gcs' | 's3';
  /**
   * Writes (or overwrites) one object: `data`, or the concatenation of its parts (a tensor pack's header
   * and arrays, which a local folder writes with one vectored write instead of copying them together).
   */
  put(key: string, data: Bytes): Promise<void>;
  /**
   * Streams one object in; resolves to the number of bytes written. If the stream errors (for example the
   * upload went over its size limit) the partial object is removed and the error is rethrown.
   */
  putStream(key: string, body: Readable): Promise<number>;
  /** Reads one object whole. Throws StorageError('not-found') when it does not exist. */
  get(key: string): Promise<Uint8Array>;
  /** Opens one object for streaming. Throws StorageError('not-found') when it does not exist. */
  getStream(key: string): Promise<Readable>;
  /** Byte size of an object, or undefined when it does not exist. */
  size(key: string): Promise<number | undefined>;
  exists(key: string): Promise<boolean>;
  /** Every key that starts with `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Removes one object; a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Removes every object under `prefix` (which must end with `/`). */
  deletePrefix(prefix: string): Promise<void>;
  /**
   * A time-limited URL a client can GET directly, or undefined when this backend has none (the local
   * folder): the API then serves the object itself.
   */
  signedUrl(key: string, expiresInS: number): Promise<string | undefined>;
  /**
   * The origins (`scheme://host[:port]`) that signedUrl's URLs point at, so a web page served by the kiosk
   * may fetch them (the API lists them in its Content-Security-Policy's connect-src); none when this backend
   * has no signed URLs. Worked out from the client's configuration: no credentials, no network.
   */
  signedUrlOrigins(): Promise<readonly string[]>;
}

export type StorageErrorCode = 'not-found' | 'bad-key' | 'unavailable';

/** Every error a Storage throws on purpose. `unavailable` is transient (network, throttling): retry. */
export class StorageError extends Error {
  override readonly name = 'StorageError';
  constructor(
    readonly code: StorageErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Checks an object key: relative, `/`-separated, no empty, `.` or `..` segments, no backslashes or
 * control characters, at most 1024 bytes. Returns the key; throws StorageError('bad-key') otherwise.
 */
export function checkKey(key: string): string {
  const why = keyProblem(key);
  if (why) throw new StorageError('bad-key', `bad storage key ${JSON.stringify(key)}: ${why}`);
  return key;
}

function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'empty';
  if (Buffer.byteLength(key) > 1024) return 'longer than 1024 bytes';
  if (key.startsWith('/')) return 'absolute (starts with /)';
  if (key.includes('\\')) return 'contains a backslash';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) return 'contains a control character';
  for (const seg of key.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') return `has a '${seg}' path segment`;
  }
  return undefined;
}

/** Checks a prefix for list/deletePrefix: a valid key followed by `/`, or the empty prefix for list. */
export function checkPrefix(prefix: string, allowEmpty: boolean): string {
  if (prefix === '' && allowEmpty) return prefix;
  if (!prefix.endsWith('/'))
    throw new StorageError('bad-key', `bad storage prefix ${JSON.stringify(prefix)}: must end with /`);
  checkKey(prefix.slice(0, -1));
  return prefix;
}

/** Reads a stream to one buffer. */
export async function readAll(body: Readable): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of body)
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

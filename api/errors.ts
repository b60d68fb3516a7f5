import type { FastifyError, FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';

/**
 * The one error catalog of the API: code → HTTP status and what it means. Every error response is
 * `{ error: code, message }`; `message` says what was wrong (5xx hide internals: "internal error").
 */
export const ERRORS = {
  'bad-request': { status: 400, doc: 'the request does not match the route schema' },
  'not-an-image': { status: 400, doc: 'a file is not a TIFF or PNG image (judged by its bytes)' },
  'bad-image': { status: 400, doc: 'an image header is damaged or uses a feature we do not read' },
  'bad-archive': { status: 400, doc: 'a zip is unsafe or broken (../ paths, too many entries, a bomb...)' },
  'empty-archive': { status: 400, doc: 'a zip holds no images' },
  'unknown-model': { status: 400, doc: 'no such model' },
  'unknown-model-version': { status: 400, doc: 'the model has no such version' },
  'unknown-job-type': { status: 400, doc: 'no such job type' },
  'bad-model-package': {
    status: 400,
    doc: 'a bioimage.io model package this kiosk cannot import (the message names the rdf field or file)',
  },
  'upload-not-found': { status: 400, doc: 'an input names no uploaded file' },
  'duplicate-input': { status: 400, doc: "a job's inputs name one upload twice" },
  unauthorized: { status: 401, doc: 'no token, or a malformed, unknown or revoked one (docs/security.md)' },
  forbidden: { status: 403, doc: 'the route needs an admin token' },
  'forbidden-origin': { status: 403, doc: 'sent by a web page of an origin not in KIOSK_CORS_ORIGINS' },
  'job-not-found': { status: 404, doc: 'no such job (or it expired)' },
  'token-not-found': { status: 404, doc: "no such active token in the caller's lab" },
  'file-not-found': { status: 404, doc: 'no such file' },
  'route-not-found': { status: 404, doc: 'no route for this method and path (see /docs)' },
  'not-finished': {
    status: 409,
    doc: 'the job has not finished: no result yet; cancel it before deleting it',
  },
  'model-name-taken': { status: 409, doc: 'an imported model would take the name of a model of our own' },
  'request-timeout': {
    status: 408,
    doc: 'the request body stopped arriving for KIOSK_BODY_TIMEOUT_S (the connection is closed)',
  },
  'upload-too-large': { status: 413, doc: 'a file is over the upload size limit' },
  'too-many-files': { status: 413, doc: 'more files than one upload may hold' },
  'too-many-images': {
    status: 413,
    doc: 'a job has more images (files and zip entries) than KIOSK_MAX_JOB_IMAGES',
  },
  'request-too-large': { status: 413, doc: 'body over KIOSK_MAX_BODY_KB, uploads over KIOSK_MAX_REQUEST_MB' },
  'too-many-pixels': { status: 413, doc: 'an image has more values (H·W·C·Z) than KIOSK_MAX_PIXELS' },
  'too-many-frames': { status: 413, doc: 'an image file has more pages than KIOSK_MAX_FRAMES' },
  'not-multipart': { status: 415, doc: 'the upload is not multipart/form-data' },
  'unsupported-media-type': { status: 415, doc: 'the route does not take a body of this Content-Type' },
  'rate-limited': { status: 429, doc: 'too many requests from one lab or address: see Retry-After' },
  internal: { status: 500, doc: 'something broke on our side' },
  unavailable: { status: 503, doc: 'Redis or the bucket cannot be reached' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
  get status(): number {
    return ERRORS[this.code].status;
  }
}

export const ErrorBody = Type.Object(
  { error: Type.String({ description: 'a code from the error catalog' }), message: Type.String() },
  { $id: 'ErrorBody', description: 'every error response' },
);

/** Error responses every route may give, for its response schema. */
export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  408: ErrorBody,
  409: ErrorBody,
  413: ErrorBody,
  415: ErrorBody,
  429: ErrorBody,
  500: ErrorBody,
  503: ErrorBody,
};

/** 4xx statuses fastify may give an error, and the catalog code each means. */
const CODE_OF_STATUS: Partial<Record<number, ErrorCode>> = {
  400: 'bad-request',
  408: 'request-timeout',
  413: 'request-too-large',
  415: 'unsupported-media-type',
  429: 'rate-limited',
};

/**
 * What is wrong with a multipart body, for the errors busboy throws as plain Errors (a 500 otherwise): no
 * boundary in the Content-Type, a body cut short, a malformed part header. Undefined for other errors.
 */
function multipartProblem(err: Error): string | undefined {
  const m = String(err.message);
  if (/^Multipart: Boundary not found/i.test(m))
    return (
      'the multipart body has no boundary: Content-Type must be "multipart/form-data; boundary=<string>" ' +
      '(let your HTTP client build the form)'
    );
  if (/^Unexpected end of (multipart data|form)/i.test(m))
    return 'the multipart body ends before its closing boundary (the upload was cut short)';
  if (/^Malformed part header|^Multipart:/i.test(m)) return `the multipart body is malformed: ${m}`;
  return undefined;
}

/** Installs the one error handler: catalog errors as they are, fastify's own 4xx mapped, 5xx hidden. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | ApiError | Error, req, reply) => {
    if (err instanceof ApiError)
      return reply.status(err.status).send({ error: err.code, message: err.message });
    const fe = err as FastifyError & { code?: string; statusCode?: number; validation?: unknown };
    if (fe.validation) return reply.status(400).send({ error: 'bad-request', message: fe.message });
    if (
      fe.code === 'FST_REQ_FILE_TOO_LARGE' ||
      fe.code === 'FST_PARTS_LIMIT' ||
      fe.code === 'FST_FILES_LIMIT'
    ) {
      const code: ErrorCode = fe.code === 'FST_REQ_FILE_TOO_LARGE' ? 'upload-too-large' : 'too-many-files';
      return reply.status(413).send({ error: code, message: fe.message });
    }
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return reply.status(413).send({
        error: 'request-too-large',
        message: `the request body is over the ${req.routeOptions.bodyLimit ?? 0} byte limit (KIOSK_MAX_BODY_KB)`,
      });
    if (fe.code === 'FST_INVALID_MULTIPART_CONTENT_TYPE')
      return reply.status(415).send({ error: 'not-multipart', message: fe.message });
    const multipart = multipartProblem(fe);
    if (multipart) return reply.status(400).send({ error: 'bad-request', message: multipart });
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      return reply.status(415).send({
        error: 'unsupported-media-type',
        message: `${req.method} ${req.routeOptions.url ?? req.url} does not take a body of type ${JSON.stringify(req.headers['content-type'] ?? '')}; send application/json${req.routeOptions.url?.includes('upload') ? ' or multipart/form-data' : ''}`,
      });
    const status = fe.statusCode ?? 500;
    if (status < 500) {
      // a status with its own catalog code keeps it; any other 4xx is a plain 400 bad-request, so the code
      // never contradicts the status
      const code = CODE_OF_STATUS[status];
      return reply.status(code ? status : 400).send({ error: code ?? 'bad-request', message: fe.message });
    }
    req.log.error({ err }, 'request failed');
    const unavailable = /ECONNREFUSED|Connection is closed|unavailable/i.test(String(fe.message));
    return reply
      .status(unavailable ? 503 : 500)
      .send(
        unavailable
          ? { error: 'unavailable', message: 'Redis or the bucket cannot be reached' }
          : { error: 'internal', message: 'internal error' },
      );
  });
  app.setNotFoundHandler((req, reply) =>
    reply
      .status(404)
      .send({ error: 'route-not-found', message: `no route ${req.method} ${req.url.split('?')[0]}` }),
  );
}

/** The first key of `v` (nested) that could poison a prototype: `__proto__`, or `constructor.prototype`. */
function poisonKey(v: unknown): string | undefined {
  const stack: unknown[] = [v];
  while (stack.length) {
    const o = stack.pop();
    if (o === null || typeof o !== 'object') continue;
    if (Object.prototype.hasOwnProperty.call(o, '__proto__')) return '__proto__';
    const ctor = (o as Record<string, unknown>).constructor;
    if (
      Object.prototype.hasOwnProperty.call(o, 'constructor') &&
      ctor !== null &&
      typeof ctor === 'object' &&
      Object.prototype.hasOwnProperty.call(ctor, 'prototype')
    )
      return 'constructor.prototype';
    stack.push(...Object.values(o));
  }
  return undefined;
}

/**
 * The JSON body parser: as fastify's (prototype-poisoning keys refused, KIOSK_MAX_BODY_KB), but each
 * refusal says why — JSON's own syntax error, an empty body, or a `__proto__` / `constructor.prototype`
 * key — where fastify's says "not valid JSON" for all three.
 */
export function installJsonParser(app: FastifyInstance): void {
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '')
      return done(new ApiError('bad-request', 'the body is empty but Content-Type is application/json'));
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return done(new ApiError('bad-request', `the body is not valid JSON: ${(err as Error).message}`));
    }
    const poison = poisonKey(value);
    if (poison)
      return done(
        new ApiError(
          'bad-request',
          `the body holds a "${poison}" key, which is refused (it could change the prototype of objects)`,
        ),
      );
    done(null, value);
  });
}

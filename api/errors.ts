import type { FastifyError, FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';

/**
 * The one error catalog of the API: code → HTTP status and what it means. Every error response is
 * `{ error: code, message }`; `message` says what was wrong (5xx hide internals: "internal error").
 */
export const ERRORS = {
  'bad-request': {
    status: 400,
    doc: 'the request does not match the route schema',
    action: "fix the field or body the message names (the route's schema is in /docs)",
  },
  'not-an-image': {
    status: 400,
    doc: 'a file is not a TIFF or PNG image (judged by its bytes)',
    action: 'send a TIFF or PNG; the message shows the first bytes of what was sent',
  },
  'bad-image': {
    status: 400,
    doc: 'an image header is damaged or uses a feature we do not read',
    action: 'save the image again (e.g. Fiji: File › Save As › Tiff) or convert it to PNG',
  },
  'bad-archive': {
    status: 400,
    doc: 'a zip is unsafe or broken (../ paths, too many entries, a bomb...)',
    action: 'zip the images again with plain relative names, within KIOSK_MAX_JOB_IMAGES',
  },
  'empty-archive': {
    status: 400,
    doc: 'a zip holds no images',
    action: 'put TIFF or PNG images into the zip',
  },
  'unknown-model': { status: 400, doc: 'no such model', action: 'pick a name from GET /v1/models' },
  'unknown-model-version': {
    status: 400,
    doc: 'the model has no such version',
    action: 'pick a version from GET /v1/models, or leave it out for the newest',
  },
  'unknown-job-type': {
    status: 400,
    doc: 'no such job type',
    action: 'pick a type from GET /v1/job-types (/api/jobtypes)',
  },
  'bad-model-package': {
    status: 400,
    doc: 'a bioimage.io model package this kiosk cannot import (the message names the rdf field or file)',
    action: 'fix the rdf field or file the message names (docs/bioimageio.md)',
  },
  'upload-not-found': {
    status: 400,
    doc: 'an input names no uploaded file',
    action: 'upload the file first (POST /v1/uploads) and use the key it returns, in the same lab',
  },
  'duplicate-input': {
    status: 400,
    doc: "a job's inputs name one upload twice",
    action: 'name each upload once',
  },
  unauthorized: {
    status: 401,
    doc: 'no token, or a malformed, unknown or revoked one (docs/security.md)',
    action: 'send a valid token: Authorization: Bearer … or X-Api-Key (docs/security.md)',
  },
  forbidden: { status: 403, doc: 'the route needs an admin token', action: 'use an admin token' },
  'forbidden-origin': {
    status: 403,
    doc: 'sent by a web page of an origin not in KIOSK_CORS_ORIGINS',
    action: "call from the kiosk's own origin, or add yours to KIOSK_CORS_ORIGINS",
  },
  'job-not-found': {
    status: 404,
    doc: 'no such job (or it expired)',
    action: 'check the id and the lab of your token; finished jobs expire (KIOSK_JOB_TTL_S)',
  },
  'import-not-found': {
    status: 404,
    doc: "no such model import in the caller's lab (or its outcome has expired)",
    action:
      'check the id from the 202 of POST /v1/models/import and the lab of your token; outcomes are kept 24 h',
  },
  'token-not-found': {
    status: 404,
    doc: "no such active token in the caller's lab",
    action: 'list the tokens of your lab (GET /v1/tokens)',
  },
  'file-not-found': {
    status: 404,
    doc: 'no such file',
    action: 'check the path; job files expire with their job',
  },
  'route-not-found': {
    status: 404,
    doc: 'no route for this method and path (see /docs)',
    action: 'check the method and path against /docs',
  },
  'not-finished': {
    status: 409,
    doc: 'the job has not finished: no result yet; cancel it before deleting it',
    action: 'wait for done or failed (GET /v1/jobs/ID or its events), or cancel the job first',
  },
  'model-name-taken': {
    status: 409,
    doc: 'an imported model would take the name of a model of our own',
    action: 'import the package under another name',
  },
  'request-timeout': {
    status: 408,
    doc: 'the request body stopped arriving for KIOSK_BODY_TIMEOUT_S (the connection is closed)',
    action: 'retry over a steadier connection, or raise KIOSK_BODY_TIMEOUT_S',
  },
  'upload-too-large': {
    status: 413,
    doc: 'a file is over the upload size limit',
    action: 'send a smaller file, or raise the upload size limit (KIOSK_MAX_UPLOAD_MB)',
  },
  'too-many-files': {
    status: 413,
    doc: 'more files than one upload may hold',
    action: 'send fewer files per upload (KIOSK_MAX_FILES), or one zip',
  },
  'too-many-images': {
    status: 413,
    doc: 'a job has more images (files and zip entries) than KIOSK_MAX_JOB_IMAGES',
    action: 'split the job, or raise KIOSK_MAX_JOB_IMAGES',
  },
  'request-too-large': {
    status: 413,
    doc: 'body over KIOSK_MAX_BODY_KB, uploads over KIOSK_MAX_REQUEST_MB',
    action: 'send less in one request, or raise KIOSK_MAX_BODY_KB / KIOSK_MAX_REQUEST_MB',
  },
  'too-many-pixels': {
    status: 413,
    doc: 'an image has more values (H·W·C·Z) than KIOSK_MAX_PIXELS',
    action: 'crop or tile the image, or raise KIOSK_MAX_PIXELS',
  },
  'too-many-frames': {
    status: 413,
    doc: 'an image file has more pages than KIOSK_MAX_FRAMES',
    action: 'split the stack, or raise KIOSK_MAX_FRAMES',
  },
  'not-multipart': {
    status: 415,
    doc: 'the upload is not multipart/form-data',
    action: 'send the file as multipart/form-data (curl -F file=@IMAGE)',
  },
  'unsupported-media-type': {
    status: 415,
    doc: 'the route does not take a body of this Content-Type',
    action: 'send application/json (or multipart/form-data to upload routes)',
  },
  'rate-limited': {
    status: 429,
    doc: 'too many requests from one lab or address: see Retry-After',
    action: 'wait the seconds in Retry-After, then retry',
  },
  internal: {
    status: 500,
    doc: 'something broke on our side',
    action: 'retry; if it persists, report it with the time (the API logs the cause)',
  },
  unavailable: {
    status: 503,
    doc: 'Redis or the bucket cannot be reached',
    action: 'retry later; the operator checks Redis and the bucket (GET /v1/health)',
  },
} as const;

export type ErrorCode = keyof typeof ERRORS;

/** `|` inside a Markdown table cell, escaped. */
const cell = (text: string): string => text.replace(/\|/g, '\\|');

/**
 * The error catalog as a Markdown table (code, HTTP status, when, what to do), in catalog order: the API's
 * /docs description and docs/api.md (checked equal to it by api/errors-table.test.ts) both show it.
 */
export function errorTableMarkdown(): string {
  const rows = Object.entries(ERRORS).map(
    ([code, e]) => `| \`${code}\` | ${e.status} | ${cell(e.doc)} | ${cell(e.action)} |`,
  );
  return ['| code | HTTP status | when | what to do |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

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

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
  'upload-not-found': { status: 400, doc: 'an input names no uploaded file' },
  unauthorized: { status: 401, doc: 'no token, or a malformed, unknown or revoked one (docs/security.md)' },
  forbidden: { status: 403, doc: 'the route needs an admin token' },
  'forbidden-origin': { status: 403, doc: 'sent by a web page of an origin not in KIOSK_CORS_ORIGINS' },
  'job-not-found': { status: 404, doc: 'no such job (or it expired)' },
  'token-not-found': { status: 404, doc: "no such active token in the caller's lab" },
  'file-not-found': { status: 404, doc: 'no such file' },
  'not-finished': {
    status: 409,
    doc: 'the job has not finished: no result yet; cancel it before deleting it',
  },
  'upload-too-large': { status: 413, doc: 'a file is over the upload size limit' },
  'too-many-files': { status: 413, doc: 'more files than one upload may hold' },
  'request-too-large': { status: 413, doc: 'body over KIOSK_MAX_BODY_KB, uploads over KIOSK_MAX_REQUEST_MB' },
  'too-many-pixels': { status: 413, doc: 'an image has more values (H·W·C·Z) than KIOSK_MAX_PIXELS' },
  'too-many-frames': { status: 413, doc: 'an image file has more pages than KIOSK_MAX_FRAMES' },
  'not-multipart': { status: 415, doc: 'the upload is not multipart/form-data' },
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
  409: ErrorBody,
  413: ErrorBody,
  415: ErrorBody,
  429: ErrorBody,
  500: ErrorBody,
  503: ErrorBody,
};

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
    const status = fe.statusCode ?? 500;
    if (status < 500) return reply.status(status).send({ error: 'bad-request', message: fe.message });
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
    reply.status(404).send({ error: 'file-not-found', message: `no route ${req.method} ${req.url}` }),
  );
}

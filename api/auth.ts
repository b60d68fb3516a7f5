/**
 * Authentication and the caller's lab (docs/security.md).
 *
 * KIOSK_AUTH=off: every request is lab KIOSK_LAB with role admin, and a local kiosk listens on 127.0.0.1
 * only. KIOSK_AUTH=tokens: every route except the public ones needs a lab token from `kiosk token create`:
 * - `Authorization: Bearer <token>` or `X-Api-Key: <token>` on any route;
 * - `?token=<token>` only on GET routes a browser opens without headers (event streams, downloads);
 * - a signed link (`?lab=&expires=&signature=`, made by the API for result and upload URLs) on downloads.
 * The hook sets `request.lab` and `request.role`; routes scope every job, upload, training and model to
 * `request.lab` and answer 404 for another lab's ids. Missing, malformed, unknown or revoked token → 401
 * with the reason; a member on an admin route → 403.
 *
 * Public without a token: /v1/health, /api/health-check, /docs (OpenAPI), /metrics (queue depths and
 * request counts, no lab data: the autoscaler scrapes it) and the static web UI.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServiceConfig } from '../core/config.js';
import type { KioskServices } from '../core/services.js';
import type { Role } from '../core/tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's lab: its token's lab, or KIOSK_LAB with KIOSK_AUTH=off. */
    lab: string;
    /** The caller's role (admin with KIOSK_AUTH=off; member for a signed link). */
    role: Role;
    /** The id of the token that authenticated the request. @default - none (auth off, signed link) */
    tokenId: string | undefined;
  }
  interface FastifyContextConfig {
    /** The role a route needs. @default - any role */
    role?: Role;
  }
}

/** Routes (fastify route patterns) that answer without a token. */
const PUBLIC_ROUTES = new Set(['/v1/health', '/api/health-check', '/metrics', '/', '/*']);
const isPublic = (route: string) =>
  PUBLIC_ROUTES.has(route) || route === '/docs' || route.startsWith('/docs/');

/** GET routes a browser opens without headers (EventSource, `<a href>` downloads): `?token=` allowed. */
export const QUERY_TOKEN_ROUTES: ReadonlySet<string> = new Set([
  '/v1/events',
  '/v1/jobs/:id/events',
  '/v1/trainings/:id/events',
  '/v1/jobs/:id/result',
  '/v1/jobs/:id/files/:file',
  '/v1/uploads/*',
]);

/** Download routes that accept a signed link instead of a token. */
const SIGNED_ROUTES = new Set(['/v1/jobs/:id/result', '/v1/jobs/:id/files/:file', '/v1/uploads/*']);

type Query = Record<string, string | undefined>;

/** A credential's verdict: a token's or a signed link's. */
type Credential = { ok: true; lab: string; role: Role; tokenId?: string } | { ok: false; reason: string };

function deny(reply: FastifyReply, status: 401 | 403, message: string): FastifyReply {
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="cellkiosk"');
  return reply.status(status).send({ error: status === 401 ? 'unauthorized' : 'forbidden', message });
}

/** The token a request presents, or the reason its presentation is wrong. */
function presented(req: FastifyRequest, route: string): { token?: string; problem?: string } {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m ? { token: m[1]! } : { problem: 'the Authorization header must be "Bearer <token>"' };
  }
  const apiKey = req.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey) return { token: apiKey.trim() };
  const q = (req.query ?? {}) as Query;
  if (q.token !== undefined) {
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (QUERY_TOKEN_ROUTES.has(route)) return { token: q.token };
    }
    return {
      problem:
        '?token= is accepted only by event streams and downloads (GET); send the header ' +
        '"Authorization: Bearer <token>" (or X-Api-Key)',
    };
  }
  return {};
}

/**
 * Installs the authentication hook (first, so an unauthenticated upload is refused before its body is
 * read). Call before the routes are registered.
 */
/** How long a request waits for Redis to check its credential before it is answered 503. */
export const AUTH_REDIS_TIMEOUT_MS = 2000;

export function installAuth(app: FastifyInstance, s: KioskServices): void {
  app.decorateRequest('lab', '');
  app.decorateRequest('role', 'member');
  app.decorateRequest('tokenId', undefined);
  const { config, tokens } = s;
  // req.ip: the TCP peer, or the client a trusted proxy names (KIOSK_TRUST_PROXY)
  const failKey = (req: FastifyRequest) => `${config.prefix}:auth-fail:${req.ip}`;
  /** A 401 that also counts against the caller's address (KIOSK_AUTH_FAIL_LIMIT). */
  const fail = async (req: FastifyRequest, reply: FastifyReply, message: string) => {
    if (config.authFailLimit > 0) {
      const key = failKey(req);
      const [[, n]] = (await s.redis.multi().incr(key).expire(key, config.rateWindowS, 'NX').exec()) as [
        [unknown, number],
      ];
      if (n >= config.authFailLimit) message += ` (${n} failed attempts from this address; more are refused)`;
    }
    return deny(reply, 401, message);
  };
  app.addHook('onRequest', async (req, reply) => {
    const route = req.routeOptions.url;
    if (config.auth === 'off') {
      req.lab = config.lab;
      req.role = 'admin';
    } else {
      // No route (a 404), public routes and CORS preflights (OPTIONS, never a lab's data): no token.
      if (route === undefined || isPublic(route) || req.method === 'OPTIONS') return;
      const { token, problem } = presented(req, route);
      const q = (req.query ?? {}) as Query;
      const signed =
        problem === undefined &&
        token === undefined &&
        q.signature !== undefined &&
        SIGNED_ROUTES.has(route) &&
        req.method === 'GET';
      // The failed-authentication count and the credential (a token's record, or a signed link's HMAC) are
      // read at once (one round trip of latency). A valid credential always passes: the count is per
      // client address, and behind one NAT or proxy other people's failures must not lock a lab out (a
      // 256-bit secret is not guessed anyway). Any other request from an address over the limit answers 429.
      const checking: Promise<{ v: Credential } | { err: unknown }> | undefined =
        problem === undefined && token !== undefined
          ? tokens.verify(token).then(
              (v) => ({
                v: v.ok
                  ? { ok: true, lab: v.token.lab, role: v.token.role, tokenId: v.token.id }
                  : { ok: false, reason: v.reason },
              }),
              (err: unknown) => ({ err }),
            )
          : signed
            ? tokens.verifySigned(req.url.split('?')[0]!, q).then(
                (v) => ({ v: v.ok ? { ok: true, lab: v.lab, role: 'member' } : v }),
                (err: unknown) => ({ err }),
              )
            : undefined;
      // Bounded: with Redis frozen (or down longer than a restart) the request is answered 503 after
      // AUTH_REDIS_TIMEOUT_MS instead of hanging until Redis returns (issue 18 #2).
      const both = Promise.all([config.authFailLimit > 0 ? s.redis.get(failKey(req)) : undefined, checking]);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>(
        (res) => (timer = setTimeout(() => res('late'), AUTH_REDIS_TIMEOUT_MS)),
      );
      const answered = await Promise.race([both, late]).finally(() => clearTimeout(timer));
      if (answered === 'late') {
        both.catch(() => undefined); // settles when Redis returns; nobody waits for it any more
        reply.header('retry-after', '5');
        return reply.status(503).send({
          error: 'unavailable',
          message: `Redis did not answer within ${AUTH_REDIS_TIMEOUT_MS / 1000} s while checking the credential; retry shortly`,
        });
      }
      const [n, verdict] = answered;
      if (verdict && 'err' in verdict) throw verdict.err;
      const cred = verdict?.v;
      if (Number(n) >= config.authFailLimit && config.authFailLimit > 0 && !cred?.ok) {
        // The TTL is read only for an address already over the limit.
        const wait = Math.max(1, await s.redis.ttl(failKey(req)));
        reply.header('retry-after', String(wait));
        return reply.status(429).send({
          error: 'rate-limited',
          message:
            `${n} failed authentications from this address in ${config.rateWindowS} s; retry in ${wait} s ` +
            '(a valid token is still accepted)',
        });
      }
      if (problem) return deny(reply, 401, problem);
      if (!cred)
        return deny(
          reply,
          401,
          'this kiosk needs an API token: send "Authorization: Bearer <token>" (an admin makes one with ' +
            '`npx kiosk token create --lab LAB`)',
        );
      if (!cred.ok) return fail(req, reply, cred.reason);
      req.lab = cred.lab;
      req.role = cred.role;
      req.tokenId = cred.tokenId;
    }
    const needs = req.routeOptions.config.role;
    if (needs === 'admin' && req.role !== 'admin')
      return deny(reply, 403, `${req.method} ${route} needs an admin token of lab ${req.lab}`);
  });
}

/**
 * A download link for `path` (an API route path) that works without headers: signed for `lab` when
 * tokens are required (DeepCell clients GET `output_url` as it is), the plain path otherwise.
 */
export async function signedLink(s: KioskServices, base: string, path: string, lab: string): Promise<string> {
  if (s.config.auth === 'off') return `${base}${path}`;
  return `${base}${path}?${await s.tokens.signPath(path, lab, s.config.signedUrlTtlS)}`;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/**
 * Where the API may listen. With authentication off a local kiosk listens on 127.0.0.1 only (any other
 * HOST is overridden) and `notice` says so; with tokens, HOST as configured. (Cloud mode without tokens
 * never gets here: loadConfig refuses it.)
 */
export function listenAddress(config: ServiceConfig): { host: string; notice?: string } {
  if (config.auth !== 'off') return { host: config.host };
  const overridden = !LOOPBACK.has(config.host);
  return {
    host: overridden ? '127.0.0.1' : config.host,
    notice:
      `authentication is off (KIOSK_AUTH=off): listening on ${overridden ? '127.0.0.1' : config.host} only` +
      (overridden ? ` (HOST=${config.host} ignored)` : '') +
      ', so only this machine can reach the kiosk. To serve other machines, set KIOSK_AUTH=tokens and ' +
      'create tokens with `npx kiosk token create --lab LAB` (docs/security.md).',
  };
}

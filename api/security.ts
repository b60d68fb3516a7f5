/**
 * HTTP hardening of the API (docs/security.md, "Hostile input"): security headers, which web origins may
 * call the API, and a rate limit per lab.
 *
 * - Headers (@fastify/helmet): a Content-Security-Policy the web UI runs under (its own scripts, styles,
 *   images, data:/blob: images, fetch/EventSource to itself and to the origin of the bucket's signed URLs —
 *   the Viewer fetches a job's labels and image there in the cloud; inline `style` attributes, which the
 *   UI's element builder sets, but no inline scripts or style elements), `frame-ancestors 'none'` and
 *   X-Frame-Options DENY, `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`. The OpenAPI
 *   UI under /docs gets its own policy (Swagger UI needs inline styles and data: images).
 * - Origins: a browser page may call the API from the kiosk's own origin (the request's Host, or
 *   KIOSK_PUBLIC_URL) or from KIOSK_CORS_ORIGINS; only those get CORS headers (@fastify/cors). A request
 *   that changes something (not GET/HEAD) and carries another Origin is refused 403 'forbidden-origin', so a
 *   foreign page cannot even send a form to the local kiosk. Clients that send no Origin (CLI, scripts,
 *   DeepCell clients) are not affected.
 * - Rate limit (@fastify/rate-limit, counted in Redis so every API replica shares it, or in memory when one
 *   API process serves a local kiosk: KIOSK_RATE_STORE): KIOSK_RATE_LIMIT
 *   requests per KIOSK_RATE_WINDOW_S per lab when the caller authenticated with a token (or a signed
 *   link), else per client address; over it, 429 'rate-limited' with Retry-After. /v1/health,
 *   /api/health-check, /metrics, /docs and the web UI's files are not counted (judged on the decoded path
 *   and the matched route, so an encoded `/%761/jobs` is counted as /v1/jobs).
 */
import fastifyCors from '@fastify/cors';
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';
import type { KioskServices } from '../core/services.js';

/** The web UI's policy (helmet's directive names). */
const UI_CSP = {
  defaultSrc: ["'self'"],
  baseUri: ["'self'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'"],
  // The UI's element builder writes layout tweaks as style attributes (not style elements or scripts).
  styleSrcAttr: ["'unsafe-inline'"],
  imgSrc: ["'self'", 'data:', 'blob:'],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  // A local kiosk is plain http on 127.0.0.1: upgrading its requests to https would break it.
  upgradeInsecureRequests: null,
};

/**
 * The UI's policy for a kiosk whose bucket hands out signed URLs at `bucketOrigins` (Storage.
 * signedUrlOrigins): those origins join connect-src, as exact origins (never a wildcard), and nothing else
 * changes. Throws on anything that is not a plain http(s) origin, so nothing odd reaches the header.
 */
export function uiCsp(bucketOrigins: readonly string[]): typeof UI_CSP {
  for (const o of bucketOrigins)
    if (!/^https?:\/\/(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/i.test(o))
      throw new Error(
        `the bucket's signed URLs point at ${JSON.stringify(o)}, which is not an http(s) origin`,
      );
  return { ...UI_CSP, connectSrc: [...new Set(["'self'", ...bucketOrigins])] };
}

/** /docs (Swagger UI): inline styles and data: images (its icons), nothing from elsewhere. */
export const DOCS_CSP =
  "default-src 'self'; base-uri 'self'; script-src 'self'; script-src-attr 'none'; " +
  "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; form-action 'self'; frame-ancestors 'none'";

/** Paths outside the rate limit: health checks, metrics scrapes, the API docs and the web UI's files. */
const EXEMPT_ROUTES = new Set(['/v1/health', '/api/health-check', '/metrics']);

/**
 * True for requests outside the rate limit: health checks, metrics scrapes, the API docs and the web UI's
 * files. Judged on the path as the router reads it — percent-decoded (`/%761/jobs` is `/v1/jobs`) — and,
 * when given, on the route it matched: a /v1 or /api route other than the health checks is always
 * counted, whatever the raw URL looks like. A path that does not decode is counted.
 */
export function rateLimitExempt(url: string, route?: string): boolean {
  if (route !== undefined && /^\/(v1|api)(\/|$)/.test(route) && !EXEMPT_ROUTES.has(route)) return false;
  let path: string;
  try {
    path = decodeURIComponent(url.split('?')[0]!);
  } catch {
    return false;
  }
  path = path.replace(/\/{2,}/g, '/');
  if (EXEMPT_ROUTES.has(path) || path.startsWith('/api/health-check/') || path === '/v1/health/') return true;
  if (path === '/metrics/' || path === '/docs' || path.startsWith('/docs/')) return true;
  return !/^\/(v1|api)(\/|$)/.test(path);
}

/** True when `origin` is the kiosk's own (the request's Host, or KIOSK_PUBLIC_URL) or listed. */
export function originAllowed(origin: string, req: FastifyRequest, s: KioskServices): boolean {
  if (s.config.corsOrigins.includes(origin)) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // 'null' (sandboxed frames, file://) and junk
  }
  if (url.host === req.host) return true;
  return s.config.publicUrl !== undefined && new URL(s.config.publicUrl).origin === url.origin;
}

/**
 * Whose requests are counted together: the lab, when the caller proved one (a token or a signed link; the
 * limit runs after the authentication hook), else the client address (KIOSK_AUTH=off: every caller is
 * KIOSK_LAB, so the lab would lump everyone together).
 */
function rateKey(req: FastifyRequest, s: KioskServices): string {
  return s.config.auth !== 'off' && req.lab ? `lab:${req.lab}` : `ip:${req.ip}`;
}

/** Registers headers, origin checks and the rate limit. Call before the routes are registered. */
export async function installSecurity(app: FastifyInstance, s: KioskServices): Promise<void> {
  const { config } = s;
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: { useDefaults: false, directives: uiCsp(await s.storage.signedUrlOrigins()) },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginEmbedderPolicy: false,
  });
  app.addHook('onSend', async (req, reply) => {
    if (req.url === '/docs' || req.url.startsWith('/docs/') || req.url.startsWith('/docs?'))
      reply.header('content-security-policy', DOCS_CSP);
  });

  app.addHook('onRequest', async (req, reply) => {
    const origin = req.headers.origin;
    if (origin === undefined || req.method === 'GET' || req.method === 'HEAD') return;
    if (originAllowed(origin, req, s)) return;
    return reply.status(403).send({
      error: 'forbidden-origin',
      message:
        `web pages at ${origin} may not call this kiosk (allowed: its own origin` +
        `${config.corsOrigins.length ? `, ${config.corsOrigins.join(', ')}` : ''}; add origins with KIOSK_CORS_ORIGINS)`,
    });
  });
  await app.register(fastifyCors, {
    origin: config.corsOrigins.length ? [...config.corsOrigins] : false,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'X-Api-Key', 'Content-Type', 'Accept', 'Last-Event-ID'],
    exposedHeaders: ['Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'],
    maxAge: 600,
  });

  if (config.rateLimit === 0) return;
  await app.register(fastifyRateLimit, {
    global: true,
    max: config.rateLimit,
    timeWindow: config.rateWindowS * 1000,
    // Runs after the authentication hook (an app-level onRequest hook; these are route-level), so
    // request.lab is the caller's.
    keyGenerator: (req) => rateKey(req, s),
    allowList: (req) => rateLimitExempt(req.url, req.routeOptions.url),
    ...(config.rateStore === 'redis' ? { redis: s.redis } : {}),
    nameSpace: `${config.prefix}:rate-limit:`,
    // Redis down: serve (the request fails on its own if it needs Redis) rather than refuse everything.
    skipOnError: true,
    errorResponseBuilder: (req, ctx) => {
      const who = rateKey(req, s).startsWith('lab:') ? `lab ${req.lab}` : 'this address';
      return new ApiError(
        'rate-limited',
        `more than ${ctx.max} requests in ${config.rateWindowS} s from ${who}; retry in ${Math.ceil(ctx.ttl / 1000)} s`,
      );
    },
  });
}

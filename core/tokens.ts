/**
 * Per-lab API tokens and signed download links, kept in Redis under the deployment's key prefix.
 *
 * A token is `ck_<id>_<secret>`: `id` (12 hex digits) names it in listings and revocation, `secret` is 32
 * random bytes (base64url). Only the SHA-256 of the whole token is stored, never the token: a Redis dump
 * or a listing cannot be replayed. Keys:
 * - `<prefix>:token:<id>`  hash {id, lab, role, name, sha256, created_at, last_used_at?, revoked_at?}
 * - `<prefix>:tokens`      set of every token id (listing)
 * - `<prefix>:auth:url-key` the HMAC key of signed download links (made once, shared by API replicas)
 *
 * Revoked tokens keep their record (with `revoked_at`), so a request with one is told "revoked", not
 * "unknown"; `kiosk token list --all` shows them.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';

export const ROLES = ['member', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Lab names: as KIOSK_LAB (they become bucket key segments). */
export const LAB_NAME = /^[A-Za-z0-9_-]{1,64}$/;

const TOKEN = /^ck_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const ID = /^[0-9a-f]{12}$/;

/** What is known about a token (never its secret or hash). */
export interface TokenInfo {
  readonly id: string;
  readonly lab: string;
  readonly role: Role;
  readonly name: string;
  /** ISO-8601 */
  readonly createdAt: string;
  /** ISO-8601, updated at most once a minute. @default - never used */
  readonly lastUsedAt?: string;
  /** ISO-8601 @default - active */
  readonly revokedAt?: string;
}

export class TokenError extends Error {
  override readonly name = 'TokenError';
}

/** Why a presented token was refused (the 401 message). */
export type VerifyResult = { ok: true; token: TokenInfo } | { ok: false; reason: string };

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function infoOf(h: Record<string, string>): TokenInfo {
  return {
    id: h.id!,
    lab: h.lab!,
    role: h.role === 'admin' ? 'admin' : 'member',
    name: h.name ?? '',
    createdAt: h.created_at!,
    ...(h.last_used_at ? { lastUsedAt: h.last_used_at } : {}),
    ...(h.revoked_at ? { revokedAt: h.revoked_at } : {}),
  };
}

export class TokenStore {
  private readonly indexKey: string;
  private readonly urlKeyKey: string;
  private urlKey?: Promise<Buffer>;
  /** Token id → when this process last wrote its last_used_at (ms). */
  private readonly touched = new Map<string, number>();

  /**
   * @param redis a normal (non-subscriber) connection, owned by the caller
   * @param prefix the deployment's key prefix (KIOSK_PREFIX)
   * @param touchEveryMs least time between two last_used_at writes of one token. @default 60000
   */
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly touchEveryMs = 60_000,
  ) {
    this.indexKey = `${prefix}:tokens`;
    this.urlKeyKey = `${prefix}:auth:url-key`;
  }

  private key(id: string): string {
    return `${this.prefix}:token:${id}`;
  }

  /**
   * Makes a token for `lab`. Resolves to its info and the token itself — the only time it is ever
   * available: show it once, it cannot be read back.
   * @throws TokenError for a bad lab name, role or name
   */
  async create(o: { lab: string; role?: Role; name?: string }): Promise<{ token: string; info: TokenInfo }> {
    if (!LAB_NAME.test(o.lab))
      throw new TokenError(`lab must be 1-64 of [A-Za-z0-9_-]; got ${JSON.stringify(o.lab)}`);
    const role = o.role ?? 'member';
    if (!ROLES.includes(role))
      throw new TokenError(`role must be ${ROLES.join(' or ')}; got ${JSON.stringify(role)}`);
    const name = o.name ?? '';
    // eslint-disable-next-line no-control-regex
    if (name.length > 100 || /[\u0000-\u001f\u007f]/.test(name))
      throw new TokenError('name must be at most 100 characters, without control characters');
    for (;;) {
      const id = randomBytes(6).toString('hex');
      const token = `ck_${id}_${randomBytes(32).toString('base64url')}`;
      const createdAt = new Date().toISOString();
      const fields = { id, lab: o.lab, role, name, sha256: sha256(token), created_at: createdAt };
      // HSETNX on `id` first: two tokens never share an id (48 random bits; a clash only retries).
      if (!(await this.redis.hsetnx(this.key(id), 'id', id))) continue;
      await this.redis.multi().hset(this.key(id), fields).sadd(this.indexKey, id).exec();
      return { token, info: { id, lab: o.lab, role, name, createdAt } };
    }
  }

  /** Checks a presented token: well-formed, known, hash equal, not revoked. Notes its use. */
  async verify(token: string): Promise<VerifyResult> {
    const m = TOKEN.exec(token);
    if (!m) return { ok: false, reason: 'malformed token (expected ck_<id>_<secret>)' };
    const h = await this.redis.hgetall(this.key(m[1]!));
    const stored = Buffer.from(h.sha256 ?? '', 'hex');
    const given = Buffer.from(sha256(token), 'hex');
    if (stored.length !== given.length || !timingSafeEqual(stored, given))
      return { ok: false, reason: 'unknown token' };
    const info = infoOf(h);
    if (info.revokedAt) return { ok: false, reason: `token ${info.id} was revoked at ${info.revokedAt}` };
    this.touch(info.id);
    return { ok: true, token: info };
  }

  private touch(id: string): void {
    const now = Date.now();
    if (now - (this.touched.get(id) ?? 0) < this.touchEveryMs) return;
    this.touched.set(id, now);
    if (this.touched.size > 10_000) this.touched.delete(this.touched.keys().next().value!);
    // HSET only while the record exists (a token revoked and purged meanwhile is not re-created).
    void this.redis
      .eval(
        "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'last_used_at', ARGV[1]) end",
        1,
        this.key(id),
        new Date(now).toISOString(),
      )
      .catch(() => undefined);
  }

  /** Tokens, oldest first; `lab` limits to one lab; revoked ones only with `includeRevoked`. */
  async list(o: { lab?: string; includeRevoked?: boolean } = {}): Promise<TokenInfo[]> {
    const ids = await this.redis.smembers(this.indexKey);
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(this.key(id));
    const rows = (await pipe.exec()) ?? [];
    return rows
      .map(([, h]) => h as Record<string, string>)
      .filter((h) => h.id && h.lab && h.created_at)
      .map(infoOf)
      .filter((t) => (!o.lab || t.lab === o.lab) && (o.includeRevoked || !t.revokedAt))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** Whether any token is active (the API warns at start when tokens are required and none exists). */
  async anyActive(): Promise<boolean> {
    return (await this.list()).length > 0;
  }

  /**
   * Revokes a token named by its id, a unique start of its id (4+ hex digits), or the token's visible
   * start `ck_<id>` (the whole token works too). `lab` limits the search to one lab (an admin's own).
   * Resolves to the revoked token's info.
   * @throws TokenError when nothing or more than one active token matches
   */
  async revoke(ref: string, o: { lab?: string } = {}): Promise<TokenInfo> {
    const id = /^ck_([0-9a-f]{12})(_.*)?$/.exec(ref)?.[1] ?? ref.toLowerCase();
    if (!/^[0-9a-f]{4,12}$/.test(id))
      throw new TokenError(`${JSON.stringify(ref)} is not a token id (4-12 hex digits, or ck_<id>)`);
    const active = await this.list(o.lab ? { lab: o.lab } : {});
    const hits = ID.test(id) ? active.filter((t) => t.id === id) : active.filter((t) => t.id.startsWith(id));
    if (hits.length === 0) throw new TokenError(`no active token ${ref}${o.lab ? ` in lab ${o.lab}` : ''}`);
    if (hits.length > 1)
      throw new TokenError(`${ref} matches ${hits.length} tokens (${hits.map((t) => t.id).join(', ')})`);
    const revokedAt = new Date().toISOString();
    await this.redis.hset(this.key(hits[0]!.id), 'revoked_at', revokedAt);
    return { ...hits[0]!, revokedAt };
  }

  private signingKey(): Promise<Buffer> {
    this.urlKey ??= (async () => {
      await this.redis.set(this.urlKeyKey, randomBytes(32).toString('hex'), 'NX');
      const hex = await this.redis.get(this.urlKeyKey);
      if (!hex) throw new Error(`${this.urlKeyKey} vanished`);
      return Buffer.from(hex, 'hex');
    })();
    this.urlKey.catch(() => (this.urlKey = undefined));
    return this.urlKey;
  }

  private async mac(path: string, lab: string, expires: number): Promise<string> {
    return createHmac('sha256', await this.signingKey())
      .update(`${path}\n${lab}\n${expires}`)
      .digest('hex');
  }

  /**
   * The query string (`lab=…&expires=…&signature=…`) that lets anyone holding the link GET `path` as
   * `lab` for `ttlS` seconds without a token (DeepCell clients download `output_url` without headers).
   */
  async signPath(path: string, lab: string, ttlS: number): Promise<string> {
    const expires = Math.floor(Date.now() / 1000) + ttlS;
    const q = new URLSearchParams({
      lab,
      expires: String(expires),
      signature: await this.mac(path, lab, expires),
    });
    return q.toString();
  }

  /** Checks a signed link's query for `path`; resolves to its lab, or the reason it is refused. */
  async verifySigned(
    path: string,
    q: { lab?: string; expires?: string; signature?: string },
  ): Promise<{ ok: true; lab: string } | { ok: false; reason: string }> {
    const expires = Number(q.expires);
    if (
      !q.lab ||
      !LAB_NAME.test(q.lab) ||
      !Number.isInteger(expires) ||
      !/^[0-9a-f]{64}$/.test(q.signature ?? '')
    )
      return { ok: false, reason: 'malformed signed link (lab, expires and signature are needed)' };
    const want = Buffer.from(await this.mac(path, q.lab, expires), 'hex');
    if (!timingSafeEqual(want, Buffer.from(q.signature!, 'hex')))
      return { ok: false, reason: 'bad link signature' };
    if (expires < Date.now() / 1000) return { ok: false, reason: 'the signed link has expired' };
    return { ok: true, lab: q.lab };
  }
}

import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { redisOptions } from '../../workers/queues/connection.js';
import { ROLES, TokenError, TokenStore, type Role, type TokenInfo } from '../../core/tokens.js';
import { UsageError, type Command } from '../command.js';

const usage = `Usage: kiosk token create --lab LAB [--role member|admin] [--name NAME] [--json]
       kiosk token list [--lab LAB] [--all] [--json]
       kiosk token revoke ID|PREFIX

Per-lab API tokens for a kiosk with KIOSK_AUTH=tokens (docs/security.md). A token belongs to one lab:
it sees and makes only that lab's jobs, uploads, trainings and models. Admins may also manage their
lab's tokens through the API (/v1/tokens).

  create   makes a token and prints it once on stdout (only its SHA-256 is kept: it cannot be shown
           again); --role admin (default member), --name says whose or what it is for
  list     tokens (never their secrets): id, lab, role, name, created, last used; --all adds revoked ones
  revoke   stops a token at once: ID is its id, a unique start of it, or the token's start ck_<id>

The tokens live in the kiosk's Redis: REDIS_URL when set (KIOSK_PREFIX as the kiosk's, default kiosk),
else the local kiosk's in .kiosk/ (when the kiosk is not running, its redis-server is started for the
command and stopped after).`;

/**
 * The local kiosk's Redis: the running one's URL (.kiosk/redis.url), else a redis-server started on its data
 * under the folder's kiosk lock (a kiosk holding it — its Redis restarting — is not given a second
 * redis-server on the same AOF, and a kiosk started meanwhile refuses).
 */
async function localRedis(): Promise<{ url: string; proc?: ChildProcess; release?: () => void }> {
  const kioskDir = resolve('.kiosk');
  const { startRedis, takeKioskLock, REDIS_URL_FILE } = await import('./start.js');
  const file = join(kioskDir, REDIS_URL_FILE);
  if (existsSync(file)) {
    const url = readFileSync(file, 'utf8').trim();
    const probe = new Redis({
      ...redisOptions(url),
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    const alive = await probe.connect().then(
      () => probe.ping().then(() => true),
      () => false,
    );
    probe.disconnect();
    if (alive) return { url };
  }
  let lock: { release(): void };
  try {
    lock = takeKioskLock(kioskDir, '(none: `kiosk token` uses its Redis for a moment)');
  } catch (err) {
    throw new Error(
      `${err instanceof Error ? err.message : String(err)}\nIts Redis does not answer now (restarting?): try again in a moment.`,
    );
  }
  try {
    return { ...(await startRedis(join(kioskDir, 'redis'))), release: () => lock.release() };
  } catch (err) {
    lock.release();
    throw err;
  }
}

async function withStore<T>(fn: (store: TokenStore) => Promise<T>): Promise<T> {
  const local = process.env.REDIS_URL ? { url: process.env.REDIS_URL } : await localRedis();
  const redis = new Redis({ ...redisOptions(local.url), maxRetriesPerRequest: 1 });
  try {
    return await fn(new TokenStore(redis, process.env.KIOSK_PREFIX || 'kiosk'));
  } finally {
    redis.disconnect();
    if (local.proc && local.proc.exitCode === null) {
      const exited = new Promise((r) => local.proc!.once('exit', r));
      local.proc.kill('SIGTERM'); // redis-server writes its AOF and exits
      await exited;
    }
    local.release?.();
  }
}

const when = (iso?: string) => (iso ? iso.slice(0, 19).replace('T', ' ') : '-');

function table(tokens: readonly TokenInfo[]): string {
  const rows = [
    ['ID', 'LAB', 'ROLE', 'CREATED', 'LAST USED', 'REVOKED', 'NAME'],
    ...tokens.map((t) => [
      t.id,
      t.lab,
      t.role,
      when(t.createdAt),
      when(t.lastUsedAt),
      when(t.revokedAt),
      t.name,
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return (
    rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') +
    '\n'
  );
}

function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export const command: Command = {
  name: 'token',
  summary: 'create, list and revoke per-lab API tokens (KIOSK_AUTH=tokens)',
  usage,
  async run(args) {
    const [sub, ...rest] = args;
    if (sub === 'create') {
      const { values: v, positionals } = parse(rest, {
        lab: { type: 'string' },
        role: { type: 'string', default: 'member' },
        name: { type: 'string', default: '' },
        json: { type: 'boolean', default: false },
      });
      if (positionals.length) throw new UsageError(`unexpected ${positionals.join(' ')}`);
      if (typeof v.lab !== 'string') throw new UsageError('--lab LAB is required');
      const role = v.role as Role;
      if (!ROLES.includes(role))
        throw new UsageError(`--role must be member or admin; got '${String(v.role)}'`);
      const { token, info } = await withStore((s) =>
        s.create({ lab: v.lab as string, role, name: v.name as string }).catch((e: unknown) => {
          throw e instanceof TokenError ? new UsageError(e.message) : e;
        }),
      );
      if (v.json) process.stdout.write(`${JSON.stringify({ ...info, token }, null, 2)}\n`);
      else {
        process.stderr.write(
          `token ${info.id} for lab ${info.lab} (${info.role}${info.name ? `, ${info.name}` : ''}). It is shown ` +
            'only now: keep it secret; send it as "Authorization: Bearer <token>".\n',
        );
        process.stdout.write(`${token}\n`);
      }
      return 0;
    }
    if (sub === 'list') {
      const { values: v, positionals } = parse(rest, {
        lab: { type: 'string' },
        all: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      });
      if (positionals.length) throw new UsageError(`unexpected ${positionals.join(' ')}`);
      const tokens = await withStore((s) =>
        s.list({ ...(typeof v.lab === 'string' ? { lab: v.lab } : {}), includeRevoked: v.all === true }),
      );
      if (v.json) process.stdout.write(`${JSON.stringify(tokens, null, 2)}\n`);
      else process.stdout.write(tokens.length ? table(tokens) : 'no tokens\n');
      return 0;
    }
    if (sub === 'revoke') {
      const { positionals } = parse(rest, {});
      if (positionals.length !== 1) throw new UsageError('give one token id (or a unique start of it)');
      const t = await withStore((s) => s.revoke(positionals[0]!));
      process.stdout.write(`revoked token ${t.id} (lab ${t.lab}, ${t.role}${t.name ? `, ${t.name}` : ''})\n`);
      return 0;
    }
    throw new UsageError(sub ? `unknown sub-command '${sub}'` : 'give a sub-command: create, list or revoke');
  },
};

import { appendFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import {
  grantProblem,
  KIOSK_ROLES,
  replaceProblem,
  type BucketOp,
  type KioskRole,
} from '../../constructs/roles.js';
import { LocalFolderStorage } from './local.js';
import type { Bytes, Storage } from './storage.js';

/**
 * TEST AID (and the deploy rehearsal's twin of the cloud's IAM): a Storage that lets one kiosk role do only
 * what its grants allow (constructs/roles.ts: ROLE_BUCKET_GRANTS, judged by grantProblem), as the role's
 * cloud identity would on GCS or S3. A call outside the grants fails the way a real bucket's 403 does — an
 * error that no caller takes for a missing object (GrantViolationError, not a StorageError) — and is
 * recorded, so a test can assert that none happened even where the code swallows the error (a best-effort
 * `deletePrefix(...).catch(() => undefined)`).
 *
 * How each Storage call is judged: get, getStream, size, exists and signedUrl read the key (a signed URL
 * reads with the signer's rights); put and putStream write it, and when the key already exists they replace
 * it, which also needs delete (GCS: replaceProblem); list(prefix) lists the prefix; delete(key) deletes the
 * key; deletePrefix(prefix) lists and deletes the prefix (every backend lists it first).
 */
export class GrantCheckedStorage implements Storage {
  constructor(
    /** The bucket the allowed calls go to. */
    readonly inner: Storage,
    readonly role: KioskRole,
    /** Where violations go (shared by the roles of one test, see GrantAudit). */
    private readonly sink: (v: GrantViolation) => void,
  ) {
    if (!KIOSK_ROLES.includes(role))
      throw new RangeError(`unknown kiosk role ${JSON.stringify(role)} (one of ${KIOSK_ROLES.join(', ')})`);
  }

  get kind(): Storage['kind'] {
    return this.inner.kind;
  }

  /** Throws GrantViolationError (after recording it) when the role may not do `op` on `key`. */
  private check(call: string, op: BucketOp, key: string): void {
    this.refuse(call, op, key, grantProblem(this.role, op, key));
  }

  private refuse(call: string, op: BucketOp, key: string, reason: string | undefined): void {
    if (reason === undefined) return;
    const v: GrantViolation = { role: this.role, call, op, key, reason, at: callerFrames() };
    this.sink(v);
    throw new GrantViolationError(v);
  }

  /** A write, and where the role may not delete the key, one that must not replace an existing object. */
  private async checkWrite(call: string, key: string): Promise<void> {
    this.check(call, 'write', key);
    if (grantProblem(this.role, 'delete', key) !== undefined && (await this.inner.exists(key)))
      this.refuse(call, 'delete', key, replaceProblem(this.role, key));
  }

  async put(key: string, data: Bytes): Promise<void> {
    await this.checkWrite('put', key);
    return this.inner.put(key, data);
  }

  async putStream(key: string, body: Readable): Promise<number> {
    try {
      await this.checkWrite('putStream', key);
    } catch (err) {
      body.resume(); // drain the body so the sender is not left waiting (as a refused upload would)
      throw err;
    }
    return this.inner.putStream(key, body);
  }

  async get(key: string): Promise<Uint8Array> {
    this.check('get', 'read', key);
    return this.inner.get(key);
  }

  async getStream(key: string): Promise<Readable> {
    this.check('getStream', 'read', key);
    return this.inner.getStream(key);
  }

  async size(key: string): Promise<number | undefined> {
    this.check('size', 'read', key);
    return this.inner.size(key);
  }

  async exists(key: string): Promise<boolean> {
    this.check('exists', 'read', key);
    return this.inner.exists(key);
  }

  async list(prefix: string): Promise<string[]> {
    this.check('list', 'list', prefix);
    return this.inner.list(prefix);
  }

  async delete(key: string): Promise<void> {
    this.check('delete', 'delete', key);
    return this.inner.delete(key);
  }

  async deletePrefix(prefix: string): Promise<void> {
    this.check('deletePrefix', 'list', prefix);
    this.check('deletePrefix', 'delete', prefix);
    return this.inner.deletePrefix(prefix);
  }

  async signedUrl(key: string, expiresInS: number): Promise<string | undefined> {
    this.check('signedUrl', 'read', key);
    return this.inner.signedUrl(key, expiresInS);
  }

  /** Not a bucket call (worked out from the client's configuration): never checked. */
  signedUrlOrigins(): Promise<readonly string[]> {
    return this.inner.signedUrlOrigins();
  }
}

/** One bucket call a role's grants do not allow. */
export interface GrantViolation {
  readonly role: KioskRole;
  /** The Storage method called (`deletePrefix`...). */
  readonly call: string;
  readonly op: BucketOp;
  readonly key: string;
  /** grantProblem's reason: names the role, the operation, the key and the role's grants. */
  readonly reason: string;
  /** The calling code's first stack frames outside this file (where to look). */
  readonly at: string;
}

/** What a grant-checked bucket throws for a call outside the role's grants (a real bucket's 403). */
export class GrantViolationError extends Error {
  override readonly name = 'GrantViolationError';
  readonly code = 'forbidden';
  constructor(readonly violation: GrantViolation) {
    super(`bucket access denied (grant check): ${violation.call}: ${violation.reason}`);
  }
}

/** The calling code's stack frames (this file and node internals left out), at most 4, one line. */
function callerFrames(): string {
  const here = import.meta.url.replace(/^file:\/\//, '');
  return (new Error().stack ?? '')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().replace(/^at /, ''))
    .filter((l) => !l.includes(here) && !l.includes('node:internal') && !l.includes('node_modules'))
    .slice(0, 4)
    .join(' < ');
}

/**
 * The violations of one test's kiosk: `storageFor(role)` gives each role's code its own grant-checked view of
 * one bucket; `assertNone()` fails (listing every violation) if any call was refused.
 */
export class GrantAudit {
  readonly violations: GrantViolation[] = [];
  private readonly views = new Map<KioskRole, GrantCheckedStorage>();

  constructor(
    /** The bucket itself (tests read and write it directly through this, unchecked). */
    readonly bucket: Storage,
  ) {}

  /** The bucket as `role` sees it (one view per role, made on first use). */
  storageFor(role: KioskRole): GrantCheckedStorage {
    let view = this.views.get(role);
    if (!view) {
      view = new GrantCheckedStorage(this.bucket, role, (v) => this.violations.push(v));
      this.views.set(role, view);
    }
    return view;
  }

  /** One line per violation. */
  lines(): string[] {
    return this.violations.map(formatViolation);
  }

  /** Throws an Error listing every violation so far, if there was any. */
  assertNone(): void {
    if (this.violations.length)
      throw new Error(
        `${this.violations.length} bucket call(s) outside their role's grants (constructs/roles.ts):\n` +
          this.lines().join('\n'),
      );
  }
}

/** `api deletePrefix results/a/b/: <reason> [at <frames>]` */
export function formatViolation(v: GrantViolation): string {
  return `${v.role} ${v.call} ${v.key}: ${v.reason}${v.at ? ` [at ${v.at}]` : ''}`;
}

/**
 * `storage`, or a GrantCheckedStorage around it for the role named by KIOSK_GRANT_CHECK (test aid: the fault
 * suite and the training tests start each kiosk process with its role's). Each violation is printed on
 * stderr and, when KIOSK_GRANT_CHECK_LOG names a file, appended to it as one JSON line (written at once, so
 * a process killed later still leaves it for the suite's audit). A bad role throws, naming the variable.
 */
export function withGrantCheck(
  storage: Storage,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Storage {
  const role = env.KIOSK_GRANT_CHECK;
  if (role === undefined || role === '') return storage;
  if (!KIOSK_ROLES.includes(role as KioskRole))
    throw new RangeError(
      `'KIOSK_GRANT_CHECK' must be a kiosk role (${KIOSK_ROLES.join(', ')}); got ${JSON.stringify(role)}`,
    );
  const logFile = env.KIOSK_GRANT_CHECK_LOG;
  return new GrantCheckedStorage(storage, role as KioskRole, (v) => {
    process.stderr.write(`grant violation: ${formatViolation(v)}\n`);
    if (logFile) appendFileSync(logFile, `${JSON.stringify(v)}\n`);
  });
}

/** The local folder bucket under `storage` (through grant-checked views), or undefined for a cloud bucket. */
export function localFolderUnder(storage: Storage): LocalFolderStorage | undefined {
  if (storage instanceof LocalFolderStorage) return storage;
  if (storage instanceof GrantCheckedStorage) return localFolderUnder(storage.inner);
  return undefined;
}

/**
 * The fault suite's audit: after the faults, every job the API accepted is looked at from the API (its
 * record, its listing, its result download) and from the bucket (the objects under results/), and counted:
 * done exactly once, failed with a reason, or one of the three things that must never happen — lost
 * (gone, or not final by the deadline), duplicated (more than one final event, more than one result
 * object, a result nobody asked for, a job listed twice) or failed without a reason.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { KioskClient, KioskClientError } from '../../api/client.js';
import type { JobView } from '../../api/schemas.js';
import { decodeImage } from '../../workers/image/decode.js';
import { labelsFromRaw } from '../../workers/image/files.js';
import { labelKeyName } from '../../workers/image/label-names.js';
import type { Labels } from '../../workers/image/types.js';
import { fileStem } from '../../workers/queues/names.js';

/** What the suite expects of one accepted job. */
export interface Expectation {
  readonly id: string;
  readonly kind: 'image' | 'batch';
  /** The file name given (image) or the zip's name (batch). */
  readonly name: string;
  /** `done`: must end done; `failed`: must end failed (bad input); `either`: done or failed, both with checks. */
  readonly outcome: 'done' | 'failed' | 'either';
  /** A failure's reason must match this. */
  readonly reason?: RegExp;
  /** The labels it must produce (trivial model), when known. */
  readonly labels?: Labels;
  /** Checks a real model's labels (returns a problem, or undefined). */
  readonly checkLabels?: (got: Labels) => string | undefined;
  /** Set on the children of a batch: the batch's id. */
  readonly parent?: string;
}

export interface AuditResult {
  readonly jobs: number;
  readonly done: number;
  /** The jobs that failed with a reason, and the reason. */
  readonly failures: { readonly id: string; readonly name: string; readonly reason: string }[];
  readonly lost: string[];
  readonly stuck: string[];
  readonly duplicated: string[];
  readonly failedWithoutReason: string[];
  /** Other problems: wrong labels, unexpected outcome, a reason that does not say what it must. */
  readonly wrong: string[];
  /** Temporary files of writes cut short by a kill (invisible to readers; garbage, not results). */
  readonly partials: string[];
  /** Jobs whose scratch/ folder is still there (garbage of a job whose last stage was killed). */
  readonly scratchLeft: number;
  /** The summary line. */
  readonly line: string;
}

const FINAL = new Set(['done', 'failed']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const sameLabels = (a: Labels, b: Labels) =>
  a.width === b.width &&
  a.height === b.height &&
  Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(
    Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength),
  );

async function getOrUndefined(client: KioskClient, id: string): Promise<JobView | undefined> {
  try {
    return await client.getJob(id);
  } catch (err) {
    if (err instanceof KioskClientError && err.status === 404) return undefined;
    throw err;
  }
}

/** Every top-level job the API lists (all pages). */
export async function listAll(client: KioskClient): Promise<JobView[]> {
  const out: JobView[] = [];
  for (let offset = 0; ; offset += 500) {
    const page = await client
      .download(`${client.base}/v1/jobs?limit=500&offset=${offset}`)
      .then((b) => (JSON.parse(Buffer.from(b).toString('utf8')) as { jobs: JobView[] }).jobs);
    out.push(...page);
    if (page.length < 500) return out;
  }
}

/**
 * Waits until every expected job is final (one listing per second plus the batches' child lists), or the
 * deadline passes; resolves to the ids still not final.
 */
export async function waitAllFinal(
  client: KioskClient,
  expected: readonly Expectation[],
  deadlineMs: number,
  onTick?: (pending: number) => void,
): Promise<string[]> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const status = new Map<string, string>();
    for (const j of await listAll(client)) status.set(j.id, j.status);
    for (const b of expected.filter((e) => e.kind === 'batch')) {
      const view = await getOrUndefined(client, b.id);
      for (const c of view?.children ?? []) status.set(c.id, c.status);
    }
    const pending = expected.filter((e) => !FINAL.has(status.get(e.id) ?? '')).map((e) => e.id);
    onTick?.(pending.length);
    if (pending.length === 0 || Date.now() > until) return pending;
    await sleep(1000);
  }
}

/** Files under results/<lab>/<id>/ in the local bucket folder, `.part` leftovers included. */
async function resultFiles(bucket: string, lab: string, id: string): Promise<string[]> {
  return readdir(join(bucket, 'results', lab, id), { recursive: true }).catch(() => [] as string[]);
}

export async function audit(o: {
  client: KioskClient;
  bucket: string;
  lab: string;
  expected: readonly Expectation[];
  /** Final (done/failed) events seen per job id on the job-event channel. */
  finalEvents: ReadonlyMap<string, number>;
  /** Ids that were not final by the deadline (waitAllFinal). */
  stuck: readonly string[];
}): Promise<AuditResult> {
  const { client, expected } = o;
  const lost: string[] = [];
  const duplicated: string[] = [];
  const failedWithoutReason: string[] = [];
  const wrong: string[] = [];
  const partials: string[] = [];
  let done = 0;
  const failures: AuditResult['failures'] = [];
  const stuck = new Set(o.stuck);
  const views = new Map<string, JobView>();
  for (const e of expected) {
    const v = await getOrUndefined(client, e.id);
    if (!v) {
      lost.push(`${e.id} (${e.name}): the API does not know it`);
      continue;
    }
    views.set(e.id, v);
    if (!FINAL.has(v.status)) {
      lost.push(`${e.id} (${e.name}): stuck in '${v.status}' past the deadline`);
      stuck.add(e.id);
      continue;
    }
    if ((o.finalEvents.get(e.id) ?? 0) > 1)
      duplicated.push(`${e.id} (${e.name}): finished ${o.finalEvents.get(e.id)} times`);
    const all = await resultFiles(o.bucket, o.lab, e.id);
    // A writer killed mid-write leaves its temporary `.part` file: never seen by readers, not a result.
    partials.push(...all.filter((f) => f.endsWith('.part')).map((f) => `results/${o.lab}/${e.id}/${f}`));
    const files = all.filter((f) => !f.endsWith('.part'));
    if (v.status === 'failed') {
      if (!v.reason?.trim()) failedWithoutReason.push(`${e.id} (${e.name})`);
      else failures.push({ id: e.id, name: e.name, reason: v.reason });
      if (e.outcome === 'done') wrong.push(`${e.id} (${e.name}): failed: ${v.reason}`);
      else if (e.reason && v.reason && !e.reason.test(v.reason))
        wrong.push(`${e.id} (${e.name}): reason ${JSON.stringify(v.reason)} does not match ${e.reason}`);
      if (files.length && e.kind === 'image')
        duplicated.push(`${e.id} (${e.name}): failed, yet has result objects ${files.join(', ')}`);
      continue;
    }
    done++;
    if (e.outcome === 'failed') wrong.push(`${e.id} (${e.name}): done, but its input is bad`);
    const stem = fileStem(e.name);
    // an image job's zip is made by the API when downloaded (a local folder bucket: zipsOnDownload)
    const want = e.kind === 'image' ? [labelKeyName(e.name)] : [`${stem}.zip`];
    if (files.sort().join('|') !== want.sort().join('|'))
      duplicated.push(
        `${e.id} (${e.name}): result objects [${files.join(', ')}], expected [${want.join(', ')}]`,
      );
    if (e.kind === 'image') {
      if (!v.labelsUrl || !v.resultUrl) {
        wrong.push(`${e.id} (${e.name}): done without result URLs`);
        continue;
      }
      const tif = await client.download(v.labelsUrl);
      const got = labelsFromRaw(decodeImage(tif, { name: e.name }), e.name);
      if (e.labels && !sameLabels(got, e.labels))
        wrong.push(`${e.id} (${e.name}): labels differ from the in-process result`);
      const problem = e.checkLabels?.(got);
      if (problem) wrong.push(`${e.id} (${e.name}): ${problem}`);
      const entries = Object.keys(unzipSync(await client.download(v.resultUrl)));
      if (entries.length !== 1)
        duplicated.push(`${e.id} (${e.name}): result zip holds [${entries.join(', ')}]`);
    } else {
      const kids = expected.filter((c) => c.parent === e.id);
      const zip = unzipSync(await client.download(v.resultUrl!));
      const doneKids = (v.children ?? []).filter((c) => c.status === 'done').length;
      if (Object.keys(zip).length !== doneKids)
        duplicated.push(
          `${e.id} (${e.name}): zip holds ${Object.keys(zip).length} label images for ${doneKids} done children`,
        );
      if ((v.children ?? []).length !== kids.length)
        wrong.push(
          `${e.id} (${e.name}): lists ${(v.children ?? []).length} children, submitted ${kids.length}`,
        );
    }
  }
  // The listing: every accepted top-level job once, nothing else.
  const listed = await listAll(client);
  const seen = new Map<string, number>();
  for (const j of listed) seen.set(j.id, (seen.get(j.id) ?? 0) + 1);
  const ids = new Set(expected.map((e) => e.id));
  for (const [id, n] of seen) {
    if (n > 1) duplicated.push(`${id}: listed ${n} times`);
    if (!ids.has(id))
      duplicated.push(
        `${id}: a job the suite never got an id for (status ${listed.find((j) => j.id === id)?.status})`,
      );
  }
  for (const e of expected)
    if (!e.parent && !seen.has(e.id) && views.has(e.id))
      lost.push(`${e.id} (${e.name}): missing from the listing`);
  // The bucket: a result folder for every done job and no other.
  const folders = await readdir(join(o.bucket, 'results', o.lab)).catch(() => [] as string[]);
  for (const f of folders)
    if (!ids.has(f)) duplicated.push(`results/${o.lab}/${f}/: a result of no accepted job`);
  const scratch = await readdir(join(o.bucket, 'scratch')).catch(() => [] as string[]);
  const jobs = expected.length;
  const n = (list: readonly string[]) => new Set(list.map((s) => s.split(/[ :]/)[0])).size;
  const line = `faults: ${jobs} jobs, ${n(lost)} lost, ${n(duplicated)} duplicated, ${n(failedWithoutReason)} failed without reason`;
  return {
    jobs,
    done,
    failures,
    lost,
    stuck: [...stuck],
    duplicated,
    failedWithoutReason,
    wrong,
    partials,
    scratchLeft: scratch.length,
    line,
  };
}

/**
 * `kiosk train --host URL --data ZIP|DIR [...]`: trains on a running kiosk over HTTP. Sends the data (a zip
 * as it is; a folder packed into a zip in memory, with `--val DIR` added under val/) to
 * POST /v1/trainings/upload, then follows GET /v1/trainings/:id/events and prints live progress: the place
 * in the queue, steps, and one line per epoch (loss, validation F1@0.5 and DSB). Exit codes: 0 done,
 * 1 the training failed or the data was refused (each problem printed by file name), 2 bad flags,
 * 3 cancelled by the user (POST /v1/trainings/:id/cancel, e.g. the web UI's Cancel button): not an error
 * of the training, but no model was written, so a script must not go on as if it were done.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from './command.js';
import { packZip } from '../workers/image/zip.js';
import { readTrainingFolder } from '../workers/training/data-store.js';

export const remoteTrainUsage = `Usage: kiosk train --host URL --data ZIP|DIR [options]

Trains on the kiosk at URL (the data is uploaded; the new model version appears in its model list).
  --data ZIP|DIR        NAME.image.(png|tif) + NAME.labels.(png|tif) pairs, optionally in train/ and val/
  --val DIR             validation pairs (sent as val/)
  --from NAME[/V]       model to fine-tune                          (default: the kiosk's default model)
  --scratch             train a new network instead of fine-tuning
  --name NAME           name of the new model version           (default: the --from name, or custom)
  --epochs N  --steps N  --batch N  --crop N  --lr X  --seed N    training parameters
  --mpp X               µm per pixel of the training images
  --detach              print the training id and return without waiting
Exit codes: 0 done, 1 the training failed or the data was refused, 2 bad flags,
  3 the training was cancelled by the user (no model written)`;

/** Exit code of a training cancelled by the user (see the usage above). */
export const EXIT_CANCELLED = 3;
/** The reason the service gives a cancelled training (api/routes/training.ts, workers/training/processor.ts). */
const CANCELLED_REASON = 'cancelled by the user';

export interface RemoteIo {
  /** Progress lines. @default process.stdout */
  readonly out?: (line: string) => void;
}

interface TrainingView {
  id: string;
  status: string;
  position?: number;
  progress: number;
  epoch: number;
  step: number;
  totalSteps: number;
  params: { epochs: number; modelName: string };
  history: { epoch: number; trainLoss: number; valF1?: number; valDsb?: number; seconds: number }[];
  resumedFrom?: { epoch: number; step: number };
  model?: { name: string; version: string };
  reason?: string;
  eventsUrl: string;
}

interface TrainingEvent {
  status?: string;
  step?: number;
  loss?: number;
  epochRecord?: TrainingView['history'][number];
  reason?: string;
  model?: { name: string; version: string };
}

async function dataZip(data: string, val: string | undefined): Promise<{ name: string; bytes: Uint8Array }> {
  if (!existsSync(data)) throw new UsageError(`--data ${data} does not exist`);
  if (statSync(data).isFile() && !val)
    return { name: basename(data), bytes: new Uint8Array(await readFile(data)) };
  if (statSync(data).isFile()) throw new UsageError('--val needs --data to be a folder');
  const entries = (await readTrainingFolder(data)).map((f) => ({ name: f.path, data: f.bytes }));
  if (val) {
    if (!existsSync(val) || !statSync(val).isDirectory())
      throw new UsageError(`--val ${val} is not a folder`);
    for (const f of await readTrainingFolder(val)) entries.push({ name: `val/${f.path}`, data: f.bytes });
  }
  const safe = entries.filter((e) => !e.name.split('/').some((s) => s.startsWith('.')));
  return { name: `${basename(data) || 'data'}.zip`, bytes: packZip(safe) };
}

function epochLine(r: TrainingView['history'][number], epochs: number): string {
  const val =
    r.valF1 === undefined ? '' : ` val F1@0.5 ${r.valF1.toFixed(3)} DSB ${(r.valDsb ?? 0).toFixed(3)}`;
  return `epoch ${r.epoch}/${epochs}: loss ${r.trainLoss.toFixed(4)}${val} (${r.seconds.toFixed(1)} s)`;
}

/** Reads a server-sent event stream, calling `on(event, data)` per event; resolves when it ends. */
async function readSse(res: Response, on: (event: string, data: string) => void): Promise<void> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    let cut: number;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length) on(event, data.join('\n'));
    }
  }
}

export async function runRemoteTraining(args: readonly string[], io: RemoteIo = {}): Promise<number> {
  const say = io.out ?? ((line: string) => void process.stdout.write(`${line}\n`));
  let v;
  try {
    v = parseArgs({
      args: [...args],
      options: {
        host: { type: 'string' },
        data: { type: 'string' },
        val: { type: 'string' },
        from: { type: 'string' },
        scratch: { type: 'boolean' },
        name: { type: 'string' },
        epochs: { type: 'string' },
        steps: { type: 'string' },
        batch: { type: 'string' },
        crop: { type: 'string' },
        lr: { type: 'string' },
        seed: { type: 'string' },
        mpp: { type: 'string' },
        detach: { type: 'boolean' },
      },
    }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (!v.host) throw new UsageError('--host URL is required');
  if (!v.data) throw new UsageError('--data ZIP|DIR is required');
  if (v.scratch && v.from) throw new UsageError('give --from or --scratch, not both');
  const host = v.host.replace(/\/+$/, '');
  // A kiosk with KIOSK_AUTH=tokens: the lab token from KIOSK_TOKEN (docs/security.md).
  const auth: Record<string, string> = process.env.KIOSK_TOKEN
    ? { authorization: `Bearer ${process.env.KIOSK_TOKEN}` }
    : {};
  const [fromName, fromVersion] = (v.from ?? '').split('/');
  const fields: Record<string, string | undefined> = {
    modelName: v.name,
    baseModel: fromName || undefined,
    baseVersion: fromVersion,
    fromScratch: v.scratch ? 'true' : undefined,
    epochs: v.epochs,
    stepsPerEpoch: v.steps,
    batchSize: v.batch,
    cropSize: v.crop,
    learningRate: v.lr,
    seed: v.seed,
    micronsPerPixel: v.mpp,
  };
  const zip = await dataZip(v.data, v.val);
  const form = new FormData();
  for (const [k, value] of Object.entries(fields)) if (value !== undefined) form.append(k, value);
  form.append('data', new Blob([new Uint8Array(zip.bytes)]), zip.name);
  say(`uploading ${zip.name} (${(zip.bytes.length / 2 ** 20).toFixed(1)} MiB) to ${host}`);
  const created = await fetch(`${host}/v1/trainings/upload`, { method: 'POST', body: form, headers: auth });
  const body = (await created.json()) as TrainingView & {
    error?: string;
    message?: string;
    problems?: { file: string; message: string }[];
  };
  if (!created.ok) {
    if (body.problems) {
      say(
        `the kiosk refused the training data (${body.problems.length} problem${body.problems.length === 1 ? '' : 's'}):`,
      );
      for (const p of body.problems) say(`  ${p.file || '(data)'}: ${p.message}`);
    } else {
      const hint = created.status === 401 ? ' (set KIOSK_TOKEN to a token of your lab)' : '';
      say(`error ${created.status}: ${body.message ?? created.statusText}${hint}`);
    }
    return 1;
  }
  const epochs = body.params.epochs;
  say(`training ${body.id}: ${body.params.modelName}, ${epochs} epochs of ${body.totalSteps / epochs} steps`);
  if (v.detach) return 0;

  let final: TrainingView | undefined;
  let lastStatus = '';
  const status = (s: string, extra = '') => {
    if (s !== lastStatus) say(`${s}${extra}`);
    lastStatus = s;
  };
  let lastStepLine = 0;
  const res = await fetch(`${host}${body.eventsUrl}`, { headers: { accept: 'text/event-stream', ...auth } });
  if (res.ok && res.body) {
    await readSse(res, (event, data) => {
      if (event === 'snapshot') {
        const snap = JSON.parse(data) as TrainingView;
        if (snap.status !== 'failed')
          status(snap.status, snap.position ? ` (position ${snap.position} in the queue)` : '');
        if (snap.status === 'done' || snap.status === 'failed') final = snap;
        return;
      }
      const ev = JSON.parse(data) as TrainingEvent;
      // A failure is said once, after the stream, with the final record's reason.
      if (ev.status && ev.status !== 'failed') status(ev.status, ev.reason ? `: ${ev.reason}` : '');
      if (ev.epochRecord) say(epochLine(ev.epochRecord, epochs));
      else if (ev.step !== undefined && ev.loss !== undefined && Date.now() - lastStepLine > 2000) {
        lastStepLine = Date.now();
        say(`  step ${ev.step}/${body.totalSteps}: loss ${ev.loss.toFixed(4)}`);
      }
    });
  }
  // The stream ends when the training does (or the connection dropped): read the final state.
  for (let i = 0; !final || (final.status !== 'done' && final.status !== 'failed'); i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 2000));
    final = (await (
      await fetch(`${host}/v1/trainings/${body.id}`, { headers: auth })
    ).json()) as TrainingView;
  }
  if (final.resumedFrom)
    say(
      `(resumed from epoch ${final.resumedFrom.epoch}, step ${final.resumedFrom.step}, after a worker stopped)`,
    );
  if (final.status === 'failed' && final.reason === CANCELLED_REASON) {
    say(`cancelled by the user: training ${final.id} stopped, no model was written`);
    return EXIT_CANCELLED;
  }
  if (final.status === 'failed') {
    say(`failed: ${final.reason ?? 'no reason given'}`);
    return 1;
  }
  say(
    `done: model ${final.model?.name} version ${final.model?.version} is ready (use --model ${final.model?.name} with version ${final.model?.version})`,
  );
  return 0;
}

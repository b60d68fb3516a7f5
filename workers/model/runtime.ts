/**
 * Picks the TensorFlow.js backend that training and tfjs inference run on, once per process.
 *
 * Order when nothing is asked for: `@tensorflow/tfjs-node-gpu` → `@tensorflow/tfjs-node` →
 * `@tensorflow/tfjs-backend-wasm` (SIMD build). The first two are optionalDependencies whose install downloads
 * libtensorflow; where that failed they are simply absent and are skipped with one debug line each
 * (`NODE_DEBUG=kiosk-tfjs` prints them). The pure-JS `cpu` backend (~28 s per 512x512 U-Net forward pass)
 * is NEVER a fallback: it is used only when asked for by name (`prefer: 'cpu'` or `KIOSK_TFJS_BACKEND=cpu`),
 * which tests and benchmarks do to compare against.
 *
 * `prefer` (or, when `prefer` is absent, the env variable `KIOSK_TFJS_BACKEND`) names where the chain starts:
 * `'node-gpu'` = the full chain, `'node'` = tfjs-node then wasm, `'wasm'` = wasm only, `'cpu'` = cpu only.
 * If nothing in the chain loads, `initTfjs` rejects with a `TfjsRuntimeError` listing why each was skipped.
 *
 * Threads: tfjs-backend-wasm 4.22 turns multithreading off under Node (its `WASM_HAS_MULTITHREAD_SUPPORT`
 * flag returns false when `IS_NODE`, tfjs issue #3830). Forcing the flag on in Node 20 fails at init with
 * `ERR_WORKER_PATH` (its pthread workers are `blob:` URLs, which `worker_threads` rejects). So wasm runs one
 * thread here; `threads` > 1 is recorded as a request and reported back as `threads: 1`.
 *
 * Everyone imports TensorFlow.js as `@tensorflow/tfjs-core` and `@tensorflow/tfjs-layers` (one installed copy
 * each, both resolved to their CommonJS node bundles; do not deep-import `@tensorflow/tfjs-core/dist/...`,
 * that is a second, ESM copy). Chained tensor methods (`t.square()`) are not registered by the core bundle:
 * use the functions (`tf.square(t)`). After `initTfjs` resolves, ops run on the chosen backend and, for wasm, the gradient kernels in
 * ./wasm-gradients are registered so `model.fit` / `optimizer.minimize` work.
 */
import * as tf from '@tensorflow/tfjs-core';
// The node bundle of tfjs-core registers no gradient functions; tfjs-layers' bundle registers all of them
// (into tfjs's global registry). Importing it here makes tf.grads / optimizer.minimize work for callers
// that use tfjs-core alone.
import '@tensorflow/tfjs-layers';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { debuglog } from 'node:util';
import { registerWasmGradients } from './wasm-gradients/index.js';

export { tf };

/** Where the backend search starts (see the module doc). */
export type RuntimePreference = 'node-gpu' | 'node' | 'wasm' | 'cpu';

export const RUNTIME_PREFERENCES: readonly RuntimePreference[] = ['node-gpu', 'node', 'wasm', 'cpu'];

export type RuntimeSource =
  | '@tensorflow/tfjs-node-gpu'
  | '@tensorflow/tfjs-node'
  | '@tensorflow/tfjs-backend-wasm'
  | '@tensorflow/tfjs-backend-cpu';

export interface RuntimeInfo {
  /** `tf.getBackend()` after init: 'tensorflow' (both node packages), 'wasm' or 'cpu'. */
  readonly backend: string;
  /** The package that provided the backend. */
  readonly source: RuntimeSource;
  /** Threads the backend computes with, where it says (wasm: always 1 under Node, see the module doc). */
  readonly threads?: number;
}

export interface InitTfjsOptions {
  /**
   * Where the search starts.
   * @default - `KIOSK_TFJS_BACKEND` if set, else 'node-gpu' (the full chain)
   */
  readonly prefer?: RuntimePreference;
  /**
   * Threads asked of the wasm backend (a positive integer). Under Node the wasm backend is single-threaded,
   * so this is checked but has no effect yet.
   * @default - the backend's own choice
   */
  readonly threads?: number;
  /**
   * Folder holding tfjs-backend-wasm's `.wasm` binaries (with a trailing slash or not). Only read the first
   * time the wasm backend starts in a process.
   * @default - the installed package's `dist/` folder
   */
  readonly wasmDir?: string;
  /** Where the one-line reasons for skipped backends go. @default - `util.debuglog('kiosk-tfjs')` */
  readonly log?: (line: string) => void;
}

export type TfjsRuntimeErrorCode = 'bad-preference' | 'bad-threads' | 'no-backend';

/** A runtime that cannot be set up as asked; `code` is stable, `message` says what was asked and why it failed. */
export class TfjsRuntimeError extends Error {
  override readonly name = 'TfjsRuntimeError';
  constructor(
    readonly code: TfjsRuntimeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const BACKEND_ENV_VAR = 'KIOSK_TFJS_BACKEND';

const debug = debuglog('kiosk-tfjs');
const require = createRequire(import.meta.url);

/** Resolved infos by starting preference, so a repeated call returns the same object. */
const initialized = new Map<RuntimePreference, RuntimeInfo>();

function checkPreference(value: string, from: string): RuntimePreference {
  if ((RUNTIME_PREFERENCES as readonly string[]).includes(value)) return value as RuntimePreference;
  throw new TfjsRuntimeError(
    'bad-preference',
    `${from} must be one of ${RUNTIME_PREFERENCES.join(', ')}; got ${JSON.stringify(value)}`,
  );
}

/** The chain of backends tried for a starting preference, in order. 'cpu' is only ever reached by name. */
export function backendChain(prefer: RuntimePreference): RuntimePreference[] {
  if (prefer === 'cpu') return ['cpu'];
  const auto: RuntimePreference[] = ['node-gpu', 'node', 'wasm'];
  return auto.slice(auto.indexOf(prefer));
}

/**
 * Sets up the TensorFlow.js backend (see the module doc for the order, overrides and threads) and resolves to
 * what was chosen. Calling it again with the same preference returns the same info (and re-selects that
 * backend if another call switched away from it in between), so tests and benches may switch wasm ↔ cpu.
 * Rejects with `TfjsRuntimeError`: 'bad-preference' (unknown `prefer` or env value), 'bad-threads',
 * 'no-backend' (nothing in the chain loaded; the message lists each reason).
 */
export async function initTfjs(opts: InitTfjsOptions = {}): Promise<RuntimeInfo> {
  const log = opts.log ?? debug;
  const fromEnv = process.env[BACKEND_ENV_VAR];
  const prefer =
    opts.prefer !== undefined
      ? checkPreference(String(opts.prefer), "initTfjs option 'prefer'")
      : fromEnv !== undefined && fromEnv !== ''
        ? checkPreference(fromEnv, `env ${BACKEND_ENV_VAR}`)
        : 'node-gpu';
  if (opts.threads !== undefined && !(Number.isInteger(opts.threads) && opts.threads >= 1)) {
    throw new TfjsRuntimeError(
      'bad-threads',
      `initTfjs option 'threads' must be a positive integer; got ${String(opts.threads)}`,
    );
  }
  const known = initialized.get(prefer);
  if (known) {
    if (tf.getBackend() !== known.backend) await tf.setBackend(known.backend);
    return known;
  }
  const reasons: string[] = [];
  for (const candidate of backendChain(prefer)) {
    try {
      const info = await loaders[candidate](opts, log);
      initialized.set(prefer, info);
      return info;
    } catch (err) {
      const why = `${candidate} skipped: ${oneLine(err)}`;
      reasons.push(why);
      log(why);
    }
  }
  throw new TfjsRuntimeError(
    'no-backend',
    `no TensorFlow.js backend could be set up starting from '${prefer}' (${reasons.join('; ')})`,
  );
}

function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0] ?? text;
}

async function activate(name: string, source: RuntimeSource, threads?: number): Promise<RuntimeInfo> {
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) {
    throw new Error(`tf.setBackend('${name}') returned false (tfjs printed the cause as a warning)`);
  }
  await tf.ready();
  return threads === undefined ? { backend: name, source } : { backend: name, source, threads };
}

/** Imports a package by a name TypeScript cannot resolve at compile time (optional dependencies). */
async function importOptional(name: string): Promise<unknown> {
  return (await import(name)) as unknown;
}

type ProcessEvent = 'uncaughtException' | 'unhandledRejection';
const PROCESS_EVENTS: readonly ProcessEvent[] = ['uncaughtException', 'unhandledRejection'];

type Listener = (...args: unknown[]) => void;

function processListeners(): Map<ProcessEvent, Listener[]> {
  return new Map(PROCESS_EVENTS.map((e): [ProcessEvent, Listener[]] => [e, listenersOf(e)]));
}

function listenersOf(event: ProcessEvent): Listener[] {
  return process.listeners(event as 'uncaughtException') as Listener[];
}

/**
 * The emscripten glue of the wasm backend installs process-wide `uncaughtException` / `unhandledRejection`
 * listeners that rethrow, so any later crash prints a screen of minified glue code instead of the real
 * error. Node's own default (crash with the error) is what we want, so they are removed again.
 */
function dropListenersAddedSince(before: Map<ProcessEvent, Listener[]>): void {
  for (const event of PROCESS_EVENTS) {
    const old = before.get(event) ?? [];
    for (const l of listenersOf(event)) {
      if (!old.includes(l)) process.removeListener(event, l);
    }
  }
}

type Loader = (opts: InitTfjsOptions, log: (line: string) => void) => Promise<RuntimeInfo>;

const loaders: Record<RuntimePreference, Loader> = {
  'node-gpu': async () => {
    await importOptional('@tensorflow/tfjs-node-gpu');
    return activate('tensorflow', '@tensorflow/tfjs-node-gpu');
  },
  node: async () => {
    await importOptional('@tensorflow/tfjs-node');
    return activate('tensorflow', '@tensorflow/tfjs-node');
  },
  wasm: async ({ threads, wasmDir }, log) => {
    const before = processListeners();
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    if (tf.findBackend('wasm') === null) {
      // Not yet initialized in this process: tell it where its .wasm binaries are (in Node, emscripten would
      // otherwise look next to the bundled script, which is fine, but an explicit path survives bundling).
      const dir =
        wasmDir ?? join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
      wasm.setWasmPaths(dir.endsWith('/') ? dir : `${dir}/`);
      if (threads !== undefined && threads > 1) {
        log(`wasm: ${threads} threads asked, but tfjs-backend-wasm runs single-threaded under Node`);
      }
    }
    const info = await activate('wasm', '@tensorflow/tfjs-backend-wasm');
    dropListenersAddedSince(before);
    registerWasmGradients();
    return { ...info, threads: wasm.getThreadsCount() };
  },
  cpu: async () => {
    await import('@tensorflow/tfjs-backend-cpu');
    return activate('cpu', '@tensorflow/tfjs-backend-cpu', 1);
  },
};

import * as tf from '@tensorflow/tfjs-core';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BACKEND_ENV_VAR,
  backendChain,
  initTfjs,
  TfjsRuntimeError,
  type RuntimePreference,
} from './runtime.js';

const run = promisify(execFile);
const savedEnv = process.env[BACKEND_ENV_VAR];
// Before any initTfjs call: the wasm package (and its emscripten glue) is imported lazily by initTfjs.
const listenersAtStart = {
  uncaught: process.listeners('uncaughtException').length,
  rejection: process.listeners('unhandledRejection').length,
};

afterEach(() => {
  if (savedEnv === undefined) delete process.env[BACKEND_ENV_VAR];
  else process.env[BACKEND_ENV_VAR] = savedEnv;
});

describe('initTfjs', () => {
  // Runs first: later tests reuse the cached result of this one.
  it('picks wasm here (tfjs-node-gpu and tfjs-node are not installed), logging one line per skipped package', async () => {
    delete process.env[BACKEND_ENV_VAR];
    const lines: string[] = [];
    const info = await initTfjs({ log: (l) => lines.push(l) });
    expect(info).toEqual({ backend: 'wasm', source: '@tensorflow/tfjs-backend-wasm', threads: 1 });
    expect(tf.getBackend()).toBe('wasm');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^node-gpu skipped: .*@tensorflow\/tfjs-node-gpu/);
    expect(lines[1]).toMatch(/^node skipped: .*@tensorflow\/tfjs-node/);
  });

  it('is idempotent: a second call returns the same info without searching again', async () => {
    const first = await initTfjs();
    const lines: string[] = [];
    const second = await initTfjs({ log: (l) => lines.push(l) });
    expect(second).toBe(first);
    expect(lines).toEqual([]);
  });

  it('registers the wasm gradient kernels', async () => {
    await initTfjs({ prefer: 'wasm' });
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(tf.getKernel('DepthwiseConv2dNativeBackpropFilter', 'wasm')).toBeDefined();
    expect(tf.getKernel('DepthwiseConv2dNativeBackpropInput', 'wasm')).toBeDefined();
  });

  it('leaves no process-wide error listeners behind (emscripten installs rethrowing ones)', async () => {
    await initTfjs({ prefer: 'wasm' });
    expect(process.listeners('uncaughtException')).toHaveLength(listenersAtStart.uncaught);
    expect(process.listeners('unhandledRejection')).toHaveLength(listenersAtStart.rejection);
  });

  it('uses the pure-JS cpu backend only when asked by name, and switches back to wasm after', async () => {
    const cpu = await initTfjs({ prefer: 'cpu' });
    expect(cpu).toEqual({ backend: 'cpu', source: '@tensorflow/tfjs-backend-cpu', threads: 1 });
    expect(tf.getBackend()).toBe('cpu');
    const wasm = await initTfjs({ prefer: 'wasm' });
    expect(wasm.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('prefer: node skips the absent tfjs-node and lands on wasm', async () => {
    const lines: string[] = [];
    const info = await initTfjs({ prefer: 'node', log: (l) => lines.push(l) });
    expect(info.source).toBe('@tensorflow/tfjs-backend-wasm');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^node skipped/);
  });

  it(`honours ${BACKEND_ENV_VAR} when prefer is not given`, async () => {
    process.env[BACKEND_ENV_VAR] = 'cpu';
    expect((await initTfjs()).backend).toBe('cpu');
    process.env[BACKEND_ENV_VAR] = 'wasm';
    expect((await initTfjs()).backend).toBe('wasm');
  });

  it(`lets an explicit prefer win over ${BACKEND_ENV_VAR}`, async () => {
    process.env[BACKEND_ENV_VAR] = 'cpu';
    expect((await initTfjs({ prefer: 'wasm' })).backend).toBe('wasm');
  });

  it('rejects an unknown prefer value, listing the allowed ones', async () => {
    const bad = initTfjs({ prefer: 'gpu' as RuntimePreference });
    await expect(bad).rejects.toBeInstanceOf(TfjsRuntimeError);
    await expect(bad).rejects.toMatchObject({
      code: 'bad-preference',
      message: `initTfjs option 'prefer' must be one of node-gpu, node, wasm, cpu; got "gpu"`,
    });
  });

  it(`rejects an unknown ${BACKEND_ENV_VAR} value, naming the variable`, async () => {
    process.env[BACKEND_ENV_VAR] = 'webgl';
    await expect(initTfjs()).rejects.toMatchObject({
      code: 'bad-preference',
      message: `env ${BACKEND_ENV_VAR} must be one of node-gpu, node, wasm, cpu; got "webgl"`,
    });
  });

  it.each([0, -2, 1.5, Number.NaN])('rejects threads = %s', async (threads) => {
    await expect(initTfjs({ prefer: 'wasm', threads })).rejects.toMatchObject({
      code: 'bad-threads',
      message: expect.stringMatching(/'threads' must be a positive integer; got /) as unknown as string,
    });
  });

  it('accepts threads > 1 but reports the single thread wasm runs under Node', async () => {
    expect((await initTfjs({ prefer: 'wasm', threads: 2 })).threads).toBe(1);
  });
});

describe('backendChain', () => {
  it('never reaches cpu unless cpu is asked for', () => {
    expect(backendChain('node-gpu')).toEqual(['node-gpu', 'node', 'wasm']);
    expect(backendChain('node')).toEqual(['node', 'wasm']);
    expect(backendChain('wasm')).toEqual(['wasm']);
    expect(backendChain('cpu')).toEqual(['cpu']);
  });
});

describe('when wasm cannot start either (fresh process)', () => {
  it('rejects with no-backend, listing every reason, and does not fall back to cpu', async () => {
    const script = `
      import * as tf from '@tensorflow/tfjs-core';
      import { initTfjs } from './workers/model/runtime.ts';
      try {
        await initTfjs({ wasmDir: '/nonexistent-wasm-dir', log: () => {} });
        console.log(JSON.stringify({ ok: true }));
      } catch (e) {
        console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message, registered: tf.findBackend('cpu') !== null }));
      }`;
    const env = { ...process.env };
    delete env[BACKEND_ENV_VAR];
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('../..', import.meta.url).pathname,
      env,
      timeout: 60_000,
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(result).toMatchObject({ name: 'TfjsRuntimeError', code: 'no-backend', registered: false });
    expect(result['message']).toMatch(
      /starting from 'node-gpu' \(node-gpu skipped: .*; node skipped: .*; wasm skipped: tf.setBackend\('wasm'\) returned false/,
    );
  });
});

/**
 * The images' layouts, rebuilt from docker/cpu.Dockerfile and docker/gpu.Dockerfile (test/deploy/images.ts):
 * what each image's roles need is in it, and nothing is written under /app. Real processes against the
 * suite's private Redis; no image is built here (test/deploy/images.check.ts builds and runs the real ones
 * with podman).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { layOutImage, parseDockerfile, type ImageLayout } from './images.js';

const repoRoot = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'kiosk-image-layout-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const layouts = new Map<string, ImageLayout>();
function layout(image: 'cpu' | 'gpu'): ImageLayout {
  let l = layouts.get(image);
  if (!l) {
    l = layOutImage(repoRoot, `docker/${image}.Dockerfile`, join(scratch, image));
    layouts.set(image, l);
  }
  return l;
}

/** The image's environment as its containers get it, with a bucket folder and the suite's Redis. */
function imageEnv(l: ImageLayout, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { KIOSK_MODEL_CACHE: _c, KIOSK_MODELS_DIR: _m, KIOSK_BUCKET: _b, ...host } = process.env;
  return {
    ...host,
    ...l.env,
    TMPDIR: tmpdir(), // the image says /tmp; this test's own temp dir stands for it
    ...(l.env.KIOSK_MODEL_CACHE
      ? { KIOSK_MODEL_CACHE: join(tmpdir(), relative('/tmp', l.env.KIOSK_MODEL_CACHE)) }
      : {}),
    REDIS_URL: inject('redisUrl'),
    KIOSK_PREFIX: `layout-${process.pid}`,
    KIOSK_BUCKET: mkdtempSync(join(scratch, 'bucket-')),
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

/**
 * Runs `node <ENTRYPOINT args> <args>` in the layout's /app until `ready` shows in its output, then SIGTERM;
 * resolves to the exit code and the output.
 */
function startRole(
  l: ImageLayout,
  args: string[],
  ready: RegExp,
  extraEnv: Record<string, string> = {},
): Promise<{ code: number | null; output: string }> {
  const [cmd, ...entryArgs] = l.entrypoint;
  expect(cmd).toBe('node');
  const child = spawn(process.execPath, [...entryArgs, ...args], {
    cwd: l.appDir,
    env: imageEnv(l, extraEnv),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stopping = false;
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const onData = (d: Buffer) => {
    output += d.toString();
    if (!stopping && ready.test(output)) {
      stopping = true; // one SIGTERM: a second one means "return running jobs now" to a worker
      child.kill('SIGTERM');
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return new Promise((res) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      res({ code, output });
    }),
  );
}

const probes = new Map<ImageLayout, ReturnType<typeof runProbe>>();
function probe(l: ImageLayout): ReturnType<typeof runProbe> {
  if (!probes.has(l)) probes.set(l, runProbe(l));
  return probes.get(l)!;
}

/** What the API and workers in this layout see: config.modelsDir / modelCacheDir and the registry's models. */
async function runProbe(
  l: ImageLayout,
): Promise<{ modelsDir: string; modelCacheDir: string; models: string[] }> {
  const script = join(scratch, `probe-${relative(scratch, l.appDir).replace(/\W/g, '_')}.mts`);
  const url = (p: string) => JSON.stringify(new URL(`file://${join(l.appDir, p)}`).href);
  writeFileSync(
    script,
    `import { resolve } from 'node:path';
const { loadConfig } = await import(${url('core/config.ts')});
const { createServices } = await import(${url('core/services.ts')});
const config = loadConfig();
const services = await createServices(config);
const models = (await services.registry.list()).map((m) => m.name + '@' + m.version + ':' + m.source);
await services.close();
process.stdout.write(JSON.stringify({ modelsDir: resolve(config.modelsDir), modelCacheDir: resolve(config.modelCacheDir), models }));
`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: l.appDir,
    env: imageEnv(l),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('close', r));
  if (code !== 0) throw new Error(`the probe in the ${l.appDir} layout failed (exit ${code}):\n${err}`);
  return JSON.parse(out) as { modelsDir: string; modelCacheDir: string; models: string[] };
}

describe('parseDockerfile', () => {
  it('joins continued lines, drops comments inside them, and numbers stages', () => {
    const ins = parseDockerfile(
      'ARG X=1\nFROM a AS deps\nRUN one \\\n # a comment\n && two\nFROM b\nENV A=1 \\\n    B="x y"\n',
    );
    expect(ins.map((i) => [i.op, i.stage, i.stageName ?? ''])).toEqual([
      ['ARG', -1, ''],
      ['FROM', 0, 'deps'],
      ['RUN', 0, 'deps'],
      ['FROM', 1, ''],
      ['ENV', 1, ''],
    ]);
    expect(ins[2]!.args).toMatch(/^one\s+&& two$/);
  });
});

describe.each(['cpu', 'gpu'] as const)('the %s image layout', (image) => {
  it('carries the shipped model, found by the registry as the built-in nuclear 1 with config defaults', async () => {
    const l = layout(image);
    expect(existsSync(join(l.appDir, 'models', 'nuclear', '1', 'card.json'))).toBe(true);
    const seen = await probe(l);
    expect(seen.modelsDir).toBe(join(l.appDir, 'models'));
    expect(seen.models).toContain('nuclear@1:builtin');
  });

  it('copies bucket models to a cache outside /app (the root file system is read-only)', async () => {
    const l = layout(image);
    expect(l.env.TMPDIR).toBe('/tmp'); // tsx's compile cache goes there
    const seen = await probe(l);
    expect(relative(l.appDir, seen.modelCacheDir).startsWith('..')).toBe(true);
  });
});

describe('the GPU image layout', () => {
  it('has no web/ and still starts its roles (start.ts loads web/build only for the local kiosk)', async () => {
    const l = layout('gpu');
    expect(existsSync(join(l.appDir, 'web'))).toBe(false);
    expect(l.cmd).toEqual(['start', '--role=gpu-worker']);
    const gpu = await startRole(l, l.cmd, /worker gpu ready/);
    expect(gpu.output).not.toMatch(/ERR_MODULE_NOT_FOUND/);
    expect(gpu.output).toMatch(/worker gpu ready/);
    expect(gpu.code, gpu.output).toBe(0);
    const trainer = await startRole(l, ['start', '--role=trainer'], /worker train ready/);
    expect(trainer.output).toMatch(/worker train ready/);
    expect(trainer.code).toBe(0);
  });
});

describe('the CPU image layout', () => {
  it('gets web/dist from a stage that runs the web build, and its API role starts', async () => {
    const l = layout('cpu');
    expect(l.notBuilt).toContainEqual(expect.objectContaining({ dest: '/app/web/dist' }));
    const text = parseDockerfile(readFileSync(join(repoRoot, 'docker/cpu.Dockerfile'), 'utf8'));
    const from = l.notBuilt.find((n) => n.dest === '/app/web/dist')!.from;
    expect(text.some((i) => i.stageName === from && i.op === 'RUN' && /npm run build:web/.test(i.args))).toBe(
      true,
    );
    const api = await startRole(l, l.cmd, /api listening on/, { PORT: '0' });
    expect(api.output).toMatch(/api listening on/);
  });
});

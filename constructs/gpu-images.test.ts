/**
 * docker/gpu.Dockerfile against the data that says which GPUs its targets drive (./gpu-images.ts), without
 * building it: the CUDA base images cannot be pulled here (no registry; podman builds only from local layers).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDockerfile, type DockerInstruction } from '../test/deploy/images.js';
import { GPU_IMAGES, imageDrives } from './gpu-images.js';
import { GpuType } from './gpu-type.js';

const ROOT = resolve(import.meta.dirname, '..');
const text = readFileSync(join(ROOT, 'docker', 'gpu.Dockerfile'), 'utf8');
const ins = parseDockerfile(text);
const script = readFileSync(join(ROOT, 'docker', 'gpu-npm-install.sh'), 'utf8');
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version: string }>;
};
const version = (pkg: string) => lock.packages[`node_modules/${pkg}`]!.version;

/** The default of a global ARG (before the first FROM). */
function argDefault(name: string): string | undefined {
  const arg = ins.find((i) => i.stage === -1 && i.op === 'ARG' && i.args.startsWith(`${name}=`));
  return arg?.args.slice(name.length + 1);
}
const stageOf = (name: string): DockerInstruction[] => {
  const from = ins.find((i) => i.op === 'FROM' && i.stageName === name);
  if (!from) throw new Error(`no stage ${name}`);
  return ins.filter((i) => i.stage === from.stage);
};

/**
 * The top-level folders ("rooms") the files reachable from `entries` by relative imports (static, and dynamic
 * with a literal path) live in; test files are never reached.
 */
function roomsReachedFrom(entries: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const todo = entries.map((e) => resolve(ROOT, e));
  const resolveImport = (from: string, spec: string): string | undefined => {
    const base = resolve(dirname(from), spec);
    for (const c of [base, base.replace(/\.js$/, '.ts'), `${base}.ts`, join(base, 'index.ts')]) {
      if (existsSync(c) && statSync(c).isFile()) return c;
    }
    return undefined;
  };
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const target = resolveImport(file, m[1]!);
      if (target && !target.includes('node_modules')) todo.push(target);
    }
  }
  return new Set([...seen].map((f) => relative(ROOT, f).split('/')[0]!));
}

describe('docker/gpu.Dockerfile (issue 20 #5)', () => {
  it('builds inference on a CUDA 12 + cuDNN 9 base as its default (last) target, training on CUDA 11.2', () => {
    expect(argDefault('CUDA_IMAGE')).toBe(GPU_IMAGES.inference.base);
    expect(GPU_IMAGES.inference.base).toMatch(/^nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu\d+\.04$/);
    expect(argDefault('TRAIN_CUDA_IMAGE')).toBe(GPU_IMAGES.training.base);
    expect(GPU_IMAGES.training.base).toMatch(/^nvidia\/cuda:11\.2\.\d+-cudnn8-runtime-/);
    const froms = ins.filter((i) => i.op === 'FROM').map((i) => i.args);
    expect(froms.at(-1)).toBe('${CUDA_IMAGE} AS inference');
    expect(stageOf('infer-deps')[0]!.args).toBe('${CUDA_IMAGE} AS infer-deps');
    expect(stageOf('training')[0]!.args).toBe('${TRAIN_CUDA_IMAGE} AS training');
    expect(stageOf('inference').find((i) => i.op === 'CMD')?.args).toBe('["start", "--role=gpu-worker"]');
    expect(stageOf('training').find((i) => i.op === 'CMD')?.args).toBe('["start", "--role=trainer"]');
  });

  it('installs onnxruntime-node CUDA provider in the inference target and checks it is there', () => {
    const run = stageOf('infer-deps').find((i) => i.op === 'RUN')!.args;
    expect(run).toMatch(/sh \/tmp\/gpu-npm-install\.sh inference /);
    expect(script).toMatch(
      /\(cd node_modules\/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 node script\/install\)/,
    );
    expect(script).toMatch(/ls "\$ort\/libonnxruntime_providers_cuda\.so"/);
    // The installer that runs is the locked version's, and the data names what the lockfile pins.
    const installer = readFileSync(
      join(ROOT, 'node_modules/onnxruntime-node/script/install-metadata.js'),
      'utf8',
    );
    expect(installer).toMatch(/'linux\/x64': \['cuda12'\]/);
    const [major, minor] = version('onnxruntime-node').split('.');
    expect(GPU_IMAGES.inference.stack).toContain(`onnxruntime-node ${major}.${minor} CUDA`);
    expect(GPU_IMAGES.training.stack).toContain(
      `tfjs-node-gpu ${version('@tensorflow/tfjs-node-gpu').replace(/\.0$/, '')}`,
    );
    expect(stageOf('train-deps').find((i) => i.op === 'RUN')!.args).toMatch(/gpu-npm-install\.sh training /);
  });

  it('copies every room the roles import into both targets (all but web/, which only the local kiosk loads)', () => {
    // `kiosk start --role=R` (the images' CMD) runs R's script from cli/commands/start.ts's ROLES.
    const start = readFileSync(join(ROOT, 'cli/commands/start.ts'), 'utf8');
    const script = (role: string) => new RegExp(`'?${role}'?: \\{ script: '([^']+)'`).exec(start)![1]!;
    const rooms = roomsReachedFrom([
      'bin/kiosk.mjs',
      'cli/main.ts',
      'cli/commands/start.ts',
      script('gpu-worker'),
      script('trainer'),
    ]);
    expect(rooms).toContain('workers');
    expect(rooms).toContain('core');
    const needed = [...rooms].filter((r) => r !== 'web' && !r.includes('.')).sort();
    for (const target of ['inference', 'training']) {
      const copied = stageOf(target)
        .filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
        .map((i) => i.args.split(/\s+/)[0]);
      expect(copied, target).toEqual(expect.arrayContaining([...needed, 'models', 'package.json']));
    }
  });

  it('the compute-capability rule: machine code runs within its major version, PTX up to its stated limit', () => {
    const { inference, training } = GPU_IMAGES;
    expect([7.0, 7.5, 8.0, 8.6, 8.9, 9.0].map((cc) => imageDrives(inference, cc))).toEqual([
      false,
      true,
      true,
      true,
      true,
      true,
    ]);
    expect([3.5, 7.0, 7.5, 8.0, 8.6, 8.9, 9.0].map((cc) => imageDrives(training, cc))).toEqual([
      true,
      true,
      true,
      true,
      true,
      false,
      false,
    ]);
    expect(imageDrives(inference, 12.0)).toBe(false); // Blackwell: no sm_100/sm_120 code in ONNX Runtime's build
  });
});

describe('docs/deploy.md: the GPU table', () => {
  it('lists every GPU init offers, with its compute capability and the targets that drive it, as the data says', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'deploy.md'), 'utf8');
    const table = /<!-- gpu-table -->\n([\s\S]*?)<!-- \/gpu-table -->/.exec(doc)![1]!;
    const rows = table
      .trim()
      .split('\n')
      .slice(2)
      .map((l) =>
        l
          .split('|')
          .slice(1, -1)
          .map((c) => c.trim()),
      );
    const listed = new Set<string>();
    for (const [, gke, eks, cc, inference, training] of rows) {
      const names = (
        [
          ['gke', gke],
          ['eks', eks],
        ] as const
      ).filter(([, n]) => n !== '–');
      const types = names.map(([p, n]) => GpuType.of(p, n!));
      expect(new Set(types.map((t) => t.model)).size).toBe(1);
      const gpu = types[0]!;
      names.forEach(([p, n]) => listed.add(`${p}:${n}`));
      expect(gpu.computeCapability.toFixed(1), gpu.model).toBe(cc);
      expect(inference, gpu.model).toBe(
        imageDrives(GPU_IMAGES.inference, gpu.computeCapability) ? 'yes' : 'no',
      );
      expect(training, gpu.model).toBe(
        imageDrives(GPU_IMAGES.training, gpu.computeCapability) ? 'yes' : 'no',
      );
    }
    const offered = (['gke', 'eks'] as const).flatMap((p) => GpuType.choices(p).map((n) => `${p}:${n}`));
    expect([...listed].sort()).toEqual(offered.sort());
  });
});

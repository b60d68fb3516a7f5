// The construct library as a package (issue 20 #6): `npm pack` in constructs/ builds it (prepack: ESM and
// CommonJS JavaScript with .d.ts), and a fresh CommonJS cdktf TypeScript project and a fresh ES module one
// install the tarball, type-check against its typings and synthesize a stack and a chart with it.
// Before the package existed, the library was raw .ts, ESM only: the CommonJS project failed with
// ERR_REQUIRE_ESM. Run by `npm run test:pack` (not `npm test`: it compiles the library twice and two projects).
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { LAB, mainTs, packageJson, PEERS, tsconfig, type ModuleKind } from './consumer.js';

const execFileAsync = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/** Runs a command with npm's own script variables removed (under `npm run`, they would point npm at this repo). */
async function run(cmd: string, args: string[], cwd: string): Promise<string> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  try {
    const { stdout } = await execFileAsync(cmd, args, {
      cwd,
      env: { ...env, NO_COLOR: '1' },
      maxBuffer: 64 << 20,
    });
    return stdout;
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(
      `${cmd} ${args.join(' ')} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`,
    );
  }
}

interface PackResult {
  filename: string;
  files: { path: string }[];
}

/* eslint-disable @typescript-eslint/no-explicit-any -- synthesized Terraform JSON and manifests are untyped */
describe('@cellkiosk/constructs packed', { timeout: 300_000 }, () => {
  let work: string;
  let tarball: string;
  let packed: PackResult;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'kiosk-pack-'));
    const out = await run('npm', ['pack', '--json', '--pack-destination', work], join(root, 'constructs'));
    // prepack's tsc output shares stdout with the JSON; the JSON is the last thing printed.
    packed = (JSON.parse(out.slice(out.lastIndexOf('\n[') + 1)) as PackResult[])[0]!;
    tarball = join(work, packed.filename);
  }, 300_000);
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('holds compiled ESM and CommonJS entry points with typings, no sources or tests', async () => {
    const paths = packed.files.map((f) => f.path);
    for (const entry of [
      'esm/index.js',
      'esm/index.d.ts',
      'cjs/index.js',
      'cjs/index.d.ts',
      'cjs/package.json',
    ])
      expect(paths).toContain(`dist/${entry}`);
    expect(paths.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts'))).toEqual([]);
    expect(paths.filter((p) => /\.test\.|testing\//.test(p))).toEqual([]);
    // Every module is in both builds.
    const esm = paths.filter((p) => p.startsWith('dist/esm/')).map((p) => p.slice('dist/esm/'.length));
    const cjs = paths.filter((p) => p.startsWith('dist/cjs/') && p !== 'dist/cjs/package.json');
    expect(cjs.map((p) => p.slice('dist/cjs/'.length)).sort()).toEqual(esm.sort());
    expect(esm.length).toBeGreaterThan(40);
  });

  it('declares cdktf, constructs, cdk8s and the providers as peers at the versions this repository uses', async () => {
    const lib = JSON.parse(await readFile(join(root, 'constructs', 'package.json'), 'utf8'));
    const repo = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
    expect(lib.dependencies ?? {}).toEqual({});
    expect(Object.keys(lib.peerDependencies).sort()).toEqual([...PEERS].sort());
    for (const peer of PEERS) expect(lib.peerDependencies[peer], peer).toBe(`^${repo.dependencies[peer]}`);
  });

  /**
   * A fresh project in `work`: npm installs the tarball (offline; --legacy-peer-deps so npm does not fetch the
   * peers, 700 MB of providers), then the peers and @types/node are linked from this repository's
   * node_modules, as the lab's own installs would sit there. tsc compiles main.ts, node runs it.
   */
  async function freshProject(kind: ModuleKind): Promise<{ dir: string; report: any }> {
    const dir = join(work, `lab-${kind}`);
    await mkdir(dir);
    await writeFile(join(dir, 'package.json'), packageJson(kind));
    await run(
      'npm',
      ['install', '--offline', '--no-audit', '--no-fund', '--legacy-peer-deps', '--ignore-scripts', tarball],
      dir,
    );
    for (const dep of [...PEERS, '@types/node']) {
      await mkdir(dirname(join(dir, 'node_modules', dep)), { recursive: true });
      await symlink(join(root, 'node_modules', dep), join(dir, 'node_modules', dep), 'dir');
    }
    await writeFile(join(dir, 'tsconfig.json'), tsconfig(kind));
    await writeFile(join(dir, 'main.ts'), mainTs(kind));
    await run(process.execPath, [tsc, '-p', dir], dir);
    const out = await run(process.execPath, ['main.js'], dir);
    return { dir, report: JSON.parse(out.trim().split('\n').at(-1)!) };
  }

  async function expectSynthesized(dir: string): Promise<void> {
    const tf = JSON.parse(await readFile(join(dir, 'cdktf.out', 'stacks', 'lab', 'cdk.tf.json'), 'utf8'));
    const clusters = Object.values(tf.resource.google_container_cluster) as any[];
    expect(clusters.map((c) => [c.name, c.location])).toEqual([[LAB.name, LAB.zone]]);
    const pools = Object.values(tf.resource.google_container_node_pool) as any[];
    expect(pools.map((p) => p.name).sort()).toEqual(['cpu', 'gpu', 'lab']);
    const gpu = pools.find((p) => p.name === 'gpu');
    expect(gpu.node_config.guest_accelerator[0].type).toBe('nvidia-l4');
    expect((Object.values(tf.resource.google_storage_bucket) as any[]).map((b) => b.name)).toEqual([
      LAB.bucket,
    ]);
    expect((Object.values(tf.resource.google_pubsub_topic) as any[]).map((t) => t.name)).toEqual([LAB.topic]);
    expect(tf.output.credentials_command.value).toContain(`get-credentials ${LAB.name} --zone ${LAB.zone}`);
    expect(tf.provider.google[0].project).toBe(LAB.project);

    const files = await readdir(join(dir, 'k8s'));
    expect(files).toHaveLength(1);
    const objects = parseAllDocuments(await readFile(join(dir, 'k8s', files[0]!), 'utf8')).map((d) =>
      d.toJS(),
    ) as any[];
    const names = (kind: string) => objects.filter((o) => o.kind === kind).map((o) => o.metadata.name);
    expect(names('Deployment')).toEqual(
      expect.arrayContaining(['kiosk-api', 'kiosk-cpu-worker', 'kiosk-gpu-worker']),
    );
    expect(names('ConfigMap')).toContain('lab-settings');
    // the intent methods worked from the compiled package
    expect(names('NetworkPolicy')).toContain('lab-allow-monitoring');
    const api = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'kiosk-api');
    expect(api.spec.template.spec.containers.map((c: { name: string }) => c.name)).toContain('lab-shipper');
    const apiAccount = objects.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === 'kiosk-api');
    expect(apiAccount.metadata.annotations['iam.gke.io/gcp-service-account']).toBe(
      `${LAB.name}-api@${LAB.project}.iam.gserviceaccount.com`,
    );
  }

  it('a fresh CommonJS cdktf TypeScript project imports it (main/types → dist/cjs) and synthesizes', async () => {
    const { dir, report } = await freshProject('cjs');
    expect(report).toEqual({
      resolved: join(dir, 'node_modules', '@cellkiosk', 'constructs', 'dist', 'cjs', 'index.js'),
      clusterIsLabConstruct: true,
      chartIsLabChart: true,
    });
    expect(await readFile(join(dir, 'main.js'), 'utf8')).toContain('require("@cellkiosk/constructs")');
    await expectSynthesized(dir);
  });

  it('a fresh ES module project imports it (exports "import" → dist/esm) and synthesizes', async () => {
    const { dir, report } = await freshProject('esm');
    expect(report).toEqual({
      resolved: `file://${join(dir, 'node_modules', '@cellkiosk', 'constructs', 'dist', 'esm', 'index.js')}`,
      clusterIsLabConstruct: true,
      chartIsLabChart: true,
    });
    expect(await readFile(join(dir, 'main.js'), 'utf8')).toContain("from '@cellkiosk/constructs'");
    await expectSynthesized(dir);
  });
});

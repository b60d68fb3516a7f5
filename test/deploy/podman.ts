/**
 * The project's images built and run offline on this machine with Debian's podman (no registry pull, no
 * Docker daemon): a private podman set-up, a Node 20 base image made with debootstrap, a stand-in for the
 * chart's Redis image, and the CPU and GPU images built from the Dockerfiles in docker/.
 * The recipe and the three workarounds this machine needs (ulimits, runc, the CA bundle) are in
 * ../shared/podman-offline.md. Imported by the deploy rehearsal and by test/deploy/images.check.ts.
 *
 * State: podman's store, containers.conf and networks live in one state folder, by default
 * `~/.cache/cellkiosk-deploy` (KIOSK_DEPLOY_STATE overrides), kept between runs so that a second run reuses
 * the base image and the build cache. Nothing under /etc changes. Progress goes to stderr as
 * `[deploy +12.3s] ...` lines, so a CI log shows where the time goes.
 */
import { spawn, execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  appendFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { Readable } from 'node:stream';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Tag of the local base image that stands in for the official `node:20` images. */
export const BASE_IMAGE = 'localhost/node20-bookworm:local';
/** Tags the rehearsal's images get. */
export const CPU_IMAGE = 'localhost/cellkiosk:rehearsal';
export const GPU_IMAGE = 'localhost/cellkiosk-gpu:rehearsal';

const started = performance.now();
/** One progress line on stderr, with the seconds since this module loaded. */
export function progress(message: string): void {
  process.stderr.write(`[deploy +${((performance.now() - started) / 1000).toFixed(1)}s] ${message}\n`);
}

/** Seconds since `t0` (a `performance.now()`), one decimal. */
const since = (t0: number) => Math.round((performance.now() - t0) / 100) / 10;

export interface RunOptions {
  /** The command's stdin: bytes, or a stream piped in (e.g. a tar's stdout). */
  readonly input?: string | Buffer | Readable;
  /** Kill the command after this many ms. @default 10 minutes */
  readonly timeoutMs?: number;
  /** Print each line of the command's output as a progress line with this prefix (builds). */
  readonly echo?: string;
  /** Working directory. */
  readonly cwd?: string;
}

/** A command that failed: its exit code and the end of its stderr are in the message. */
export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    const tail = (text: string) => text.trim().split('\n').slice(-30).join('\n');
    super(
      `${command} failed (exit ${code})` +
        (stderr.trim() ? `:\n${tail(stderr)}` : '') +
        (stdout.trim() ? `\n--- end of its stdout:\n${tail(stdout)}` : ''),
    );
  }
}

/** Runs `file args`, resolving to its stdout; rejects with a CommandError (stderr included) on failure. */
export function runCommand(
  file: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  o: RunOptions = {},
): Promise<string> {
  const shown = `${file} ${args.map((a) => (/^[\w./:=@,+-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')}`;
  return new Promise((res, rej) => {
    const child = spawn(file, args, { env, cwd: o.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const echo = (chunk: Buffer, buf: { s: string }) => {
      if (o.echo === undefined) return;
      buf.s += chunk.toString();
      let at;
      while ((at = buf.s.indexOf('\n')) >= 0) {
        const line = buf.s.slice(0, at).trimEnd();
        buf.s = buf.s.slice(at + 1);
        if (line) progress(`${o.echo}${line}`);
      }
    };
    const outBuf = { s: '' };
    const errBuf = { s: '' };
    child.stdout.on('data', (d: Buffer) => (out.push(d), echo(d, outBuf)));
    child.stderr.on('data', (d: Buffer) => (err.push(d), echo(d, errBuf)));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 600_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      rej(new CommandError(shown, null, '', e.message));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString();
      const stderr = Buffer.concat(err).toString();
      if (code === 0) res(stdout);
      else rej(new CommandError(shown, code ?? (signal ? 128 : null), stdout, stderr));
    });
    child.stdin.on('error', () => undefined); // a command that exits early: its exit code tells
    if (o.input instanceof Readable) o.input.pipe(child.stdin);
    else child.stdin.end(o.input ?? '');
  });
}

export interface Podman {
  /** The state folder: store (`root/`), run root (`run/`), containers.conf, networks, scratch. */
  readonly stateDir: string;
  /** Environment for podman (CONTAINERS_CONF set), for callers that spawn podman themselves. */
  readonly env: NodeJS.ProcessEnv;
  /** Global arguments every podman command needs (`--root`, `--runroot`, ...), before the subcommand. */
  readonly globalArgs: readonly string[];
  /** Runs `podman <globalArgs> <args>`; resolves to stdout, rejects with stderr in the message. */
  run(args: readonly string[], o?: RunOptions): Promise<string>;
  /** Whether an image with this name exists in the private store. */
  imageExists(name: string): Promise<boolean>;
}

/** `ulimit -Hn` of this shell: podman's default ulimits must not exceed it (no CAP_SYS_RESOURCE here). */
function hardNofile(): number {
  const out = execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
  return out === 'unlimited' ? 1_048_576 : Number(out);
}

/**
 * A private podman: containers.conf (named by CONTAINERS_CONF) with ulimits at this shell's hard limit,
 * runc (crun refuses this VM's hybrid cgroups), cgroupfs and a file events log; its store, run root, engine
 * temp dir and network configs under `stateDir`. Default state: `~/.cache/cellkiosk-deploy`, persistent, so
 * a second run reuses the base image and the layer cache (delete the folder to start cold).
 */
export function podmanEnv(
  stateDir = process.env.KIOSK_DEPLOY_STATE ?? join(homedir(), '.cache', 'cellkiosk-deploy'),
): Podman {
  stateDir = resolve(stateDir);
  for (const d of ['root', 'run', 'tmp', 'networks']) mkdirSync(join(stateDir, d), { recursive: true });
  const nofile = hardNofile();
  const conf = join(stateDir, 'containers.conf');
  const text = [
    '# written by test/deploy/podman.ts',
    '[containers]',
    `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=8192:8192"]`,
    '[engine]',
    'runtime = "runc"',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    `events_logfile_path = "${join(stateDir, 'events.log')}"`,
    `tmp_dir = "${join(stateDir, 'tmp')}"`,
    '[network]',
    `network_config_dir = "${join(stateDir, 'networks')}"`,
    '',
  ].join('\n');
  // Several processes may share the state dir: write only a changed file, atomically (rename).
  if (!existsSync(conf) || readFileSync(conf, 'utf8') !== text) {
    const tmp = `${conf}.${process.pid}`;
    writeFileSync(tmp, text);
    renameSync(tmp, conf);
  }
  const env = { ...process.env, CONTAINERS_CONF: conf, TMPDIR: join(stateDir, 'tmp') };
  const globalArgs = ['--root', join(stateDir, 'root'), '--runroot', join(stateDir, 'run')];
  const run = (args: readonly string[], o?: RunOptions) =>
    runCommand('podman', [...globalArgs, ...args], env, o);
  return {
    stateDir,
    env,
    globalArgs,
    run,
    imageExists: (name) =>
      run(['image', 'exists', name]).then(
        () => true,
        (e: unknown) => {
          if (e instanceof CommandError && e.code === 1) return false;
          throw e;
        },
      ),
  };
}

/**
 * The Debian mirror this machine's apt uses for bookworm (one-line `deb URL bookworm ...` entries in
 * /etc/apt/sources.list and sources.list.d/*.list, or deb822 `URIs:` stanzas in *.sources). Read at run time;
 * the address is never written into the repository. KIOSK_DEBIAN_MIRROR overrides.
 */
export function aptMirror(): string {
  if (process.env.KIOSK_DEBIAN_MIRROR) return process.env.KIOSK_DEBIAN_MIRROR;
  const files = ['/etc/apt/sources.list'];
  if (existsSync('/etc/apt/sources.list.d'))
    for (const f of readdirSync('/etc/apt/sources.list.d').sort())
      if (/\.(list|sources)$/.test(f)) files.push(join('/etc/apt/sources.list.d', f));
  for (const f of files) {
    if (!existsSync(f)) continue;
    const text = readFileSync(f, 'utf8');
    if (f.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name: string) =>
          new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza.replace(/^#.*$/gm, ''))?.[1]?.trim() ?? '';
        if (!/\bdeb\b/.test(field('Types')) || /^no$/i.test(field('Enabled'))) continue;
        if (!field('Suites').split(/\s+/).includes('bookworm')) continue;
        const uri = field('URIs').split(/\s+/)[0];
        if (uri) return uri;
      }
    } else {
      for (const line of text.split('\n')) {
        const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/.exec(line);
        if (m?.[1]) return m[1];
      }
    }
  }
  throw new Error(
    `no Debian bookworm mirror found in this machine's apt sources (${files.join(', ')}); ` +
      'set KIOSK_DEBIAN_MIRROR to one',
  );
}

export interface ImageBuild {
  readonly tag: string;
  /** The image's size in bytes (as `podman images` counts it); absent where not built here. */
  readonly bytes?: number;
  /** Seconds this call spent (0 when `reused`). */
  readonly seconds: number;
  /** The image already existed and was kept. */
  readonly reused: boolean;
}

const hostNodeVersion = () => process.version;

/** The label a base image carries: the Node version copied in (a different host Node rebuilds it). */
const BASE_LABEL = 'org.cellkiosk.node-version';

/** Copies `src` (file, symlink or folder) to `dst`, keeping symlinks as they are. */
function copyTree(src: string, dst: string): void {
  const st = lstatSync(src);
  mkdirSync(dirname(dst), { recursive: true });
  if (st.isSymbolicLink()) {
    rmSync(dst, { force: true });
    symlinkSync(readlinkSync(src), dst);
  } else if (st.isDirectory()) {
    mkdirSync(dst, { recursive: true });
    for (const e of readdirSync(src)) copyTree(join(src, e), join(dst, e));
  } else {
    copyFileSync(src, dst);
    chmodSync(dst, st.mode & 0o7777);
  }
}

/** Shared libraries `ldd` lists for a binary (absolute paths). */
function sharedLibs(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  return [...out.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((m) => m[1]!);
}

/**
 * The base image standing in for the official Node images: `debootstrap --variant=minbase bookworm` from
 * this machine's apt mirror, with this machine's Node 20 (`node`, npm, corepack) copied into /usr/local,
 * user and group `node` 1000:1000 with /home/node (as the official image has), and the machine's CA bundle
 * with NODE_EXTRA_CA_CERTS pointing at it (TLS to the npm registry is re-signed on the way here).
 * Imported as `localhost/node20-bookworm:local`; an existing one made from the same Node version is reused.
 */
export async function buildBaseImage(podman: Podman, o: { force?: boolean } = {}): Promise<ImageBuild> {
  const t0 = performance.now();
  if (!o.force && (await podman.imageExists(BASE_IMAGE))) {
    const label = (
      await podman.run(['image', 'inspect', '--format', `{{ index .Labels "${BASE_LABEL}" }}`, BASE_IMAGE])
    ).trim();
    if (label === hostNodeVersion()) {
      progress(`base image ${BASE_IMAGE} (Node ${label}) exists: reused`);
      return { tag: BASE_IMAGE, seconds: 0, reused: true };
    }
    progress(
      `base image ${BASE_IMAGE} has Node ${label || '?'}, this machine ${hostNodeVersion()}: rebuilding`,
    );
  }
  if (!process.version.startsWith('v20.'))
    throw new Error(
      `the base image copies this machine's Node, which must be 20.x; this is ${process.version}`,
    );
  const mirror = aptMirror();
  const work = mkdtempSync(join(podman.stateDir, 'tmp', 'base-'));
  const root = join(work, 'root');
  try {
    progress('base image: debootstrap --variant=minbase bookworm (from the apt mirror this machine uses)');
    await runCommand('debootstrap', ['--variant=minbase', 'bookworm', root, mirror], process.env, {
      timeoutMs: 600_000,
    });
    progress(`base image: debootstrap done in ${since(t0)} s; copying Node ${process.version}`);
    const node = realpathSync(process.execPath);
    copyFileSync(node, join(root, 'usr/local/bin/node'));
    chmodSync(join(root, 'usr/local/bin/node'), 0o755);
    for (const lib of sharedLibs(node)) {
      if (existsSync(join(root, lib))) continue;
      progress(`base image: copying ${lib} (node needs it, minbase lacks it)`);
      copyFileSync(realpathSync(lib), join(root, lib));
    }
    const globalModules = execFileSync('npm', ['root', '-g'], { encoding: 'utf8' }).trim();
    for (const pkg of ['npm', 'corepack'])
      copyTree(join(globalModules, pkg), join(root, 'usr/local/lib/node_modules', pkg));
    for (const [name, target] of [
      ['npm', '../lib/node_modules/npm/bin/npm-cli.js'],
      ['npx', '../lib/node_modules/npm/bin/npx-cli.js'],
      ['corepack', '../lib/node_modules/corepack/dist/corepack.js'],
    ] as const) {
      rmSync(join(root, 'usr/local/bin', name), { force: true });
      symlinkSync(target, join(root, 'usr/local/bin', name));
    }
    appendFileSync(join(root, 'etc/group'), 'node:x:1000:\n');
    appendFileSync(join(root, 'etc/passwd'), 'node:x:1000:1000::/home/node:/bin/bash\n');
    appendFileSync(join(root, 'etc/shadow'), 'node:*:19000:0:99999:7:::\n');
    mkdirSync(join(root, 'home/node'), { recursive: true });
    execFileSync('chown', ['1000:1000', join(root, 'home/node')]);
    mkdirSync(join(root, 'etc/ssl/certs'), { recursive: true });
    copyFileSync('/etc/ssl/certs/ca-certificates.crt', join(root, 'etc/ssl/certs/ca-certificates.crt'));
    rmSync(join(root, 'var/cache/apt/archives'), { recursive: true, force: true });
    mkdirSync(join(root, 'var/cache/apt/archives/partial'), { recursive: true });
    const t1 = performance.now();
    progress('base image: podman import');
    const tar = spawn('tar', ['-C', root, '-c', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const imported = runCommand(
      'podman',
      [
        ...podman.globalArgs,
        'import',
        '--change',
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        '--change',
        'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt',
        '--change',
        `ENV NODE_VERSION=${process.version.slice(1)}`,
        '--change',
        `LABEL ${BASE_LABEL}=${process.version}`,
        '--change',
        'CMD ["node"]',
        '-',
        BASE_IMAGE,
      ],
      podman.env,
      { input: tar.stdout },
    );
    const tarDone = new Promise<void>((res, rej) =>
      tar.once('close', (c) => (c === 0 ? res() : rej(new Error(`tar -c of the base root exited ${c}`)))),
    );
    await Promise.all([imported, tarDone]);
    progress(`base image ${BASE_IMAGE} imported in ${since(t1)} s (whole base ${since(t0)} s)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { tag: BASE_IMAGE, seconds: since(t0), reused: false };
}

/** The chart's Redis image: the default in constructs/k8s/redis.ts (`image: props.image ?? '...'`). */
export function chartRedisImage(): string {
  const source = readFileSync(join(repoRoot, 'constructs', 'k8s', 'redis.ts'), 'utf8');
  const m = /image:\s*props\.image\s*\?\?\s*'([^']+)'/.exec(source);
  if (!m?.[1])
    throw new Error(
      "constructs/k8s/redis.ts: cannot find the default Redis image (image: props.image ?? '...')",
    );
  return m[1];
}

/** `redis:7.4-alpine` → `docker.io/library/redis:7.4-alpine`, the name a registry pull would give it. */
export function qualifiedImageName(name: string): string {
  const first = name.split('/')[0]!;
  const hasRegistry =
    name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasRegistry) return name;
  return `docker.io/${name.includes('/') ? '' : 'library/'}${name}`;
}

const REDIS_LABEL = 'org.cellkiosk.redis-server';

/**
 * A stand-in for the chart's Redis image (nothing can be pulled here): the base image plus this machine's
 * Debian redis-server (the binary and the shared libraries the base lacks), user `redis` uid/gid 999 as
 * the chart's securityContext runs it, /data owned by 999 (a volume), tagged with the chart's image name
 * (read from constructs/k8s/redis.ts, fully qualified: `docker.io/library/redis:7.4-alpine`), so the
 * chart's `command: [redis-server]` and its args run unchanged. Reused when it exists for the same
 * redis-server version.
 */
export async function buildRedisImage(
  podman: Podman,
  o: { image?: string; baseImage?: string; force?: boolean } = {},
): Promise<ImageBuild> {
  const t0 = performance.now();
  const tag = qualifiedImageName(o.image ?? chartRedisImage());
  const baseImage = o.baseImage ?? BASE_IMAGE;
  let binary: string;
  try {
    binary = realpathSync(execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim());
  } catch {
    throw new Error('redis-server is not installed on this machine (apt-get install -y redis-server)');
  }
  const version = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
  if (!o.force && (await podman.imageExists(tag))) {
    const label = (
      await podman.run(['image', 'inspect', '--format', `{{ index .Labels "${REDIS_LABEL}" }}`, tag])
    ).trim();
    if (label === version) {
      progress(`redis stand-in ${tag} exists: reused`);
      return { tag, seconds: 0, reused: true };
    }
  }
  const libs = sharedLibs(binary);
  const missing =
    (await podman.run([
      'run', '--rm', '--network=none', baseImage,
      'sh', '-c', 'for f in "$@"; do [ -e "$f" ] || echo "$f"; done', 'sh', ...libs,
    ])) // prettier-ignore
      .split('\n')
      .filter(Boolean);
  const ctx = mkdtempSync(join(podman.stateDir, 'tmp', 'redis-'));
  try {
    for (const file of [binary, ...missing]) {
      // Debian is usr-merged (/lib -> usr/lib): a COPY into /lib would replace that link with a folder.
      const inImage =
        file === binary
          ? '/usr/local/bin/redis-server'
          : file.replace(/^\/(lib|lib64|bin|sbin)\//, '/usr/$1/');
      const dst = join(ctx, 'rootfs', inImage);
      mkdirSync(dirname(dst), { recursive: true });
      copyFileSync(realpathSync(file), dst);
      chmodSync(dst, 0o755);
    }
    writeFileSync(
      join(ctx, 'Containerfile'),
      [
        `FROM ${baseImage}`,
        'COPY rootfs/ /',
        'RUN (getent group 999 >/dev/null || groupadd --gid 999 redis) \\',
        ' && (getent passwd 999 >/dev/null || useradd --uid 999 --gid 999 --home-dir /data --no-create-home --shell /usr/sbin/nologin redis) \\',
        ' && mkdir -p /data && chown 999:999 /data && redis-server --version',
        `LABEL ${REDIS_LABEL}="${version}"`,
        'VOLUME /data',
        'WORKDIR /data',
        'USER 999:999',
        'EXPOSE 6379',
        'CMD ["redis-server"]',
        '',
      ].join('\n'),
    );
    progress(
      `redis stand-in: building ${tag} (${version.split(' ').slice(0, 3).join(' ')}; ${missing.length} libraries copied)`,
    );
    await podman.run(['build', '--pull=never', '--network=none', '-t', tag, ctx], { timeoutMs: 300_000 });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  progress(`redis stand-in ${tag} built in ${since(t0)} s`);
  return { tag, seconds: since(t0), reused: false };
}

/**
 * The build context as CI's clean clone has it: the files git tracks plus untracked ones it does not ignore
 * (`git ls-files -co --exclude-standard`: the working tree's code, uncommitted changes included, but no
 * node_modules, web/dist or other build output), copied to a new folder under the state dir. With `ref`,
 * that commit's tree instead (`git archive`), e.g. to check the images of an older commit.
 */
export async function exportContext(
  podman: Podman,
  o: { ref?: string } = {},
): Promise<{ dir: string; files: number }> {
  const dir = mkdtempSync(join(podman.stateDir, 'tmp', 'context-'));
  if (o.ref) {
    const tar = spawn('git', ['-C', repoRoot, 'archive', '--format=tar', o.ref], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await runCommand('tar', ['-x', '-C', dir], process.env, { input: tar.stdout });
    const files = (await runCommand('git', ['-C', repoRoot, 'ls-tree', '-r', '--name-only', o.ref]))
      .split('\n')
      .filter(Boolean);
    return { dir, files: files.length };
  }
  const list = (await runCommand('git', ['-C', repoRoot, 'ls-files', '-co', '--exclude-standard', '-z']))
    .split('\0')
    .filter(Boolean);
  let files = 0;
  for (const rel of new Set(list)) {
    const src = join(repoRoot, rel);
    if (!existsSync(src) && !isDanglingLink(src)) continue; // deleted in the working tree
    copyTree(src, join(dir, rel));
    files++;
  }
  return { dir, files };
}

function isDanglingLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

export interface KioskImageBuilds {
  readonly cpu: ImageBuild;
  readonly gpu: ImageBuild;
  /** Files in the build context. */
  readonly contextFiles: number;
}

export interface KioskBuildOptions {
  /** Base standing in for the official Node and CUDA images. @default BASE_IMAGE */
  readonly baseImage?: string;
  /** @default CPU_IMAGE */
  readonly cpuTag?: string;
  /** @default GPU_IMAGE */
  readonly gpuTag?: string;
  /** Build a commit's tree instead of the working tree (see exportContext). */
  readonly ref?: string;
  /** `--no-cache`: a cold build whatever the store holds. */
  readonly noCache?: boolean;
  /** Which images. @default both */
  readonly only?: 'cpu' | 'gpu';
}

const imageBytes = async (podman: Podman, tag: string) =>
  Number((await podman.run(['image', 'inspect', '--format', '{{.Size}}', tag])).trim());

/** One `podman build` with progress lines for its steps (the step lines carry the time since start). */
async function podmanBuild(podman: Podman, name: string, args: readonly string[]): Promise<number> {
  const t0 = performance.now();
  const child = spawn('podman', [...podman.globalArgs, 'build', ...args], {
    env: podman.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let buf = '';
  const onData = (d: Buffer) => {
    buf += d.toString();
    let at;
    while ((at = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, at).trimEnd();
      buf = buf.slice(at + 1);
      lines.push(line);
      if (lines.length > 400) lines.shift();
      if (
        /^((\[\d+\/\d+\] )?STEP \d+\/\d+|--> Using cache|COMMIT|Successfully tagged|Error|error)/.test(line)
      )
        progress(`${name}: ${line.length > 160 ? `${line.slice(0, 157)}...` : line}`);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const code = await new Promise<number | null>((res, rej) => {
    child.once('error', rej);
    child.once('close', res);
  });
  if (code !== 0)
    throw new Error(
      `podman build of the ${name} image failed (exit ${code}); its last lines:\n${lines.slice(-40).join('\n')}`,
    );
  return since(t0);
}

/**
 * Builds the CPU and GPU images from docker/cpu.Dockerfile and docker/gpu.Dockerfile, offline: the context
 * from exportContext, `podman build --pull=never --network=host` (the network only for `npm ci` from the npm
 * registry), the base image for NODE_IMAGE and CUDA_IMAGE, and TFJS_NODE_GPU=0 (no CUDA here, and
 * tfjs-node-gpu's install downloads libtensorflow from outside the npm registry). One build after the
 * other (2 cores here). Resolves to the tags and each build's seconds.
 */
export async function buildKioskImages(podman: Podman, o: KioskBuildOptions = {}): Promise<KioskImageBuilds> {
  const base = o.baseImage ?? BASE_IMAGE;
  if (!(await podman.imageExists(base)))
    throw new Error(`the base image ${base} is missing: run buildBaseImage first`);
  const t0 = performance.now();
  const ctx = await exportContext(podman, o.ref ? { ref: o.ref } : {});
  progress(
    `kiosk images: context of ${ctx.files} files (${o.ref ? `git archive ${o.ref}` : 'git ls-files -co --exclude-standard'}) in ${since(t0)} s`,
  );
  const common = ['--pull=never', '--network=host', '--layers', ...(o.noCache ? ['--no-cache'] : [])];
  const skipped = (tag: string): ImageBuild => ({ tag, seconds: 0, reused: true });
  try {
    const cpuTag = o.cpuTag ?? CPU_IMAGE;
    const gpuTag = o.gpuTag ?? GPU_IMAGE;
    let cpu = skipped(cpuTag);
    let gpu = skipped(gpuTag);
    if (o.only !== 'gpu') {
      progress(`kiosk images: building ${cpuTag} (docker/cpu.Dockerfile)`);
      const seconds = await podmanBuild(podman, 'cpu', [
        ...common, '--build-arg', `NODE_IMAGE=${base}`,
        '-f', join(ctx.dir, 'docker', 'cpu.Dockerfile'), '-t', cpuTag, ctx.dir,
      ]); // prettier-ignore
      const bytes = await imageBytes(podman, cpuTag);
      cpu = { tag: cpuTag, seconds, reused: false, bytes };
      progress(`kiosk images: ${cpuTag} built in ${seconds} s, ${(bytes / 1e9).toFixed(2)} GB`);
    }
    if (o.only !== 'cpu') {
      progress(`kiosk images: building ${gpuTag} (docker/gpu.Dockerfile on the CPU base, TFJS_NODE_GPU=0)`);
      const seconds = await podmanBuild(podman, 'gpu', [
        ...common, '--build-arg', `CUDA_IMAGE=${base}`, '--build-arg', `NODE_IMAGE=${base}`,
        '--build-arg', 'TFJS_NODE_GPU=0',
        '-f', join(ctx.dir, 'docker', 'gpu.Dockerfile'), '-t', gpuTag, ctx.dir,
      ]); // prettier-ignore
      const bytes = await imageBytes(podman, gpuTag);
      gpu = { tag: gpuTag, seconds, reused: false, bytes };
      progress(`kiosk images: ${gpuTag} built in ${seconds} s, ${(bytes / 1e9).toFixed(2)} GB`);
    }
    return { cpu, gpu, contextFiles: ctx.files };
  } finally {
    rmSync(ctx.dir, { recursive: true, force: true });
  }
}

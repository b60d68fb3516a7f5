/**
 * An image's file layout rebuilt from its Dockerfile, without building the image: the final stage's
 * `COPY` instructions from the build context are carried out into a folder standing for /app (honouring the
 * `.dockerignore` beside the Dockerfile in its simple forms), `COPY --from=<stage> /app/node_modules` becomes a
 * link to this checkout's node_modules, and the final stage's `ENV`, `WORKDIR`, `ENTRYPOINT` and `CMD` are
 * returned. Cheap enough for the ordinary tests (test/deploy/images.test.ts), which start the image's roles
 * in such a layout; the real images are built and run by test/deploy/images.check.ts.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { basename, dirname, join, posix, relative, resolve } from 'node:path';

export interface DockerInstruction {
  readonly op: string;
  readonly args: string;
  /** The stage it belongs to: its index, and its `AS` name when it has one. */
  readonly stage: number;
  readonly stageName?: string;
}

/** Instructions of a Dockerfile: comments dropped (also inside continued lines, as Docker does), continuations joined. */
export function parseDockerfile(text: string): DockerInstruction[] {
  const lines = text.split('\n').filter((l) => !/^\s*#/.test(l));
  const joined: string[] = [];
  let current = '';
  for (const raw of lines) {
    const line = raw.replace(/\s+$/, '');
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    if (current.trim()) joined.push(current.trim());
    current = '';
  }
  if (current.trim()) joined.push(current.trim());
  const out: DockerInstruction[] = [];
  let stage = -1;
  let stageName: string | undefined;
  for (const line of joined) {
    const m = /^(\w+)\s+([\s\S]*)$/.exec(line);
    if (!m) throw new Error(`cannot parse Dockerfile line: ${line}`);
    const op = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (op === 'FROM') {
      stage++;
      stageName = /\s+AS\s+(\S+)$/i.exec(args)?.[1];
    }
    out.push({ op, args, stage, ...(stageName ? { stageName } : {}) });
  }
  return out;
}

/** `KEY=value KEY2="v 2"` (the modern ENV form) → pairs. */
function parseEnv(args: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of args.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S*)/g))
    env[m[1]!] = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
  return env;
}

export interface ImageLayout {
  /** The folder standing for the image's WORKDIR (/app). */
  readonly appDir: string;
  readonly workdir: string;
  /** The final stage's ENV. */
  readonly env: Record<string, string>;
  readonly entrypoint: string[];
  readonly cmd: string[];
  /** Context paths the final stage copies (relative to the repository). */
  readonly copied: string[];
  /** `COPY --from` sources that are not node_modules, which this layout does not build (e.g. web/dist). */
  readonly notBuilt: { from: string; src: string; dest: string }[];
}

/** Patterns of a .dockerignore, as predicates on repository-relative paths (`**`, `*`, plain names). */
function ignoreMatcher(file: string): (rel: string) => boolean {
  if (!existsSync(file)) return () => false;
  const patterns = readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const regexes = patterns.map((p) => {
    const re = p
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*\*\//g, '@@ANY_DIRS@@')
      .replace(/\*/g, '[^/]*')
      .replace(/@@ANY_DIRS@@/g, '(?:.*/)?');
    return new RegExp(`^${re}(?:/.*)?$`);
  });
  return (rel) => regexes.some((r) => r.test(rel));
}

/**
 * Lays out the final stage of `dockerfile` (relative to `repoRoot`) under `into` (a new folder standing for
 * the image's root; the WORKDIR becomes `<into><WORKDIR>`).
 */
export function layOutImage(repoRoot: string, dockerfile: string, into: string): ImageLayout {
  const file = resolve(repoRoot, dockerfile);
  const instructions = parseDockerfile(readFileSync(file, 'utf8'));
  const last = Math.max(...instructions.map((i) => i.stage));
  const ignored = ignoreMatcher(join(dirname(file), `${basename(file)}.dockerignore`));
  let workdir = '/';
  const env: Record<string, string> = {};
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  const copied: string[] = [];
  const notBuilt: ImageLayout['notBuilt'] = [];
  for (const ins of instructions.filter((i) => i.stage === last)) {
    if (ins.op === 'WORKDIR') workdir = posix.resolve(workdir, ins.args);
    else if (ins.op === 'ENV') Object.assign(env, parseEnv(ins.args));
    else if (ins.op === 'ENTRYPOINT') entrypoint = JSON.parse(ins.args) as string[];
    else if (ins.op === 'CMD') cmd = JSON.parse(ins.args) as string[];
    else if (ins.op === 'COPY' || ins.op === 'ADD') {
      const words = ins.args.split(/\s+/);
      const flags = words.filter((w) => w.startsWith('--'));
      const paths = words.filter((w) => !w.startsWith('--'));
      const rawDest = paths.pop()!;
      const dest = posix.resolve(workdir, rawDest);
      const toDir = rawDest.endsWith('/') || paths.length > 1;
      const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
      for (const src of paths) {
        if (from) {
          if (posix.basename(src) === 'node_modules') {
            mkdirSync(dirname(join(into, dest)), { recursive: true });
            symlinkSync(join(repoRoot, 'node_modules'), join(into, dest));
          } else notBuilt.push({ from, src, dest });
          continue;
        }
        const abs = join(repoRoot, src);
        const target = toDir ? join(into, dest, basename(src)) : join(into, dest);
        if (!existsSync(abs)) throw new Error(`${dockerfile}: COPY ${src}: no such file in the repository`);
        cpSync(abs, target, {
          recursive: true,
          filter: (s) => {
            const rel = relative(repoRoot, s);
            return rel === '' || !ignored(rel);
          },
        });
        copied.push(src);
      }
    }
  }
  return { appDir: join(into, workdir), workdir, env, entrypoint, cmd, copied, notBuilt };
}

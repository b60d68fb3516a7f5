/**
 * Builds the web UI: bundles web/src/main.ts (with the image decoders it imports from workers/image) into
 * `<outDir>/app.js` with esbuild and copies web/static/* next to it. No network, no framework.
 *
 *   node --import tsx web/build.ts [--out DIR] [--dev]
 *
 * `ensureWebBuilt()` rebuilds only when a source is newer than the bundle (the API can call it at start).
 */
import { copyFile, mkdir, readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const webDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(webDir, '..');
export const DEFAULT_WEB_DIST = join(webDir, 'dist');

export interface WebBuildOptions {
  /** @default web/dist */
  readonly outDir?: string;
  /** Minify the bundle. @default true */
  readonly minify?: boolean;
}

export interface WebBuildResult {
  readonly outDir: string;
  readonly bytes: number;
}

export async function buildWeb(o: WebBuildOptions = {}): Promise<WebBuildResult> {
  const outDir = o.outDir ?? DEFAULT_WEB_DIST;
  await mkdir(outDir, { recursive: true });
  const result = await build({
    entryPoints: [join(webDir, 'src', 'main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    outfile: join(outDir, 'app.js'),
    minify: o.minify ?? true,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'silent',
    absWorkingDir: repoRoot,
    metafile: true,
  });
  for (const f of await readdir(join(webDir, 'static')))
    await copyFile(join(webDir, 'static', f), join(outDir, f));
  const bytes = Object.values(result.metafile.outputs).reduce((n, out) => n + out.bytes, 0);
  return { outDir, bytes };
}

/** Newest modification time (ms) of the files under `dir`, recursively. */
async function newest(dir: string): Promise<number> {
  let t = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? await newest(p) : (await stat(p)).mtimeMs);
  }
  return t;
}

/**
 * Builds into `outDir` when the bundle is missing or older than web/src, web/static or workers/image (the
 * decoders it bundles). Resolves to the folder to serve.
 */
export async function ensureWebBuilt(outDir = DEFAULT_WEB_DIST): Promise<string> {
  const built = await stat(join(outDir, 'app.js')).then(
    (s) => s.mtimeMs,
    () => 0,
  );
  const sources = Math.max(
    ...(await Promise.all(
      [join(webDir, 'src'), join(webDir, 'static'), join(repoRoot, 'workers', 'image')].map(newest),
    )),
  );
  if (built === 0 || sources > built) await buildWeb({ outDir });
  return outDir;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const outAt = args.indexOf('--out');
  const outDir = outAt >= 0 ? resolve(args[outAt + 1] ?? '') : DEFAULT_WEB_DIST;
  buildWeb({ outDir, minify: !args.includes('--dev') }).then(
    (r) => process.stdout.write(`web UI built: ${r.outDir} (${(r.bytes / 1024).toFixed(0)} KiB)\n`),
    (err: unknown) => {
      process.stderr.write(`web build failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}

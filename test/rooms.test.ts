// The project's rooms and which way their imports run (issue 23 #9): `core/` (settings, service wiring, tokens)
// is what every process looks down to; `workers/` and `core/` never import `api/`; the web UI's pages never
// import its router. Test files and their helpers may compose whole systems and are not held to this.
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

async function sources(room: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string): Promise<void> {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && e.name !== 'dist') await walk(p);
      } else if (/\.ts$/.test(e.name) && !/\.test(-helpers)?\.ts$/.test(e.name)) {
        out.push(p);
      }
    }
  }
  await walk(join(ROOT, room));
  return out;
}

/** Each relative import of a file, resolved to a repository path (`api/app.ts`). */
export function importsOf(file: string, text: string): string[] {
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g)];
  return specs.map((m) => relative(ROOT, resolve(dirname(file), m[1]!)).replace(/\.js$/, '.ts'));
}

async function offending(room: string, forbidden: (target: string) => boolean): Promise<string[]> {
  const bad: string[] = [];
  for (const file of await sources(room)) {
    for (const target of importsOf(file, await readFile(file, 'utf8'))) {
      if (forbidden(target)) bad.push(`${relative(ROOT, file)} → ${target}`);
    }
  }
  return bad;
}

describe('rooms: imports run one way', () => {
  it('finds an import that breaks the rule (the checker can fail)', () => {
    const file = join(ROOT, 'workers', 'main.ts');
    expect(
      importsOf(file, "import { x } from '../api/app.js';\nconst y = await import('./a/b.js');"),
    ).toEqual(['api/app.ts', 'workers/a/b.ts']);
  });

  it('workers/ and core/ never import api/', async () => {
    expect(await offending('workers', (t) => t.startsWith('api/'))).toEqual([]);
    expect(await offending('core', (t) => t.startsWith('api/'))).toEqual([]);
  });

  it('core/ imports nothing from the processes above it (api/, cli/, web/)', async () => {
    expect(await offending('core', (t) => /^(api|cli|web)\//.test(t))).toEqual([]);
  });

  it("core/ sits below the processes: no module it reaches (workers' queues, storage, registry) imports core/", async () => {
    // workers/ holds both process entries (workers/main.ts imports core/) and the libraries core/ wires
    // together; the rule is that the libraries never reach back up, so there is no cycle through core/.
    const seen = new Set<string>();
    const queue = (await sources('core')).map((f) => relative(ROOT, f));
    const back: string[] = [];
    while (queue.length) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const t of importsOf(join(ROOT, file), await readFile(join(ROOT, file), 'utf8'))) {
        if (!file.startsWith('core/') && t.startsWith('core/')) back.push(`${file} → ${t}`);
        if (!seen.has(t)) queue.push(t);
      }
    }
    expect(seen.size).toBeGreaterThan(10);
    expect(back).toEqual([]);
  });

  it("the web UI's pages never import its router (web/src/main.ts)", async () => {
    expect(await offending('web/src', (t) => t === 'web/src/main.ts')).toEqual([]);
  });
});

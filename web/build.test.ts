import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildWeb, ensureWebBuilt } from './build.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('web build', () => {
  it('bundles the UI and its static files into the out folder, with no external URL in them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiosk-web-build-'));
    dirs.push(dir);
    const r = await buildWeb({ outDir: dir });
    expect(r.bytes).toBeGreaterThan(10_000);
    const html = await readFile(join(dir, 'index.html'), 'utf8');
    expect(html).toContain('src="app.js"');
    expect(html).toContain('href="style.css"');
    for (const f of ['index.html', 'style.css', 'app.js']) {
      const text = await readFile(join(dir, f), 'utf8');
      // Only XML namespace names may look like URLs (they are never fetched).
      const urls = text.match(/https?:\/\/[^\s"'`)]+/g) ?? [];
      expect(urls.filter((u) => !u.startsWith('http://www.w3.org/'))).toEqual([]);
    }
  });

  it('ensureWebBuilt builds a missing bundle and leaves a fresh one alone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiosk-web-build-'));
    dirs.push(dir);
    await ensureWebBuilt(dir);
    const first = (await stat(join(dir, 'app.js'))).mtimeMs;
    await ensureWebBuilt(dir);
    expect((await stat(join(dir, 'app.js'))).mtimeMs).toBe(first);
  });
});

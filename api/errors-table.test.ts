import { readFile } from 'node:fs/promises';
import { describe, expect, inject, it } from 'vitest';
import { startTestService } from './service-harness.test-helpers.js';
import { ERRORS, errorTableMarkdown } from './errors.js';

/** The rows between the markers of docs/api.md, as the file has them. */
async function docsTable(): Promise<string> {
  const text = await readFile(new URL('../docs/api.md', import.meta.url), 'utf8');
  const m = /<!-- error-table:start -->\n([\s\S]*?)\n<!-- error-table:end -->/.exec(text);
  if (!m) throw new Error('docs/api.md has no <!-- error-table:start/end --> markers');
  return m[1]!;
}

describe('the error-code table (issue 23 #8)', () => {
  it('issue 23 #8: docs/api.md holds the catalog of api/errors.ts as a table, row for row', async () => {
    const table = await docsTable();
    expect(table).toBe(errorTableMarkdown());
    // every code with its status, once, in its own row
    const rows = table.split('\n').slice(2);
    expect(rows).toHaveLength(Object.keys(ERRORS).length);
    for (const [code, e] of Object.entries(ERRORS)) {
      const row = rows.filter((r) => r.startsWith(`| \`${code}\` |`));
      expect(row, code).toHaveLength(1);
      const cells = row[0]!.split(/(?<!\\)\|/).map((c) => c.trim());
      expect(cells.slice(1, 5), code).toEqual([`\`${code}\``, String(e.status), e.doc, e.action]);
    }
  });

  it('issue 23 #8: every code says when it happens and what to do, and its status is an error status', () => {
    for (const [code, e] of Object.entries(ERRORS)) {
      expect(e.doc.length, code).toBeGreaterThan(5);
      expect(e.action.length, code).toBeGreaterThan(5);
      expect(e.status >= 400 && e.status < 600, code).toBe(true);
    }
  });

  it("issue 23 #8: the API's /docs description shows the same table instead of one paragraph", async () => {
    const svc = await startTestService(inject('redisUrl'), { pools: false });
    try {
      const spec = (await svc.app.inject({ method: 'GET', url: '/docs/json' })).json() as {
        info: { description: string };
      };
      expect(spec.info.description).toContain(errorTableMarkdown());
      expect(spec.info.description).not.toMatch(/bad-request \(400\): /);
    } finally {
      await svc.close();
    }
  });
});

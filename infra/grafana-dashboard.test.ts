import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * The committed Grafana dashboard (issue 20 #2) asks for metrics the kiosk really exports, by the labels they
 * really have: a renamed metric or label in workers/metrics or api/metrics.ts fails here instead of leaving an
 * empty panel.
 */
const read = (p: string) => readFileSync(new URL(p, import.meta.url), 'utf8');
const dashboard = JSON.parse(read('../monitoring/grafana/cellkiosk.json')) as {
  panels: { title: string; targets: { expr: string }[] }[];
};
const sources = read('../workers/metrics/kiosk-metrics.ts') + read('../api/metrics.ts');

/** The label names a metric is registered with, or undefined when no metric of that name is registered. */
function labelsOf(metric: string): string[] | undefined {
  const m = new RegExp(`name: '${metric}',[\\s\\S]*?labelNames: \\[([^\\]]*)\\]`).exec(sources);
  if (!m) return sources.includes(`name: '${metric}'`) ? [] : undefined;
  return [...m[1]!.matchAll(/'([^']+)'/g)].map((x) => x[1]!);
}

describe('monitoring/grafana/cellkiosk.json', () => {
  const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })));

  it('has the panels the issue asks for', () => {
    const titles = dashboard.panels.map((p) => p.title);
    for (const t of ['Queue depth', 'Worker replicas per pool', 'Stage time p50 / p95', 'GPU utilisation']) {
      expect(titles).toContain(t);
    }
  });

  it.each(exprs)('$panel: every kiosk metric and label in "$expr" is one the kiosk exports', ({ expr }) => {
    const metrics = [...expr.matchAll(/\bkiosk_[a-z_]+/g)].map((m) =>
      m[0].replace(/_(bucket|sum|count)$/, ''),
    );
    for (const metric of metrics) {
      const labels = labelsOf(metric);
      expect(labels, `${metric} is not registered in workers/metrics or api/metrics.ts`).toBeDefined();
      const used = [
        ...[...expr.matchAll(/by \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((s) => s.trim())),
        ...[...expr.matchAll(/\{([^}]*)\}/g)].flatMap((m) =>
          [...m[1]!.matchAll(/(\w+)\s*=~?/g)].map((x) => x[1]!),
        ),
      ].filter((l) => l !== 'le');
      for (const l of used) expect(labels, `${metric} has no label '${l}'`).toContain(l);
    }
  });

  it('the check above fails on a metric or label the kiosk does not export', () => {
    expect(labelsOf('kiosk_queue_jobs')).toEqual(['queue', 'state']);
    expect(labelsOf('kiosk_queue_depth')).toBeUndefined();
  });
});

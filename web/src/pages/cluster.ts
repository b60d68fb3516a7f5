/**
 * Cluster: queue depth per queue, workers per pool, throughput, and the autoscaler's recent decisions, read
 * from GET /metrics (Prometheus text, every 5 s) and GET /v1/autoscaler/decisions when the kiosk has it.
 * Anything the kiosk does not report is shown as "not available", never guessed.
 */
import { getJson } from '../api.js';
import { h, replace } from '../dom.js';
import { byLabel, parsePrometheus, ratePerMinute, select, type Metrics } from '../lib/prometheus.js';
import type { Page } from '../main.js';

const STATES = ['waiting', 'prioritized', 'delayed', 'waiting-children', 'active', 'completed', 'failed'];
const POLL_MS = 5000;

/** One decision as the autoscaler logs it (workers/autoscaler/loop.ts decisionLine). */
interface Decision {
  readonly time: string;
  readonly pool: string;
  readonly action: string;
  readonly current: number;
  readonly desired: number;
  readonly actual?: number;
  readonly readyWork?: number;
  readonly reasons?: readonly string[];
}

const na = () => h('span', { class: 'muted' }, 'not available');
const num = (v: number | undefined, digits = 0) =>
  v === undefined || !Number.isFinite(v) ? na() : v.toFixed(digits);

function queueTable(m: Metrics): HTMLElement {
  const queues = [...new Set(select(m, 'kiosk_queue_jobs').map((s) => s.labels.queue!))].sort();
  if (queues.length === 0) return h('p', {}, na(), ' — /metrics has no kiosk_queue_jobs.');
  return h(
    'table',
    { 'aria-label': 'Jobs per queue and state' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Queue'), ...STATES.map((s) => h('th', { class: 'num' }, s)))),
    h(
      'tbody',
      {},
      ...queues.map((q) =>
        h(
          'tr',
          { 'data-queue': q },
          h('th', { scope: 'row' }, q),
          ...STATES.map((s) =>
            h('td', { class: 'num' }, num(select(m, 'kiosk_queue_jobs', { queue: q, state: s })[0]?.value)),
          ),
        ),
      ),
    ),
  );
}

function poolTable(m: Metrics): HTMLElement {
  const desired = byLabel(m, 'kiosk_autoscaler_replicas', 'pool', { kind: 'desired' });
  const actual = byLabel(m, 'kiosk_autoscaler_replicas', 'pool', { kind: 'actual' });
  const work = byLabel(m, 'kiosk_autoscaler_work', 'pool');
  const pools = [...new Set([...desired.keys(), ...actual.keys(), 'cpu', 'gpu'])].sort();
  return h(
    'table',
    { 'aria-label': 'Workers per pool' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['Pool', 'Workers now', 'Wanted by the autoscaler', 'Work counted'].map((t) => h('th', {}, t)),
      ),
    ),
    h(
      'tbody',
      {},
      ...pools.map((p) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, p),
          h('td', {}, num(actual.get(p))),
          h('td', {}, num(desired.get(p))),
          h('td', {}, num(work.get(p))),
        ),
      ),
    ),
  );
}

function throughputTable(prev: { m: Metrics; t: number } | undefined, m: Metrics, t: number): HTMLElement {
  const completed = (x: Metrics) => {
    const stage = byLabel(x, 'kiosk_stage_jobs_total', 'stage', { outcome: 'completed' });
    return stage.size ? stage : byLabel(x, 'kiosk_queue_jobs', 'queue', { state: 'completed' });
  };
  const now = completed(m);
  if (now.size === 0) return h('p', {}, na());
  const rates = prev
    ? ratePerMinute(completed(prev.m), now, (t - prev.t) / 1000)
    : new Map<string, number | undefined>();
  const sum = byLabel(m, 'kiosk_stage_duration_seconds_sum', 'stage', { outcome: 'completed' });
  const count = byLabel(m, 'kiosk_stage_duration_seconds_count', 'stage', { outcome: 'completed' });
  return h(
    'table',
    { 'aria-label': 'Throughput per stage' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['Stage', 'Finished (total)', 'Per minute (last 5 s)', 'Mean time'].map((x) => h('th', {}, x)),
      ),
    ),
    h(
      'tbody',
      {},
      ...[...now].map(([k, v]) => {
        const mean = count.get(k) ? (sum.get(k) ?? 0) / count.get(k)! : undefined;
        return h(
          'tr',
          {},
          h('th', { scope: 'row' }, k),
          h('td', { class: 'num' }, v),
          h(
            'td',
            { class: 'num' },
            prev ? num(rates.get(k), 1) : h('span', { class: 'muted' }, 'measuring…'),
          ),
          h('td', { class: 'num' }, mean === undefined ? na() : `${mean.toFixed(2)} s`),
        );
      }),
    ),
  );
}

function decisionsView(decisions: Decision[] | undefined, m: Metrics): HTMLElement {
  const counts = select(m, 'kiosk_autoscaler_decisions_total');
  const summary = counts.length
    ? h(
        'p',
        { class: 'muted' },
        'Decisions so far: ',
        counts.map((s) => `${s.labels.pool} ${s.labels.action} ${s.value}`).join(' · '),
      )
    : null;
  if (!decisions)
    return h(
      'div',
      {},
      summary,
      h(
        'p',
        {},
        na(),
        ' — this kiosk does not publish its decision log (the autoscaler writes it to its own output).',
      ),
    );
  if (decisions.length === 0) return h('div', {}, summary, h('p', { class: 'muted' }, 'No decisions yet.'));
  return h(
    'div',
    {},
    summary,
    h(
      'table',
      { 'aria-label': 'Recent autoscaler decisions' },
      h(
        'thead',
        {},
        h('tr', {}, ...['Time', 'Pool', 'Action', 'Replicas', 'Why'].map((x) => h('th', {}, x))),
      ),
      h(
        'tbody',
        {},
        ...decisions
          .slice(-20)
          .reverse()
          .map((d) =>
            h(
              'tr',
              {},
              h('td', {}, new Date(d.time).toLocaleTimeString()),
              h('td', {}, d.pool),
              h('td', {}, d.action),
              h('td', {}, `${d.current} → ${d.desired}`),
              h('td', {}, (d.reasons ?? []).join('; ')),
            ),
          ),
      ),
    ),
  );
}

export const mountCluster: Page = (root) => {
  const queues = h('div', {}, 'Loading…');
  const pools = h('div');
  const throughput = h('div');
  const decisions = h('div');
  const status = h('p', { class: 'muted', role: 'status' });
  root.append(
    h('h1', {}, 'Cluster'),
    status,
    h('section', { class: 'panel' }, h('h2', {}, 'Queue depth'), queues),
    h(
      'div',
      { class: 'cols', style: 'grid-template-columns:1fr 1fr' },
      h('section', { class: 'panel' }, h('h2', {}, 'Workers per pool'), pools),
      h('section', { class: 'panel' }, h('h2', {}, 'Throughput'), throughput),
    ),
    h('section', { class: 'panel' }, h('h2', {}, 'Autoscaler decisions'), decisions),
  );
  let prev: { m: Metrics; t: number } | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let alive = true;
  const tick = async () => {
    try {
      const res = await fetch('/metrics');
      if (!res.ok) throw new Error(`GET /metrics: ${res.status}`);
      const m = parsePrometheus(await res.text());
      const t = Date.now();
      const log = await getJson<{ decisions: Decision[] }>('/v1/autoscaler/decisions').then(
        (r) => r.decisions,
        () => undefined,
      );
      if (!alive) return;
      replace(queues, queueTable(m));
      replace(pools, poolTable(m));
      replace(throughput, throughputTable(prev, m, t));
      replace(decisions, decisionsView(log, m));
      status.textContent = `Updated ${new Date(t).toLocaleTimeString()} (every ${POLL_MS / 1000} s)`;
      prev = { m, t };
    } catch (err) {
      status.textContent = `Metrics not available: ${(err as Error).message}`;
    }
    if (alive) timer = setTimeout(() => void tick(), POLL_MS);
  };
  void tick();
  return () => {
    alive = false;
    clearTimeout(timer);
  };
};

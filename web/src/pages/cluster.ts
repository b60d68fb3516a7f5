/**
 * Cluster: queue depth per queue, workers per pool, throughput, and the autoscaler's recent decisions with
 * their inputs, read from GET /metrics (Prometheus text, every 5 s) and GET /v1/autoscaler/decisions (what
 * the autoscaler published: replicas per pool, decisions, worker process events).
 * Anything the kiosk does not report is shown as "not available", never guessed.
 */
import { getJson } from '../api.js';
import { h, replace } from '../dom.js';
import { byLabel, parsePrometheus, ratePerMinute, select, type Metrics } from '../lib/prometheus.js';
import type { Page } from '../page.js';
import type {
  PoolState,
  PublishedDecision,
  PublishedWorkerEvent,
} from '../../../workers/autoscaler/decision-store.js';

const STATES = ['waiting', 'prioritized', 'delayed', 'waiting-children', 'active', 'completed', 'failed'];
const POLL_MS = 5000;

/** As the autoscaler publishes them (types only: nothing of the server is bundled). */
type Decision = PublishedDecision;
type PoolReport = PoolState;
type WorkerEvent = PublishedWorkerEvent;

/** GET /v1/autoscaler/decisions (api/routes/v1-cluster.ts). */
interface Report {
  readonly running: boolean;
  readonly driver?: string;
  readonly updatedAt?: string;
  readonly pools: readonly PoolReport[];
  readonly decisions: readonly Decision[];
  readonly workerEvents: readonly WorkerEvent[];
}

const POOL_TITLE: Record<string, string> = {
  cpu: 'cpu (pre/post-processing)',
  gpu: 'gpu (inference, training)',
};

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

function poolTable(m: Metrics, report: Report | undefined): HTMLElement {
  const live = report?.running ? report.pools : [];
  const fromReport = new Map(live.map((p) => [p.pool, p]));
  const desired = byLabel(m, 'kiosk_autoscaler_replicas', 'pool', { kind: 'desired' });
  const actual = byLabel(m, 'kiosk_autoscaler_replicas', 'pool', { kind: 'actual' });
  const work = byLabel(m, 'kiosk_autoscaler_work', 'pool');
  const pools = [
    ...new Set([...fromReport.keys(), ...desired.keys(), ...actual.keys(), 'cpu', 'gpu']),
  ].sort();
  return h(
    'div',
    {},
    h(
      'table',
      { 'aria-label': 'Workers per pool' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Pool', 'Workers now', 'Wanted by the autoscaler', 'Limits', 'Work counted'].map((t) =>
            h('th', {}, t),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        ...pools.map((p) => {
          const r = fromReport.get(p);
          return h(
            'tr',
            { 'data-pool': p },
            h('th', { scope: 'row' }, POOL_TITLE[p] ?? p),
            h('td', { class: 'num', 'data-field': 'actual' }, num(r?.actual ?? actual.get(p))),
            h('td', { class: 'num', 'data-field': 'desired' }, num(r?.desired ?? desired.get(p))),
            h('td', { class: 'num' }, r ? `${r.min}..${r.max}` : na()),
            h('td', { class: 'num' }, num(r?.work ?? work.get(p))),
          );
        }),
      ),
    ),
    report?.running
      ? h(
          'p',
          { class: 'muted' },
          `Autoscaler (${report.driver ?? '?'} driver) last decided at ${new Date(report.updatedAt ?? '').toLocaleTimeString()}. `,
          ...live.map((p) => `${p.pool}: ${(p.last.reasons ?? []).at(-1) ?? ''}. `),
        )
      : h('p', { class: 'muted' }, 'No autoscaler has reported recently.'),
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

/** `predict 3 waiting, 1 active; preprocess 2 waiting` — the non-zero counts a decision read. */
function inputsText(d: Decision): string {
  const parts = Object.entries(d.counts ?? {}).map(([q, c]) => {
    const nz = Object.entries(c)
      .filter(([, v]) => (v ?? 0) > 0)
      .map(([k, v]) => `${v} ${k === 'waitingChildren' ? 'waiting-children' : k}`);
    return `${q} ${nz.length ? nz.join(', ') : 'empty'}`;
  });
  return parts.join('; ');
}

function eventText(e: WorkerEvent): string {
  const who = `${e.pool} worker ${e.pid ?? ''}`.trim();
  if (e.event === 'worker-start') return `${who} started`;
  if (e.event === 'worker-drain') return `${who} asked to stop (finishes its jobs first)`;
  if (e.event === 'worker-backoff')
    return `${e.pool} workers keep dying at start-up: waiting before the next try`;
  const how = e.signal ? `signal ${e.signal}` : `code ${e.code}`;
  return e.unexpected ? `${who} died (${how}) — the autoscaler replaces it` : `${who} stopped (${how})`;
}

function decisionsView(report: Report | undefined, m: Metrics): HTMLElement {
  const counts = select(m, 'kiosk_autoscaler_decisions_total');
  const summary = counts.length
    ? h(
        'p',
        { class: 'muted' },
        'Decisions so far: ',
        counts.map((s) => `${s.labels.pool} ${s.labels.action} ${s.value}`).join(' · '),
      )
    : null;
  if (!report)
    return h(
      'div',
      {},
      summary,
      h(
        'p',
        {},
        na(),
        ' — this kiosk does not publish its decision log (GET /v1/autoscaler/decisions failed).',
      ),
    );
  const events = report.workerEvents.slice(-10).reverse();
  const eventList = events.length
    ? h(
        'div',
        {},
        h('h3', {}, 'Worker processes'),
        h(
          'ul',
          { 'aria-label': 'Recent worker events' },
          ...events.map((e) =>
            h(
              'li',
              { 'data-event': e.event, ...(e.unexpected ? { class: 'error' } : {}) },
              `${new Date(e.time).toLocaleTimeString()} ${eventText(e)}`,
            ),
          ),
        ),
      )
    : null;
  if (report.decisions.length === 0)
    return h('div', {}, summary, h('p', { class: 'muted' }, 'No decisions yet.'), eventList);
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
        h(
          'tr',
          {},
          ...['Time', 'Pool', 'Action', 'Replicas', 'Work', 'Queues read', 'Why'].map((x) => h('th', {}, x)),
        ),
      ),
      h(
        'tbody',
        {},
        ...report.decisions
          .slice(-20)
          .reverse()
          .map((d) =>
            h(
              'tr',
              { 'data-action': d.action, 'data-pool': d.pool },
              h('td', {}, new Date(d.time).toLocaleTimeString()),
              h('td', {}, d.pool),
              h('td', {}, d.action),
              h(
                'td',
                { class: 'num' },
                `${d.current} → ${d.desired}`,
                d.actual !== undefined && d.actual !== d.desired ? ` (${d.actual} up)` : '',
              ),
              h(
                'td',
                { class: 'num' },
                d.readyWork === undefined
                  ? ''
                  : `${d.readyWork}${d.futureWork ? ` + ${d.futureWork} upstream` : ''}`,
              ),
              h('td', {}, inputsText(d)),
              h('td', {}, (d.reasons ?? []).join('; ')),
            ),
          ),
      ),
    ),
    eventList,
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
      const report = await getJson<Report>('/v1/autoscaler/decisions').catch(() => undefined);
      if (!alive) return;
      replace(queues, queueTable(m));
      replace(pools, poolTable(m, report));
      replace(throughput, throughputTable(prev, m, t));
      replace(decisions, decisionsView(report, m));
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

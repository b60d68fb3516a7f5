/**
 * Reading the kiosk's Prometheus text exposition (GET /metrics) for the Cluster page. Pure.
 * Supports the text format 0.0.4 as prom-client writes it: `# HELP`/`# TYPE` comments, samples
 * `name{label="value",...} number [timestamp]`, escaped `\\`, `\"` and `\n` in label values, and
 * `NaN`/`+Inf`/`-Inf`. Lines that do not parse are skipped (counted in `skipped`).
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Metrics {
  readonly samples: readonly Sample[];
  readonly skipped: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?\s*$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/y;

function parseValue(s: string): number | undefined {
  if (s === 'NaN') return Number.NaN;
  if (s === '+Inf' || s === 'Inf') return Number.POSITIVE_INFINITY;
  if (s === '-Inf') return Number.NEGATIVE_INFINITY;
  const v = Number(s);
  return s !== '' && !Number.isNaN(v) ? v : undefined;
}

function parseLabels(body: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < body.length) {
    const start = LABEL.lastIndex;
    const m = LABEL.exec(body);
    if (!m) return body.slice(start).trim() === '' ? out : undefined;
    out[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return out;
}

export function parsePrometheus(text: string): Metrics {
  const samples: Sample[] = [];
  let skipped = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    const labels = m ? parseLabels(m[3] ?? '') : undefined;
    const value = m ? parseValue(m[4]!) : undefined;
    if (!m || !labels || value === undefined) {
      skipped++;
      continue;
    }
    samples.push({ name: m[1]!, labels, value });
  }
  return { samples, skipped };
}

/** Samples of one metric whose labels include every pair of `match`. */
export function select(m: Metrics, name: string, match: Readonly<Record<string, string>> = {}): Sample[] {
  return m.samples.filter(
    (s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v),
  );
}

/** value by the given label (e.g. `queue`) of one metric; later samples of the same key add up. */
export function byLabel(
  m: Metrics,
  name: string,
  label: string,
  match: Readonly<Record<string, string>> = {},
): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of select(m, name, match)) {
    const k = s.labels[label];
    if (k !== undefined) out.set(k, (out.get(k) ?? 0) + s.value);
  }
  return out;
}

/**
 * Rate per minute of a count between two scrapes `dtS` seconds apart, per key. A key missing from either
 * scrape, a non-positive interval or a count that went down (a restart, or finished jobs aged out) gives
 * undefined rather than a negative or made-up rate.
 */
export function ratePerMinute(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
  dtS: number,
): Map<string, number | undefined> {
  const out = new Map<string, number | undefined>();
  for (const [k, v] of after) {
    const b = before.get(k);
    out.set(k, b === undefined || !(dtS > 0) || v < b ? undefined : ((v - b) / dtS) * 60);
  }
  return out;
}

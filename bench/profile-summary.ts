/**
 * Summarizes a V8 CPU profile (`node --cpu-prof`, or service.bench.ts --profile DIR): self and inclusive
 * time per function, as a share of the samples. With --window FILE (`{startUs, endUs}` or a list of them;
 * service.bench.ts writes DIR/window.json) only the samples taken in those spans count, not start-up or
 * warm-up.
 *
 *   node --import tsx bench/profile-summary.ts DIR/CPU.<...>.cpuprofile [--window DIR/window.json] [--top 40]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { window: { type: 'string' }, top: { type: 'string', default: '40' } },
});
if (positionals.length !== 1) {
  console.error('usage: profile-summary.ts FILE.cpuprofile [--window window.json] [--top N]');
  process.exit(2);
}
const p = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as Profile;
type Span = { startUs: number; endUs: number };
// one span, or several (service.bench.ts: one per measured pass)
const spans: Span[] | undefined = values.window
  ? [JSON.parse(readFileSync(values.window, 'utf8')) as Span | Span[]].flat()
  : undefined;
const inWindow = (us: number) => !spans || spans.some((w) => us >= w.startUs && us <= w.endUs);
const top = Number(values.top);

const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const timeOf = new Map<number, number>(); // node id → µs sampled in it
let ts = p.startTime;
p.samples.forEach((id, i) => {
  const dt = p.timeDeltas[i] ?? 0;
  ts += dt;
  if (!inWindow(ts)) return;
  timeOf.set(id, (timeOf.get(id) ?? 0) + dt);
});
const total = [...timeOf.values()].reduce((a, b) => a + b, 0);
const label = (n: ProfileNode) =>
  `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/.*node_modules\//, '').replace(`file://${process.cwd()}/`, '')}:${n.callFrame.lineNumber + 1}`;
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, t] of timeOf) {
  const k = label(byId.get(id)!);
  self.set(k, (self.get(k) ?? 0) + t);
  const seen = new Set<string>(); // a recursive function counts once per sample
  for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
    const name = label(byId.get(x)!);
    if (seen.has(name)) continue;
    seen.add(name);
    inclusive.set(name, (inclusive.get(name) ?? 0) + t);
  }
}
console.log(`${(total / 1000).toFixed(0)} ms sampled${spans ? ' in the measured window' : ''}`);
for (const [title, m] of [
  ['self', self],
  ['inclusive', inclusive],
] as const) {
  console.log(`--- ${title}`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`);
}

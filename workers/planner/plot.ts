/**
 * A small SVG line chart with log-log axes, two panels side by side (time and cost versus batch size, one
 * line per GPU limit — the layout of the DeepCell Kiosk paper's Figure 2). No dependencies; the output is
 * a standalone SVG 1.1 document.
 */

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

export interface Panel {
  readonly title: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** Extra marked points (e.g. a published reference), drawn as labelled stars. */
  readonly marks?: readonly { readonly x: number; readonly y: number; readonly label: string }[];
}

export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly panels: readonly Panel[];
  /** Lines under the chart (assumptions, sources). */
  readonly notes?: readonly string[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const PW = 440;
const PH = 300;
const M = { left: 70, right: 20, top: 60, bottom: 60 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Decades covering [lo, hi] (both > 0). */
function decades(lo: number, hi: number): [number, number] {
  const a = Math.floor(Math.log10(lo) + 1e-9);
  const b = Math.ceil(Math.log10(hi) - 1e-9);
  return [a, b > a ? b : a + 1];
}

function tickLabel(e: number): string {
  const v = 10 ** e;
  if (e >= 6) return `10^${e}`;
  if (e >= 0) return v.toLocaleString('en-US');
  return String(Number(v.toPrecision(1)));
}

function panelSvg(p: Panel, xLabel: string, x0: number, xRange: [number, number]): string {
  const ys = p.series
    .flatMap((s) => s.points.map(([, y]) => y))
    .concat((p.marks ?? []).map((m) => m.y))
    .filter((y) => y > 0);
  if (ys.length === 0) throw new RangeError(`panel '${p.title}' has no positive y values to plot`);
  const [ylo, yhi] = decades(Math.min(...ys), Math.max(...ys));
  const [xlo, xhi] = xRange;
  const sx = (x: number) => x0 + M.left + ((Math.log10(x) - xlo) / (xhi - xlo)) * PW;
  const sy = (y: number) => M.top + PH - ((Math.log10(y) - ylo) / (yhi - ylo)) * PH;
  const out: string[] = [];
  out.push(
    `<text x="${x0 + M.left + PW / 2}" y="${M.top - 12}" text-anchor="middle" font-size="15" font-weight="bold">${esc(p.title)}</text>`,
  );
  out.push(`<rect x="${x0 + M.left}" y="${M.top}" width="${PW}" height="${PH}" fill="none" stroke="#333"/>`);
  for (let e = xlo; e <= xhi; e++) {
    const x = sx(10 ** e);
    out.push(`<line x1="${x}" y1="${M.top}" x2="${x}" y2="${M.top + PH}" stroke="#ddd"/>`);
    out.push(
      `<text x="${x}" y="${M.top + PH + 18}" text-anchor="middle" font-size="12">${tickLabel(e)}</text>`,
    );
  }
  for (let e = ylo; e <= yhi; e++) {
    const y = sy(10 ** e);
    out.push(`<line x1="${x0 + M.left}" y1="${y}" x2="${x0 + M.left + PW}" y2="${y}" stroke="#ddd"/>`);
    out.push(
      `<text x="${x0 + M.left - 6}" y="${y + 4}" text-anchor="end" font-size="12">${tickLabel(e)}</text>`,
    );
  }
  out.push(
    `<text x="${x0 + M.left + PW / 2}" y="${M.top + PH + 40}" text-anchor="middle" font-size="13">${esc(xLabel)}</text>`,
  );
  const cy = M.top + PH / 2;
  out.push(
    `<text x="${x0 + 18}" y="${cy}" text-anchor="middle" font-size="13" transform="rotate(-90 ${x0 + 18} ${cy})">${esc(p.yLabel)}</text>`,
  );
  p.series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length]!;
    const pts = s.points.filter(([x, y]) => x > 0 && y > 0);
    out.push(
      `<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>`,
    );
    for (const [x, y] of pts)
      out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3.5" fill="${c}"/>`);
    const ly = M.top + 16 + i * 18;
    out.push(
      `<line x1="${x0 + M.left + 10}" y1="${ly - 4}" x2="${x0 + M.left + 30}" y2="${ly - 4}" stroke="${c}" stroke-width="2"/>`,
    );
    out.push(`<text x="${x0 + M.left + 36}" y="${ly}" font-size="12">${esc(s.name)}</text>`);
  });
  for (const m of p.marks ?? []) {
    const x = sx(m.x);
    const y = sy(m.y);
    out.push(
      `<path d="M${x},${y - 8} L${x + 2.4},${y - 2.5} L${x + 8},${y - 2.5} L${x + 3.5},${y + 1.5} L${x + 5},${y + 7.5} L${x},${y + 4} L${x - 5},${y + 7.5} L${x - 3.5},${y + 1.5} L${x - 8},${y - 2.5} L${x - 2.4},${y - 2.5} Z" fill="#000"/>`,
    );
    out.push(`<text x="${x - 10}" y="${y - 10}" text-anchor="end" font-size="11">${esc(m.label)}</text>`);
  }
  return out.join('\n');
}

/** Splits a note into lines of at most `width` characters at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** Renders the chart; x values of all panels share one log axis. */
export function lineChartSvg(o: ChartOptions): string {
  const xs = o.panels.flatMap((p) => p.series.flatMap((s) => s.points.map(([x]) => x))).filter((x) => x > 0);
  if (xs.length === 0) throw new RangeError('the chart has no positive x values to plot');
  const xRange = decades(Math.min(...xs), Math.max(...xs));
  const pw = M.left + PW + M.right;
  const notes = (o.notes ?? []).flatMap((n) => wrap(n, 150));
  const width = pw * o.panels.length;
  const height = M.top + PH + M.bottom + 14 * notes.length + 10;
  const parts = o.panels.map((p, i) => panelSvg(p, o.xLabel, i * pw, xRange));
  const noteLines = notes.map(
    (n, i) =>
      `<text x="12" y="${M.top + PH + M.bottom + 4 + i * 14}" font-size="11" fill="#444">${esc(n)}</text>`,
  );
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="16">${esc(o.title)}</text>`,
    ...parts,
    ...noteLines,
    `</svg>`,
    '',
  ].join('\n');
}

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { command } from '../../cli/commands/plan.js';
import { UsageError } from '../../cli/command.js';
import {
  CostsFormatError,
  DEFAULT_COSTS_FILE,
  loadStageCosts,
  parseStageCosts,
  withSpeedup,
} from './costs.js';
import { fitLine } from './measure.js';
import { formatDuration, planRun } from './plan.js';
import { lineChartSvg } from './plot.js';
import { choosePrices, PRICE_TABLE } from './prices.js';

const valid = {
  format: 'cellkiosk-stage-costs/1',
  measured: { at: '2026-11-25T00:00:00Z', by: 'hand' },
  stages: [
    { queue: 'preprocess', pool: 'cpu', secondsPerImage: 0.1, secondsPerMegapixel: 0.2 },
    { queue: 'predict', pool: 'gpu', secondsPerImage: 0, secondsPerMegapixel: 1 },
    { queue: 'postprocess', pool: 'cpu', secondsPerImage: 0.1, secondsPerMegapixel: 0.3 },
  ],
  workerStartupSeconds: { cpu: 2, gpu: 3 },
};

describe('stage-cost files', () => {
  it('the shipped default costs are valid and say where they came from', async () => {
    const c = await loadStageCosts(DEFAULT_COSTS_FILE);
    expect(c.stages.map((s) => [s.queue, s.pool])).toEqual([
      ['preprocess', 'cpu'],
      ['predict', 'gpu'],
      ['postprocess', 'cpu'],
    ]);
    expect(c.measured.by).toMatch(/kiosk plan --measure/);
    expect(c.measured.notes).toMatch(/CPU/);
  });

  it.each([
    [{ ...valid, format: 'x' }, /'format' must be "cellkiosk-stage-costs\/1"; got "x"/],
    [{ ...valid, measured: {} }, /'measured' must be an object with string 'at' and 'by'/],
    [{ ...valid, stages: [] }, /'stages' must be a non-empty array/],
    [{ ...valid, stages: [{ queue: 'p' }] }, /stages\[0\] must have string 'queue' and 'pool'/],
    [
      { ...valid, stages: [{ ...valid.stages[0], secondsPerImage: -1 }] },
      /stages\[0\].secondsPerImage must be a finite number >= 0; got -1/,
    ],
    [
      { ...valid, stages: [{ ...valid.stages[0], concurrency: 0 }] },
      /stages\[0\].concurrency must be an integer >= 1; got 0/,
    ],
    [{ ...valid, workerStartupSeconds: { cpu: 1 } }, /no entry for pool 'gpu' \(stage predict\)/],
    [[], /expected a JSON object/],
  ])('rejects %j', (json, message) => {
    expect(() => parseStageCosts(json, 'f.json')).toThrow(CostsFormatError);
    expect(() => parseStageCosts(json, 'f.json')).toThrow(message);
  });

  it('reports unreadable and non-JSON files by path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'costs-'));
    await writeFile(join(dir, 'bad.json'), '{ nope');
    await expect(loadStageCosts(join(dir, 'bad.json'))).rejects.toThrow(/bad\.json is not JSON/);
    await expect(loadStageCosts(join(dir, 'missing.json'))).rejects.toThrow(
      /cannot read cost file .*missing\.json/,
    );
    await rm(dir, { recursive: true });
  });

  it('withSpeedup divides one pool’s stage times', () => {
    const c = withSpeedup(parseStageCosts(valid), 'gpu', 4);
    expect(c.stages[1]!.secondsPerMegapixel).toBe(0.25);
    expect(c.stages[0]!.secondsPerMegapixel).toBe(0.2);
    expect(() => withSpeedup(c, 'gpu', 0)).toThrow(/speed-up must be a finite number > 0; got 0/);
  });

  it('fitLine: exact line, one x value, negative intercept clamped to a line through 0', () => {
    expect(fitLine([1, 2, 3], [3, 5, 7])).toEqual({ a: 1, b: 2 });
    expect(fitLine([2, 2], [4, 6])).toEqual({ a: 0, b: 2.5 });
    const f = fitLine([1, 2], [0.5, 2.5]);
    expect(f.a).toBe(0);
    expect(f.b).toBeCloseTo((1 * 0.5 + 2 * 2.5) / 5, 12);
    expect(() => fitLine([], [])).toThrow(/equal non-empty arrays/);
  });
});

describe('prices and plans', () => {
  it('looks up spot and on-demand node prices; unknown names list the known ones', () => {
    expect(choosePrices('gcp', 't4', true).gpuNode.price).toBe(PRICE_TABLE.gcp.gpu.t4!.spot);
    expect(choosePrices('aws', 't4', false).gpuNode.price).toBe(PRICE_TABLE.aws.gpu.t4!.onDemand);
    expect(() => choosePrices('azure', 't4', true)).toThrow(/cloud must be gcp or aws; got "azure"/);
    expect(() => choosePrices('gcp', 'h100', true)).toThrow(
      /no gcp price for GPU type "h100"; known: t4, l4, v100, a100/,
    );
  });

  it('planRun: more GPUs finish a GPU-bound batch sooner', () => {
    const costs = parseStageCosts(valid);
    const prices = choosePrices('gcp', 't4', true);
    const one = planRun({ images: 2000, megapixels: 1, maxGpus: 1, costs, prices });
    const four = planRun({ images: 2000, megapixels: 1, maxGpus: 4, costs, prices });
    expect(four.makespanSeconds).toBeLessThan(one.makespanSeconds / 2);
    expect(four.pools.gpu!.peakReplicas).toBe(4);
    expect(one.options).toMatchObject({
      maxCpuWorkers: 8,
      gpuNodeStartupSeconds: 300,
      nodeReleaseSeconds: 600,
    });
  });

  it('formatDuration', () => {
    expect(formatDuration(5)).toBe('5.0 s');
    expect(formatDuration(725)).toBe('12 min 5 s');
    expect(formatDuration(5.5 * 3600)).toBe('5 h 30 min');
    expect(formatDuration(3 * 86_400)).toBe('3.0 days');
  });

  it('lineChartSvg draws one line per series, the marks, and escapes text', () => {
    const svg = lineChartSvg({
      title: 'a < b',
      xLabel: 'images',
      panels: [
        {
          title: 'time',
          yLabel: 'h',
          series: [
            {
              name: '1 GPU',
              points: [
                [100, 0.1],
                [1e6, 50],
              ],
            },
            {
              name: '4 GPUs',
              points: [
                [100, 0.1],
                [1e6, 12],
              ],
            },
          ],
          marks: [{ x: 1e6, y: 5.5, label: 'paper' }],
        },
      ],
      notes: ['note & more'],
    });
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain('a &lt; b');
    expect(svg).toContain('note &amp; more');
    expect(svg).toContain('>paper<');
    expect(() =>
      lineChartSvg({
        title: '',
        xLabel: '',
        panels: [{ title: 'p', yLabel: '', series: [{ name: 's', points: [[0, 0]] }] }],
      }),
    ).toThrow(/no positive x values/);
  });
});

describe('kiosk plan', () => {
  const out: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    out.length = 0;
  });
  const capture = () =>
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out.push(String(s));
      return true;
    });

  it('prints makespan, node-hours and cost; --json gives the same numbers as one object', async () => {
    capture();
    expect(await command.run(['--images', '500', '--max-gpus', '2'])).toBe(0);
    expect(out.join('')).toMatch(/makespan: .*\n.*node-hours: .*gpu .* node-h.*\n.*cost: +\$\d+\.\d\d/);
    out.length = 0;
    expect(await command.run(['--images', '500', '--max-gpus', '2', '--json'])).toBe(0);
    const j = JSON.parse(out.join('')) as {
      makespanSeconds: number;
      cost: { total: number };
      prices: { asOf: string };
    };
    expect(j.makespanSeconds).toBeGreaterThan(0);
    expect(j.cost.total).toBeGreaterThan(0);
    expect(j.prices.asOf).toMatch(/^\d{4}-\d\d-\d\d$/);
  });

  it('--plot writes an SVG with a line per GPU limit', async () => {
    capture();
    const dir = await mkdtemp(join(tmpdir(), 'plan-'));
    const file = join(dir, 'plan.svg');
    expect(
      await command.run(['--images', '100', '--gpu-speedup', '20', '--plot', file, '--plot-gpus', '1,4']),
    ).toBe(0);
    const svg = await readFile(file, 'utf8');
    expect(svg.match(/<polyline/g)).toHaveLength(4); // 2 limits × (time, cost)
    expect(svg).toContain('DeepCell Kiosk');
    await rm(dir, { recursive: true });
  });

  it.each([
    [[], /--images is required/],
    [['--images', '0'], /--images must be an integer >= 1; got "0"/],
    [['--images', '10', '--megapixels', '0'], /--megapixels must be a number > 0; got "0"/],
    [['--images', '10', '--gpu', 'h100'], /no gcp price for GPU type "h100"/],
    [['--images', '10', '--bogus'], /Unknown option '--bogus'/],
  ])('usage error for %j', async (args, message) => {
    await expect(command.run(args)).rejects.toThrow(UsageError);
    await expect(command.run(args)).rejects.toThrow(message);
  });
});

describe('stage costs from the live metrics', () => {
  const text = [
    '# TYPE kiosk_stage_duration_seconds histogram',
    'kiosk_stage_duration_seconds_sum{stage="preprocess",outcome="completed",process="cpu-worker"} 20',
    'kiosk_stage_duration_seconds_count{stage="preprocess",outcome="completed",process="cpu-worker"} 100',
    'kiosk_stage_duration_seconds_sum{stage="preprocess",outcome="failed",process="cpu-worker"} 999',
    'kiosk_stage_duration_seconds_count{stage="preprocess",outcome="failed",process="cpu-worker"} 1',
    'kiosk_stage_duration_seconds_sum{stage="postprocess",outcome="completed",process="cpu-worker"} 30',
    'kiosk_stage_duration_seconds_count{stage="postprocess",outcome="completed",process="cpu-worker"} 100',
    // two GPU workers scraped: their samples add up
    'kiosk_stage_duration_seconds_sum{process="gpu-worker",stage="predict",outcome="completed"} 40',
    'kiosk_stage_duration_seconds_count{process="gpu-worker",stage="predict",outcome="completed"} 50',
    'kiosk_stage_duration_seconds_sum{process="gpu-worker",stage="predict",outcome="completed"} 60',
    'kiosk_stage_duration_seconds_count{process="gpu-worker",stage="predict",outcome="completed"} 50',
  ].join('\n');

  it('means of completed jobs per stage, per megapixel of the images behind them', async () => {
    const { costsFromMetrics } = await import('./from-metrics.js');
    const c = costsFromMetrics(text, {
      megapixels: 2,
      source: 'http://w:9464/metrics',
      workerStartupSeconds: { cpu: 3, gpu: 4 },
    });
    expect(c.stages.map((s) => [s.queue, s.pool, s.secondsPerImage, s.secondsPerMegapixel])).toEqual([
      ['preprocess', 'cpu', 0, 0.1],
      ['predict', 'gpu', 0, 0.5],
      ['postprocess', 'cpu', 0, 0.15],
    ]);
    expect(c.measured.by).toBe('live metrics: http://w:9464/metrics');
    expect(() => parseStageCosts(JSON.parse(JSON.stringify(c)))).not.toThrow();
  });

  it('names the stages the metrics have no completed jobs for', async () => {
    const { costsFromMetrics } = await import('./from-metrics.js');
    const o = { megapixels: 1, source: 's', workerStartupSeconds: { cpu: 1, gpu: 1 } };
    expect(() =>
      costsFromMetrics(
        text
          .split('\n')
          .filter((l) => !l.includes('predict'))
          .join('\n'),
        o,
      ),
    ).toThrow(/no completed predict jobs/);
    expect(() => costsFromMetrics('', o)).toThrow(/no completed preprocess, predict, postprocess jobs/);
    expect(() => costsFromMetrics(text, { ...o, megapixels: 0 })).toThrow(
      /megapixels must be a finite number > 0; got 0/,
    );
  });

  it('kiosk plan --from-metrics reads a worker’s /metrics endpoint (a real HTTP server)', async () => {
    const { createServer } = await import('node:http');
    const server = createServer((_req, res) => res.end(text));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const dir = await mkdtemp(join(tmpdir(), 'plan-metrics-'));
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out.push(String(s));
      return true;
    });
    try {
      const code = await command.run([
        '--images',
        '100',
        '--from-metrics',
        `http://127.0.0.1:${port}/metrics`,
        '--metrics-megapixels',
        '2',
        '--save-costs',
        join(dir, 'c.json'),
        '--json',
      ]);
      expect(code).toBe(0);
      const saved = await loadStageCosts(join(dir, 'c.json'));
      expect(saved.stages[1]!.secondsPerMegapixel).toBe(0.5);
      expect(JSON.parse(out.join('')).costs.measured.by).toMatch(/^live metrics: http:\/\/127\.0\.0\.1/);
      await expect(
        command.run(['--images', '1', '--from-metrics', `http://127.0.0.1:${port}/m`]),
      ).rejects.toThrow(/--metrics-megapixels is required/);
    } finally {
      vi.restoreAllMocks();
      server.close();
      await rm(dir, { recursive: true });
    }
  });
});

import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { UsageError, type Command } from '../command.js';

const usage = `Usage: kiosk plan --images N [--megapixels M] [--max-gpus G] [options]
       kiosk plan --measure FILE

Simulates an autoscaled run of N images of M megapixels (discrete events: queues, the autoscaler's policy,
node start-up, drains, node release) and prints the makespan, node-hours and cost.

Options:
  --images N             images in the batch (required)
  --megapixels M         megapixels per image (default 1)
  --max-gpus G           GPU ceiling of the GPU pool (default 4)
  --max-cpu-workers C    CPU worker ceiling (default 8)
  --costs FILE           stage costs (cellkiosk-stage-costs/1 JSON; default: the shipped costs measured on the
                         development machine — see docs/autoscaling.md)
  --gpu-speedup X        GPU stages X times faster than the cost file says (default 1; the shipped costs time
                         the model on a CPU — nothing here measures a GPU)
  --cloud gcp|aws        price table (default gcp)
  --gpu TYPE             t4, l4, a10g (aws), v100, a100 (gcp) (default t4)
  --on-demand            on-demand prices (default: spot)
  --gpu-node-price USD   override the GPU node's price per hour
  --cpu-node-price USD   override the CPU node's price per hour
  --gpu-node-startup-s S new GPU node → schedulable (default 300, assumed)
  --cpu-node-startup-s S new CPU node → schedulable (default 120, assumed)
  --node-release-s S     empty node → removed (default 600, the cluster autoscaler's default)
  --json                 print one JSON object
  --plot FILE.svg        also write time and cost versus batch size (10^2..10^6 images) for several GPU limits
  --plot-gpus LIST       GPU limits of the plot (default 1,4,8 and G)
  --from-metrics URLS    stage costs from the live metrics instead: comma-separated /metrics URLs of the
                         workers (mean kiosk_stage_duration_seconds of completed jobs per stage)
  --metrics-megapixels M mean megapixels of the images behind those metrics (required with --from-metrics)
  --save-costs FILE      write the cost file used (e.g. the one built from the metrics)
  --measure FILE         time the real stages on this machine and write a cost file (takes a minute or two)`;

const KIOSK_PAPER = { images: 1e6, hours: 5.5, usd: 250 };

function num(
  name: string,
  v: string | undefined,
  fallback: number | undefined,
  o: { int?: boolean; min?: number; gt?: number } = {},
): number {
  if (v === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required`);
    return fallback;
  }
  const x = Number(v);
  if (
    !Number.isFinite(x) ||
    (o.int && !Number.isInteger(x)) ||
    (o.min !== undefined && x < o.min) ||
    (o.gt !== undefined && x <= o.gt)
  )
    throw new UsageError(
      `--${name} must be ${o.int ? 'an integer' : 'a number'}${o.min !== undefined ? ` >= ${o.min}` : ''}${o.gt !== undefined ? ` > ${o.gt}` : ''}; got ${JSON.stringify(v)}`,
    );
  return x;
}

export const command: Command = {
  name: 'plan',
  summary: 'simulate an autoscaled batch: makespan, node-hours and cost (and a time/cost plot)',
  usage,
  async run(args) {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        strict: true,
        options: {
          images: { type: 'string' },
          megapixels: { type: 'string' },
          'max-gpus': { type: 'string' },
          'max-cpu-workers': { type: 'string' },
          costs: { type: 'string' },
          'gpu-speedup': { type: 'string' },
          cloud: { type: 'string' },
          gpu: { type: 'string' },
          'on-demand': { type: 'boolean' },
          'gpu-node-price': { type: 'string' },
          'cpu-node-price': { type: 'string' },
          'gpu-node-startup-s': { type: 'string' },
          'cpu-node-startup-s': { type: 'string' },
          'node-release-s': { type: 'string' },
          json: { type: 'boolean' },
          plot: { type: 'string' },
          'plot-gpus': { type: 'string' },
          measure: { type: 'string' },
          'from-metrics': { type: 'string' },
          'metrics-megapixels': { type: 'string' },
          'save-costs': { type: 'string' },
        },
      });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const v = parsed.values;
    if (v.measure !== undefined) {
      const { measureStageCosts } = await import('../../workers/planner/measure.js');
      const costs = await measureStageCosts((m) => process.stderr.write(`${m}\n`));
      await writeFile(v.measure, `${JSON.stringify(costs, null, 2)}\n`);
      process.stdout.write(`wrote ${v.measure}\n`);
      return 0;
    }
    const { DEFAULT_COSTS_FILE, loadStageCosts } = await import('../../workers/planner/costs.js');
    const { choosePrices, PRICES_AS_OF } = await import('../../workers/planner/prices.js');
    const { formatDuration, planRun } = await import('../../workers/planner/plan.js');

    const images = num('images', v.images, undefined, { int: true, min: 1 });
    const megapixels = num('megapixels', v.megapixels, 1, { gt: 0 });
    const maxGpus = num('max-gpus', v['max-gpus'], 4, { int: true, min: 1 });
    let prices;
    try {
      prices = choosePrices(v.cloud ?? 'gcp', v.gpu ?? 't4', !v['on-demand']);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (v['gpu-node-price'] !== undefined)
      prices = {
        ...prices,
        gpuNode: { ...prices.gpuNode, price: num('gpu-node-price', v['gpu-node-price'], 0, { min: 0 }) },
      };
    if (v['cpu-node-price'] !== undefined)
      prices = {
        ...prices,
        cpuNode: { ...prices.cpuNode, price: num('cpu-node-price', v['cpu-node-price'], 0, { min: 0 }) },
      };
    let costsFile = v.costs ?? DEFAULT_COSTS_FILE;
    let costs = await loadStageCosts(costsFile);
    if (v['from-metrics'] !== undefined) {
      if (v.costs !== undefined)
        throw new UsageError('--costs and --from-metrics are alternatives; give one');
      const mp = num('metrics-megapixels', v['metrics-megapixels'], undefined, { gt: 0 });
      const urls = v['from-metrics'].split(',').map((u) => u.trim());
      const texts: string[] = [];
      for (const url of urls) {
        let res: Response;
        try {
          res = await fetch(url);
        } catch (err) {
          throw new Error(`cannot fetch ${url}: ${(err as Error).message}`);
        }
        if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
        texts.push(await res.text());
      }
      const { costsFromMetrics } = await import('../../workers/planner/from-metrics.js');
      // start-up is not in the metrics: keep the cost file's (the shipped one unless --costs)
      costs = costsFromMetrics(texts.join('\n'), {
        megapixels: mp,
        source: urls.join(', '),
        workerStartupSeconds: costs.workerStartupSeconds,
      });
      costsFile = `live metrics (${urls.join(', ')})`;
    }
    if (v['save-costs'] !== undefined)
      await writeFile(v['save-costs'], `${JSON.stringify(costs, null, 2)}\n`);
    const base = {
      megapixels,
      costs,
      prices,
      maxCpuWorkers: num('max-cpu-workers', v['max-cpu-workers'], 8, { int: true, min: 1 }),
      gpuSpeedup: num('gpu-speedup', v['gpu-speedup'], 1, { gt: 0 }),
      gpuNodeStartupSeconds: num('gpu-node-startup-s', v['gpu-node-startup-s'], 300, { min: 0 }),
      cpuNodeStartupSeconds: num('cpu-node-startup-s', v['cpu-node-startup-s'], 120, { min: 0 }),
      nodeReleaseSeconds: num('node-release-s', v['node-release-s'], 600, { min: 0 }),
    };
    const r = planRun({ ...base, images, maxGpus });
    const priceLine = `${prices.cloud} ${prices.gpuType} ${prices.spot ? 'spot' : 'on-demand'}: GPU node ${prices.gpuNode.machine} $${prices.gpuNode.price}/h, CPU node ${prices.cpuNode.machine} $${prices.cpuNode.price}/h, fixed $${prices.fixedPerHour.toFixed(3)}/h (${prices.fixedNote}); prices as of ${PRICES_AS_OF}, indicative`;

    let plotNote = '';
    if (v.plot !== undefined) {
      const { lineChartSvg } = await import('../../workers/planner/plot.js');
      const limits = v['plot-gpus']
        ? v['plot-gpus'].split(',').map((g) => num('plot-gpus', g.trim(), undefined, { int: true, min: 1 }))
        : [...new Set([1, 4, 8, maxGpus])].sort((a, b) => a - b);
      const sizes = [1e2, 1e3, 1e4, 1e5, 1e6];
      const runs = limits.map((g) => ({
        g,
        points: sizes.map((n) => [n, planRun({ ...base, images: n, maxGpus: g })] as const),
      }));
      const svg = lineChartSvg({
        title: `cellkiosk plan: ${megapixels} MP images, ${prices.cloud} ${prices.gpuType} ${prices.spot ? 'spot' : 'on demand'}, up to ${base.maxCpuWorkers} CPU workers${base.gpuSpeedup !== 1 ? `, GPU speed-up ×${base.gpuSpeedup}` : ''}`,
        xLabel: 'images in the batch',
        panels: [
          {
            title: 'Time (submission → last image)',
            yLabel: 'hours',
            series: runs.map(({ g, points }) => ({
              name: `${g} GPU${g > 1 ? 's' : ''}`,
              points: points.map(([n, p]) => [n, p.makespanSeconds / 3600] as [number, number]),
            })),
            marks:
              megapixels === 1
                ? [{ x: KIOSK_PAPER.images, y: KIOSK_PAPER.hours, label: 'DeepCell Kiosk paper' }]
                : [],
          },
          {
            title: 'Cost (nodes until released + fixed)',
            yLabel: 'US$',
            series: runs.map(({ g, points }) => ({
              name: `${g} GPU${g > 1 ? 's' : ''}`,
              points: points.map(([n, p]) => [n, p.totalCost] as [number, number]),
            })),
            marks:
              megapixels === 1
                ? [{ x: KIOSK_PAPER.images, y: KIOSK_PAPER.usd, label: 'DeepCell Kiosk paper' }]
                : [],
          },
        ],
        notes: [
          `Stage costs: ${v['from-metrics'] !== undefined ? 'live metrics' : costsFile.split('/').slice(-2).join('/')} (${costs.measured.by}, ${costs.measured.at}). ${costs.measured.machine ?? ''}`,
          `Cost file notes: ${costs.measured.notes ?? '-'}`,
          `Node start-up GPU ${base.gpuNodeStartupSeconds} s, CPU ${base.cpuNodeStartupSeconds} s; empty nodes released after ${base.nodeReleaseSeconds} s; autoscaler defaults.`,
          priceLine,
          `Star: DeepCell Kiosk (Bannon et al. 2021, Nature Methods) reported 10^6 one-megapixel images in ~5.5 h for ~US$250.`,
        ],
      });
      await writeFile(v.plot, svg);
      plotNote = `plot: ${v.plot} (${limits.length} GPU limits × ${sizes.length} batch sizes)`;
    }

    if (v.json) {
      process.stdout.write(
        `${JSON.stringify({
          images,
          megapixels,
          maxGpus,
          makespanSeconds: r.makespanSeconds,
          billedSeconds: r.billedSeconds,
          nodeHours: Object.fromEntries(Object.entries(r.pools).map(([k, p]) => [k, p.nodeHours])),
          pools: r.pools,
          cost: {
            ...Object.fromEntries(Object.entries(r.pools).map(([k, p]) => [k, p.cost])),
            fixed: r.fixedCost,
            total: r.totalCost,
          },
          prices: {
            cloud: prices.cloud,
            gpu: prices.gpuType,
            spot: prices.spot,
            gpuNodePerHour: prices.gpuNode.price,
            cpuNodePerHour: prices.cpuNode.price,
            fixedPerHour: prices.fixedPerHour,
            asOf: PRICES_AS_OF,
          },
          costs: { file: costsFile, measured: costs.measured },
          options: r.options,
          ...(v.plot ? { plot: v.plot } : {}),
        })}\n`,
      );
      return 0;
    }
    const pool = (name: string) => {
      const p = r.pools[name]!;
      return `${name} ${p.nodeHours.toFixed(2)} node-h (peak ${p.peakReplicas}, busy ${(p.utilization * 100).toFixed(0)}% while up) $${p.cost.toFixed(2)}`;
    };
    const lines = [
      `kiosk plan: ${images} images of ${megapixels} MP, up to ${maxGpus} GPUs and ${base.maxCpuWorkers} CPU workers${base.gpuSpeedup !== 1 ? `, GPU stages ×${base.gpuSpeedup} faster than measured` : ''}`,
      `  costs:      ${costsFile} (${costs.measured.by}, ${costs.measured.at})`,
      `  prices:     ${priceLine}`,
      `  makespan:   ${formatDuration(r.makespanSeconds)} (${r.makespanSeconds.toFixed(0)} s); nodes released after ${formatDuration(r.billedSeconds)}`,
      `  node-hours: ${r.totalNodeHours.toFixed(2)} — ${pool('gpu')}; ${pool('cpu')}`,
      `  cost:       $${r.totalCost.toFixed(2)} (GPU $${r.pools.gpu!.cost.toFixed(2)} + CPU $${r.pools.cpu!.cost.toFixed(2)} + fixed $${r.fixedCost.toFixed(2)})`,
      ...(plotNote ? [`  ${plotNote}`] : []),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};

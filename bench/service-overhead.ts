/**
 * Part B of service.bench.ts: the orchestration overhead per job with the trivial model (TRIVIAL threshold
 * runner + trivial stages), the service against the same stages in-process, measured in rounds; plus CPU per
 * part, Redis commands per job and the latency of one job at a time.
 */
import { mkdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { TRIVIAL_CARD, TrivialThresholdRunner, trivialStages } from '../workers/processors/trivial-stages.js';
import {
  cpuTotal,
  runJobs,
  startService,
  type BenchImage,
  type ServiceCpu,
  type ServiceProcessOptions,
} from './service-processes.js';

/** Part B's settings (service.bench.ts's options). */
export interface OverheadSettings {
  readonly service: ServiceProcessOptions;
  /** Jobs in flight at most (--inflight). */
  readonly inflight: number;
  /** Jobs run before the measured ones, in-process and through the service alike (--warmup). */
  readonly warmup: number;
  /** Rounds of an in-process pass then a service pass (--rounds). */
  readonly rounds: number;
}

export async function partB(
  images: readonly BenchImage[],
  common: NodeJS.ProcessEnv,
  tmp: string,
  settings: OverheadSettings,
): Promise<void> {
  const N = images.length;
  const { warmup: WARMUP, rounds: ROUNDS, inflight } = settings;
  const profile = settings.service.profile;
  // B. orchestration overhead with the trivial model
  const o = { channels: [0], maxPixels: 2 ** 28 };
  const trivial = new TrivialThresholdRunner();
  const inProcess = async (img: BenchImage, bytes: Uint8Array): Promise<Uint8Array> => {
    const p = await trivialStages.preprocess(bytes, img.name, TRIVIAL_CARD, o);
    const maps = await trivialStages.predict(p, trivial, TRIVIAL_CARD);
    return trivialStages.encodeLabels(await trivialStages.postprocess(maps, p.meta, TRIVIAL_CARD, o));
  };
  const svc = await startService(
    {
      ...common,
      KIOSK_PREFIX: 'bench-b',
      KIOSK_TRIVIAL_MODEL: '1',
      KIOSK_DEFAULT_MODEL: 'trivial',
    },
    settings.service,
  );
  // Warm-up (JIT): the same --warmup images in-process and through the service.
  const warm = images.slice(0, WARMUP);
  for (const img of warm) await inProcess(img, img.bytes);
  await runJobs(svc, warm, inflight);
  // The same with the file I/O `kiosk segment` does: read the image file, write <stem>.labels.tif.
  const outDir = join(tmp, 'segment-out');
  mkdirSync(outDir, { recursive: true });
  const cpuIo0 = process.cpuUsage();
  let t = performance.now();
  for (const img of images)
    await writeFile(join(outDir, `${img.name}.labels.tif`), await inProcess(img, await readFile(img.path)));
  const ioInMs = performance.now() - t;
  const cpuIo = process.cpuUsage(cpuIo0);
  const ioCpuMs = (cpuIo.user + cpuIo.system) / 1000;
  // ROUNDS rounds of an in-process pass then a service pass, the overhead taken per round and its median
  // kept: one pass takes 1-4 s and this machine's speed drifts by tens of percent over seconds, so the two
  // sides of each difference are measured next to each other. CPU and Redis figures add up the service
  // passes.
  const rounds: { inWall: number; inCpu: number; svcWall: number }[] = [];
  const windows: { startUs: number; endUs: number }[] = [];
  let svcCpuMs = 0;
  const partCpuMs: ServiceCpu = { api: 0, cpuWorker: 0, inferenceWorker: 0, redis: 0 };
  let clientCpuMs = 0;
  const cmdTotals = new Map<string, { calls: number; usec: number }>();
  for (let r = 0; r < ROUNDS; r++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (const img of images) await inProcess(img, img.bytes);
    const inWall = performance.now() - t0;
    const cpuIn = process.cpuUsage(cpu0);
    const svcCpu0 = await svc.cpuS();
    const cmds0 = await svc.redisCommands();
    const client0 = process.cpuUsage();
    const window0 = process.hrtime.bigint() / 1000n; // µs of the monotonic clock, as V8's CPU profiles count
    const b = await runJobs(svc, images, inflight);
    const window1 = process.hrtime.bigint() / 1000n;
    const client = process.cpuUsage(client0);
    const svcCpu1 = await svc.cpuS();
    const cmds1 = await svc.redisCommands();
    rounds.push({ inWall, inCpu: (cpuIn.user + cpuIn.system) / 1000, svcWall: b.ms });
    windows.push({ startUs: Number(window0), endUs: Number(window1) });
    svcCpuMs += (cpuTotal(svcCpu1) - cpuTotal(svcCpu0)) * 1000;
    for (const k of Object.keys(partCpuMs) as (keyof ServiceCpu)[])
      partCpuMs[k] += (svcCpu1[k] - svcCpu0[k]) * 1000;
    clientCpuMs += (client.user + client.system) / 1000;
    for (const [name, v] of cmds1) {
      const before = cmds0.get(name) ?? { calls: 0, usec: 0 };
      const sum = cmdTotals.get(name) ?? { calls: 0, usec: 0 };
      cmdTotals.set(name, {
        calls: sum.calls + v.calls - before.calls,
        usec: sum.usec + v.usec - before.usec,
      });
    }
  }
  // The measured passes' time spans, for reading only their samples out of the processes' CPU profiles.
  if (profile) await writeFile(join(profile, 'window.json'), JSON.stringify(windows));
  const jobs = N * ROUNDS;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const overheads = rounds.map((r) => (r.svcWall - r.inWall) / N);
  const perJobIn = median(rounds.map((r) => r.inWall)) / N;
  const inCpuMs = rounds.reduce((a, r) => a + r.inCpu, 0);
  const partMs = (k: keyof ServiceCpu) => (partCpuMs[k] / jobs).toFixed(2);
  const cmds = [...cmdTotals]
    .map(([name, v]) => ({ name, calls: v.calls / jobs, usec: v.usec / jobs }))
    .filter((c) => c.calls > 0)
    .sort((x, y) => y.usec - x.usec);
  const perJobSvc = median(rounds.map((r) => r.svcWall)) / N;
  const SEQ = Math.min(N, 30);
  t = performance.now();
  for (const img of images.slice(0, SEQ)) await runJobs(svc, [img], inflight);
  const seqMs = performance.now() - t;
  await svc.stop();
  const f = (x: number) => x.toFixed(2);
  const lines = [
    `load average now ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
    `trivial model in-process: ${f(perJobIn)} ms wall, ${f(inCpuMs / jobs)} ms CPU per image (decode, threshold, label, TIFF; median of ${ROUNDS} passes: ${rounds.map((r) => f(r.inWall / N)).join(', ')} ms)`,
    `trivial model through the service, ${N} jobs in flight: ${f(perJobSvc)} ms wall per job (median of ${ROUNDS} passes: ${rounds.map((r) => f(r.svcWall / N)).join(', ')} ms)`,
    `orchestration overhead per job, wall (jobs in flight): ${f(median(overheads))} ms (target < 5 ms; median of ${ROUNDS} rounds, each a service pass minus the in-process pass just before it: ${overheads.map(f).join(', ')} ms)`,
    `in-process with kiosk segment's file I/O (read the image file, write <stem>.labels.tif; one pass): ${f(ioInMs / N)} ms wall, ${f(ioCpuMs / N)} ms CPU per image → overhead vs that: ${f(perJobSvc - ioInMs / N)} ms wall (jobs in flight), ${f(svcCpuMs / jobs - ioCpuMs / N)} ms CPU`,
    `CPU per job: service (API + CPU worker + inference worker + Redis) ${f(svcCpuMs / jobs)} ms vs in-process ${f(inCpuMs / jobs)} ms → orchestration CPU overhead ${f((svcCpuMs - inCpuMs) / jobs)} ms per job (includes the HTTP upload)`,
    `CPU per job by part: API ${partMs('api')} ms, CPU worker ${partMs('cpuWorker')} ms, inference worker ${partMs('inferenceWorker')} ms, Redis ${partMs('redis')} ms; and this benchmark's client (uploads, waiting for the results) ${f(clientCpuMs / jobs)} ms, on the same cores`,
    `Redis commands per job: ${cmds.reduce((a, c) => a + c.calls, 0).toFixed(1)} calls, ${f(cmds.reduce((a, c) => a + c.usec, 0) / 1000)} ms in commands; top: ${cmds
      .slice(0, profile ? undefined : 8)
      .map((c) => `${c.name} ${c.calls.toFixed(1)}× ${f(c.usec / 1000)} ms`)
      .join(', ')}`,
    `trivial model one job at a time (upload → done, ${SEQ} jobs): ${(seqMs / SEQ).toFixed(1)} ms per job; overhead ${(seqMs / SEQ - perJobIn).toFixed(1)} ms (latency)`,
  ];
  for (const l of lines) console.log(l);
}

import { parseArgs } from 'node:util';
import { KioskClient } from '../../api/client.js';
import { UsageError, type Command } from '../command.js';

export const command: Command = {
  name: 'status',
  summary: 'show one job of a running kiosk (status, progress, timings, failures, result URL)',
  usage: `Usage: kiosk status ID [--host URL] [--json]

  --host URL    the kiosk (default: $KIOSK_HOST or http://127.0.0.1:8080)
  --json        print the API's JSON`,
  async run(args) {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        allowPositionals: true,
        options: { host: { type: 'string' }, json: { type: 'boolean', default: false } },
      });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const [id, ...rest] = parsed.positionals;
    if (!id || rest.length) throw new UsageError('give exactly one job ID');
    const job = await new KioskClient(
      parsed.values.host ?? process.env.KIOSK_HOST ?? 'http://127.0.0.1:8080',
    ).getJob(id);
    if (parsed.values.json) {
      process.stdout.write(`${JSON.stringify(job, null, 2)}\n`);
      return 0;
    }
    const lines = [
      `job       ${job.id} (${job.kind}, ${job.type})`,
      `name      ${job.name}`,
      `model     ${job.model} v${job.modelVersion}`,
      `status    ${job.status} (${job.progress.toFixed(0)}%)${job.reason ? ` — ${job.reason}` : ''}`,
      `created   ${job.createdAt}${job.finishedAt ? `   finished ${job.finishedAt} (${job.totalTime?.toFixed(2)} s)` : ''}`,
    ];
    if (job.timings)
      lines.push(
        `timings   ${Object.entries(job.timings)
          .map(([k, s]) => `${k} ${s.toFixed(3)} s`)
          .join(', ')}`,
      );
    if (job.objectCount !== undefined) lines.push(`objects   ${job.objectCount}`);
    if (job.resultUrl) lines.push(`result    ${job.resultUrl}`);
    for (const c of job.children ?? [])
      lines.push(`  ${c.status.padEnd(15)} ${c.name}${c.reason ? ` — ${c.reason}` : ''}`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};

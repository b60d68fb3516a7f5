import { parseArgs } from 'node:util';
import { KioskClient } from '../../api/client.js';
import { UsageError, type Command } from '../command.js';

export const command: Command = {
  name: 'jobs',
  summary: 'list the jobs of a running kiosk, newest first',
  usage: `Usage: kiosk jobs [--host URL] [--limit N] [--status S] [--json]

  --host URL    the kiosk (default: $KIOSK_HOST or http://127.0.0.1:8080)
  --limit N     at most N jobs (default 20)
  --status S    only jobs in status S (done, failed, predicting...)
  --json        print the API's JSON`,
  async run(args) {
    let v;
    try {
      ({ values: v } = parseArgs({
        args,
        options: {
          host: { type: 'string' },
          limit: { type: 'string', default: '20' },
          status: { type: 'string' },
          json: { type: 'boolean', default: false },
        },
      }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const limit = Number(v.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500)
      throw new UsageError(`--limit must be 1-500; got '${v.limit}'`);
    const jobs = await new KioskClient(v.host ?? process.env.KIOSK_HOST ?? 'http://127.0.0.1:8080').listJobs(
      limit,
      v.status,
    );
    if (v.json) {
      process.stdout.write(`${JSON.stringify(jobs, null, 2)}\n`);
      return 0;
    }
    if (jobs.length === 0) {
      process.stdout.write('no jobs\n');
      return 0;
    }
    process.stdout.write(
      `${'ID'.padEnd(36)}  ${'STATUS'.padEnd(15)}  ${'%'.padStart(3)}  ${'CREATED'.padEnd(19)}  NAME\n`,
    );
    for (const j of jobs) {
      const reason = j.status === 'failed' && j.reason ? `  (${j.reason})` : '';
      process.stdout.write(
        `${j.id.padEnd(36)}  ${j.status.padEnd(15)}  ${j.progress.toFixed(0).padStart(3)}  ${j.createdAt.slice(0, 19).replace('T', ' ')}  ${j.name}${j.kind === 'batch' ? ' [batch]' : ''}${reason}\n`,
      );
    }
    return 0;
  },
};

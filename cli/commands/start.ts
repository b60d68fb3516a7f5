import type { Command } from '../command.js';

export const command: Command = {
  name: 'start',
  summary: 'start the local kiosk (API, web UI and workers on this machine)',
  usage:
    'Usage: kiosk start\n\nStarts the local kiosk. Environment: PORT (default 8080), REDIS_URL (default: spawn redis-server under .kiosk/).',
  async run() {
    process.stderr.write(
      'kiosk start: no service yet — the job service (API, web UI, workers) has not landed.\n' +
        'What works today: `npx kiosk --help` lists the commands that do.\n',
    );
    return 1;
  },
};

#!/usr/bin/env node
// Entry point of the `kiosk` command. The sources are TypeScript; tsx compiles them on the fly,
// so a fresh clone works after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

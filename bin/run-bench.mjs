#!/usr/bin/env node
// Runs every bench/*.bench.ts (or those whose name contains an argument) one after another, each in its own
// process so one benchmark's memory and JIT state do not colour the next. Each script prints its own numbers.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// `npm run bench fuzz -- --seconds 300`: names before the first --option pick scripts; the options go to them.
const args = process.argv.slice(2);
const firstOption = args.findIndex((a) => a.startsWith('--'));
const filters = firstOption < 0 ? args : args.slice(0, firstOption);
const passed = firstOption < 0 ? [] : args.slice(firstOption);
const scripts = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (scripts.length === 0) {
  console.error(`no bench/*.bench.ts matches ${filters.join(' ') || '(any)'}`);
  process.exit(2);
}
let failed = 0;
for (const s of scripts) {
  console.log(`\n=== ${s} ===`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join('bench', s), ...passed], {
    cwd: root,
    stdio: 'inherit',
  });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);

import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UsageError, type Command } from './command.js';

const commandsDir = join(dirname(fileURLToPath(import.meta.url)), 'commands');

/** Every command is a file in cli/commands/ exporting `command`; the help lists what is there. */
async function loadCommands(): Promise<Map<string, Command>> {
  const files = (await readdir(commandsDir)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  const commands = new Map<string, Command>();
  for (const file of files.sort()) {
    const mod = (await import(pathToFileURL(join(commandsDir, file)).href)) as { command?: Command };
    if (mod.command) commands.set(mod.command.name, mod.command);
  }
  return commands;
}

function help(commands: Map<string, Command>): string {
  const width = Math.max(...[...commands.keys()].map((n) => n.length), 4);
  const lines = [...commands.values()].map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    'kiosk — cellkiosk: deep-learning segmentation of microscopy images',
    '',
    'Usage: kiosk <command> [options]     kiosk <command> --help for its options',
    '',
    'Commands:',
    ...lines,
    '',
  ].join('\n');
}

/** Loads only the named command's file (cli/commands/NAME.ts), so one command does not pay for all others. */
async function loadCommand(name: string): Promise<Command | undefined> {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) return undefined;
  const file = join(commandsDir, `${name}.ts`);
  if (!existsSync(file)) return undefined;
  const mod = (await import(pathToFileURL(file).href)) as { command?: Command };
  return mod.command?.name === name ? mod.command : undefined;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const fast = name ? await loadCommand(name) : undefined;
  const commands = fast ? new Map([[fast.name, fast]]) : await loadCommands();
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help(commands));
    return name ? 0 : 2;
  }
  const command = commands.get(name);
  if (!command) {
    process.stderr.write(`kiosk: unknown command '${name}'\n\n${help(commands)}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.usage.endsWith('\n') ? command.usage : `${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`kiosk ${name}: ${err.message}\n\n${command.usage}\n`);
      return 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`kiosk ${name}: ${message}\n`);
    if (process.env.KIOSK_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

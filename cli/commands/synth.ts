import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadLabConfig } from '../../infra/lab-config.js';
import { UsageError, type Command } from '../command.js';

const usage = `Usage: kiosk synth [--config PATH] [--terraform-out DIR] [--k8s-out DIR]

Synthesizes the lab's cloud stack offline: Terraform JSON (cdktf) and Kubernetes YAML (cdk8s).

Options:
  --config PATH        lab config written by \`kiosk init\` (default kiosk.config.json)
  --terraform-out DIR  Terraform JSON folder (default cdktf.out; \`cdktf deploy\` reads the same)
  --k8s-out DIR        Kubernetes YAML folder (default dist/k8s; apply with \`kubectl apply -f\`)`;

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

export const command: Command = {
  name: 'synth',
  summary: 'synthesize Terraform JSON (cdktf.out/) and Kubernetes YAML (dist/k8s/) from the lab config',
  usage,
  async run(args) {
    let values;
    try {
      ({ values } = parseArgs({
        args,
        options: {
          config: { type: 'string', default: 'kiosk.config.json' },
          'terraform-out': { type: 'string', default: 'cdktf.out' },
          'k8s-out': { type: 'string', default: 'dist/k8s' },
        },
        strict: true,
        allowPositionals: false,
      }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const config = await loadLabConfig(values.config);
    // Loaded on use: cdktf, cdk8s and the providers take a second to import, which `kiosk --help` needn't pay.
    const { synthLab } = await import('../../infra/lab-stack.js');
    const dirs = synthLab(config, {
      terraformDir: values['terraform-out'],
      kubernetesDir: values['k8s-out'],
    });
    const files = [...(await listFiles(dirs.terraformDir)), ...(await listFiles(dirs.kubernetesDir))];
    process.stdout.write(
      `Synthesized ${config.provider} lab '${config.name}':\n${files.map((f) => `  ${f}\n`).join('')}` +
        `Next: cdktf deploy kiosk, then kubectl apply -f ${dirs.kubernetesDir} (docs/deploy.md)\n`,
    );
    return 0;
  },
};

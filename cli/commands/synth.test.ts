import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { validateManifests, type Manifest } from '../../constructs/k8s/testing/validate-manifests.js';

const kiosk = fileURLToPath(new URL('../../bin/kiosk.mjs', import.meta.url));
const examples = fileURLToPath(new URL('../../infra/examples/', import.meta.url));
const run = promisify(execFile);

describe('kiosk synth', () => {
  it.each(['gke', 'eks'])(
    'writes Terraform JSON and valid Kubernetes YAML for the %s example',
    async (provider) => {
      const out = mkdtempSync(join(tmpdir(), `kiosk-synth-${provider}-`));
      const tf = join(out, 'cdktf.out');
      const k8sDir = join(out, 'k8s');
      const { stdout } = await run(process.execPath, [
        kiosk,
        'synth',
        `--config=${join(examples, `${provider}.json`)}`,
        `--terraform-out=${tf}`,
        `--k8s-out=${k8sDir}`,
      ]);
      expect(stdout).toContain(`Synthesized ${provider} lab 'nuclei-lab'`);
      const stack = JSON.parse(readFileSync(join(tf, 'stacks/kiosk/cdk.tf.json'), 'utf8')) as {
        resource: Record<string, unknown>;
      };
      expect(Object.keys(stack.resource)).toContain(
        provider === 'gke' ? 'google_container_cluster' : 'aws_eks_cluster',
      );
      const docs = parseAllDocuments(readFileSync(join(k8sDir, 'kiosk.k8s.yaml'), 'utf8')).map(
        (d) => d.toJS() as Manifest,
      );
      expect(validateManifests(docs)).toBe(docs.length);
    },
  );

  it('fails with the file name when the config is missing', async () => {
    const err = (await run(process.execPath, [
      kiosk,
      'synth',
      '--config=/nonexistent/kiosk.config.json',
    ]).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/\/nonexistent\/kiosk\.config\.json: no such file \(run `npx kiosk init`/);
  });
});

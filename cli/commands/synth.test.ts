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
      // The cluster, and (issue 20) the image repository, the certificate / static IP and the add-ons.
      expect(Object.keys(stack.resource)).toEqual(
        expect.arrayContaining(
          provider === 'gke'
            ? [
                'google_container_cluster',
                'google_artifact_registry_repository',
                'google_compute_global_address',
              ]
            : [
                'aws_eks_cluster',
                'aws_ecr_repository',
                'aws_acm_certificate',
                'aws_eks_addon',
                'helm_release',
                'aws_autoscaling_group_tag',
              ],
        ),
      );
      const docs = parseAllDocuments(readFileSync(join(k8sDir, 'kiosk.k8s.yaml'), 'utf8')).map(
        (d) => d.toJS() as Manifest,
      );
      expect(validateManifests(docs)).toBe(docs.length);
      const kinds = new Set(docs.map((d) => d.kind));
      // TLS and scrape objects, schema-checked above with everything else.
      if (provider === 'gke') {
        for (const k of ['ManagedCertificate', 'FrontendConfig', 'PodMonitoring']) expect(kinds).toContain(k);
      } else {
        const ingress = docs.find((d) => d.kind === 'Ingress')!;
        expect(
          (ingress.metadata.annotations as Record<string, string>)['alb.ingress.kubernetes.io/ssl-redirect'],
        ).toBe('443');
        expect(docs.some((d) => d.kind === 'StatefulSet' && d.metadata.name === 'kiosk-prometheus')).toBe(
          true,
        );
      }
      expect(
        docs.some((d) => d.kind === 'NetworkPolicy' && d.metadata.name === 'kiosk-metrics-ingress'),
      ).toBe(true);
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

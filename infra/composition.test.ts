// Another lab's stack, written the way it would be outside this repository: it imports the construct
// library through the package entry point (`cellkiosk/constructs`), not through relative paths.
import { GoogleProvider } from '@cdktf/provider-google/lib/provider/index.js';
import { PubsubTopic } from '@cdktf/provider-google/lib/pubsub-topic/index.js';
import { Testing as K8sTesting } from 'cdk8s';
import { k8s } from 'cdk8s-plus-34';
import { TerraformStack, Testing } from 'cdktf';
import { GcsBucket, GkeWorkloadIdentity, GpuType, KioskChart, KioskCluster } from 'cellkiosk/constructs';
import { describe, expect, it } from 'vitest';
import { validateManifests, type Manifest } from '../constructs/k8s/testing/validate-manifests.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- synthesized Terraform JSON is untyped */
describe('a lab composing cellkiosk/constructs with its own resources', () => {
  it('adds a second bucket and its own pipeline identity next to a KioskCluster', () => {
    const app = Testing.app({ stackTraces: false });
    const stack = new TerraformStack(app, 'imaging-core');
    new GoogleProvider(stack, 'google', { project: 'imaging-core', region: 'europe-west4' });
    const kiosk = new KioskCluster(stack, 'kiosk', {
      provider: 'gke',
      project: 'imaging-core',
      name: 'core',
      region: 'europe-west4',
      zones: ['europe-west4-a'],
      gpuPool: { gpu: { type: GpuType.nvidiaL4(), count: 1 }, maxNodes: 2 },
      bucket: { bucketName: 'imaging-core-kiosk' },
    });
    // The lab's own archive bucket, readable by the kiosk's CPU workers, plus a topic for its LIMS.
    const archive = new GcsBucket(stack, 'archive', {
      project: 'imaging-core',
      location: 'europe-west4',
      bucketName: 'imaging-core-archive',
      resultsExpireDays: 365,
    });
    const lims = new GkeWorkloadIdentity(stack, 'lims', {
      cluster: kiosk.gke!.cluster,
      project: 'imaging-core',
      name: 'core',
      role: 'api',
      namespace: 'lims',
    });
    archive.grantRead(lims, 'results/');
    new PubsubTopic(stack, 'segmentations-done', { name: 'segmentations-done' });

    const s = JSON.parse(Testing.synth(stack)) as { resource: Record<string, Record<string, any>> };
    expect(Object.keys(s.resource.google_storage_bucket!)).toHaveLength(2);
    expect(Object.keys(s.resource.google_pubsub_topic!)).toHaveLength(1);
    const archiveGrant = Object.values(s.resource.google_storage_bucket_iam_member!).find((g) =>
      g.condition.expression.includes('imaging-core-archive'),
    );
    expect(archiveGrant.condition.title).toBe('api results-read');
    expect(kiosk.credentialsCommand).toContain('get-credentials core --zone europe-west4-a');
  });

  it('extends KioskChart with the lab’s own Kubernetes objects', () => {
    const chart = new KioskChart(K8sTesting.app(), 'kiosk', {
      identity: { provider: 'gke', project: 'imaging-core', name: 'core' },
      bucketName: 'imaging-core-kiosk',
      region: 'europe-west4',
      images: { api: 'r/a:1', cpuWorker: 'r/a:1', gpuWorker: 'r/g:1', autoscaler: 'r/a:1' },
    });
    new k8s.KubeConfigMap(chart, 'lab-settings', {
      metadata: { name: 'lab-settings', namespace: chart.namespaceName },
      data: { lims: 'https://lims.imaging-core.example.org' },
    });
    const objs = K8sTesting.synth(chart) as Manifest[];
    expect(objs.some((o) => o.kind === 'ConfigMap' && o.metadata.namespace === 'cellkiosk')).toBe(true);
    expect(validateManifests(objs.filter((o) => o.kind !== 'ConfigMap'))).toBeGreaterThan(20);
  });
});

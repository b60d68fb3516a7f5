// Another lab's stack, written the way it would be outside this repository: it imports the construct
// library through the package entry point (`cellkiosk/constructs`), not through relative paths.
import { AwsProvider } from '@cdktf/provider-aws/lib/provider/index.js';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider/index.js';
import { PubsubTopic } from '@cdktf/provider-google/lib/pubsub-topic/index.js';
import { Testing as K8sTesting } from 'cdk8s';
import { k8s } from 'cdk8s-plus-34';
import { TerraformStack, Testing } from 'cdktf';
import {
  EksIrsaRole,
  GcsBucket,
  GkeWorkloadIdentity,
  GpuType,
  KioskChart,
  KioskCluster,
  type KioskClusterProps,
} from 'cellkiosk/constructs';
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
    // Its own service account: `core-api` would be the kiosk API's (see the next test).
    const lims = new GkeWorkloadIdentity(stack, 'lims', {
      cluster: kiosk.gke!.cluster,
      project: 'imaging-core',
      name: 'core',
      role: 'api',
      serviceAccountId: 'core-lims',
      namespace: 'lims',
    });
    archive.grantRead(lims, 'results/');
    new PubsubTopic(stack, 'segmentations-done', { name: 'segmentations-done' });

    const s = JSON.parse(Testing.synth(stack, true)) as { resource: Record<string, Record<string, any>> };
    expect(Object.keys(s.resource.google_storage_bucket!)).toHaveLength(2);
    expect(Object.values(s.resource.google_service_account!).map((a) => a.account_id)).toContain('core-lims');
    expect(Object.keys(s.resource.google_pubsub_topic!)).toHaveLength(1);
    const archiveGrant = Object.values(s.resource.google_storage_bucket_iam_member!).find((g) =>
      g.condition.expression.includes('imaging-core-archive'),
    );
    expect(archiveGrant.condition.title).toBe('core-lims results-read');
    expect(kiosk.credentialsCommand).toContain('get-credentials core --zone europe-west4-a');
  });

  const gkeCluster = (overrides: Partial<KioskClusterProps> = {}) =>
    ({
      provider: 'gke',
      project: 'imaging-core',
      name: 'core',
      region: 'europe-west4',
      zones: ['europe-west4-a'],
      gpuPool: { gpu: { type: GpuType.nvidiaL4(), count: 1 }, maxNodes: 2 },
      bucket: { bucketName: 'imaging-core-kiosk' },
      ...overrides,
    }) as KioskClusterProps;

  it("refuses, at synth, a lab identity that takes the name of the cluster's own (a 409 at apply)", () => {
    const stack = new TerraformStack(Testing.app({ stackTraces: false }), 'imaging-core');
    new GoogleProvider(stack, 'google', { project: 'imaging-core', region: 'europe-west4' });
    const kiosk = new KioskCluster(stack, 'kiosk', gkeCluster());
    new GkeWorkloadIdentity(stack, 'lims', {
      cluster: kiosk.gke!.cluster,
      project: 'imaging-core',
      name: 'core',
      role: 'api',
      namespace: 'lims',
    });
    expect(() => Testing.synth(stack, true)).toThrow(
      /google_service_account 'core-api' in project imaging-core is made twice: by imaging-core\/kiosk\/identity-api\/sa and by imaging-core\/lims\/sa/,
    );
  });

  it('refuses the same for EKS role names, whatever construct makes them', () => {
    const stack = new TerraformStack(Testing.app({ stackTraces: false }), 'imaging-core');
    new AwsProvider(stack, 'aws', { region: 'eu-central-1' });
    const kiosk = new KioskCluster(stack, 'kiosk', {
      provider: 'eks',
      name: 'core',
      region: 'eu-central-1',
      zones: ['eu-central-1a', 'eu-central-1b'],
      gpuPool: { gpu: { type: GpuType.nvidiaT4(), count: 1 }, maxNodes: 2 },
      bucket: { bucketName: 'imaging-core-kiosk' },
    });
    new EksIrsaRole(stack, 'lims', {
      cluster: kiosk.eks!.cluster,
      name: 'core',
      role: 'trainer',
      namespace: 'lims',
    });
    expect(() => Testing.synth(stack, true)).toThrow(
      /aws_iam_role 'core-kiosk-trainer' is made twice: by imaging-core\/kiosk\/identity-trainer\/role and by imaging-core\/lims\/role/,
    );
    new EksIrsaRole(stack, 'lims2', {
      cluster: kiosk.eks!.cluster,
      name: 'core',
      role: 'trainer',
      roleName: 'core-lims-trainer',
      namespace: 'lims',
    });
  });

  it('keeps the outputs of two KioskClusters in one stack apart (outputPrefix), and refuses two that would share them', () => {
    const stack = new TerraformStack(Testing.app({ stackTraces: false }), 'imaging-core');
    new GoogleProvider(stack, 'google', { project: 'imaging-core', region: 'europe-west4' });
    new KioskCluster(stack, 'kiosk', gkeCluster());
    new KioskCluster(
      stack,
      'kiosk-us',
      gkeCluster({
        name: 'core-us',
        region: 'us-central1',
        zones: ['us-central1-a'],
        outputPrefix: 'us',
        bucket: { bucketName: 'imaging-core-kiosk-us' },
      }),
    );
    const s = JSON.parse(Testing.synth(stack, true)) as { output: Record<string, { value: string }> };
    // The first keeps the names docs/deploy.md and scripts read; the second's carry its prefix.
    expect(s.output.credentials_command!.value).toContain('get-credentials core --zone europe-west4-a');
    expect(s.output.us_credentials_command!.value).toContain('get-credentials core-us --zone us-central1-a');
    expect(Object.keys(s.output).filter((k) => k.startsWith('us_'))).toHaveLength(8);

    const clash = new TerraformStack(Testing.app({ stackTraces: false }), 'clash');
    new GoogleProvider(clash, 'google', { project: 'imaging-core', region: 'europe-west4' });
    new KioskCluster(clash, 'kiosk', gkeCluster());
    new KioskCluster(
      clash,
      'kiosk-us',
      gkeCluster({ name: 'core-us', bucket: { bucketName: 'imaging-core-kiosk-us' } }),
    );
    expect(() => Testing.synth(clash, true)).toThrow(
      /output 'cluster_endpoint' is made twice: by clash\/kiosk\/cluster_endpoint and by clash\/kiosk-us\/cluster_endpoint; give one KioskCluster an 'outputPrefix'/,
    );
  });

  /** A cluster of `provider` in `region` (EKS: two zones of it). */
  const clusterIn = (provider: string, region: string): KioskClusterProps =>
    provider === 'gke'
      ? gkeCluster({ region, zones: [] })
      : ({
          ...gkeCluster(),
          provider: 'eks',
          region,
          zones: [`${region}a`, `${region}b`],
        } as KioskClusterProps);

  it.each([
    ['gke', 'mars-1', /'region' \('mars-1'\) is not a gke region name such as us-central1 or europe-west4/],
    ['gke', 'us-east-1', /'region' \('us-east-1'\) is not a gke region name/],
    ['eks', 'mars-1', /'region' \('mars-1'\) is not an eks region name such as us-east-1 or eu-central-1/],
    ['eks', 'europe-west4', /'region' \('europe-west4'\) is not an eks region name/],
  ])('refuses a %s cluster in region %s', (provider, region, message) => {
    expect(() =>
      Testing.synthScope((s) => void new KioskCluster(s, 'k', clusterIn(provider, region))),
    ).toThrow(message);
  });

  it.each([
    ['gke', ['us-central1', 'europe-west4', 'northamerica-northeast1', 'me-central2', 'asia-southeast1']],
    [
      'eks',
      ['us-east-1', 'eu-central-1', 'ap-southeast-2', 'us-gov-west-1', 'cn-northwest-1', 'il-central-1'],
    ],
  ])('accepts real %s regions', (provider, regions) => {
    for (const region of regions) {
      expect(
        () => Testing.synthScope((s) => void new KioskCluster(s, 'k', clusterIn(provider, region))),
        region,
      ).not.toThrow();
    }
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

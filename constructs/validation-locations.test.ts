import { AwsProvider } from '@cdktf/provider-aws/lib/provider/index.js';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider/index.js';
import { TerraformStack, Testing } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { parseLabConfig } from '../infra/lab-config.js';
import { eksLab, gkeLab } from '../infra/lab-config.test-helpers.js';
import { CLOUD_LOCATIONS_AS_OF, cloudRegions, cloudZones } from './cloud-locations.js';
import { GpuType } from './gpu-type.js';
import { KioskCluster, type KioskClusterProps } from './kiosk-cluster.js';
import { resolveNodePool } from './node-pool-props.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- synthesized Terraform JSON is untyped */

describe('regions and zones come from a dated list per cloud (issue 20 #7)', () => {
  const [gke, eks] = [gkeLab, eksLab];

  it('the list is dated and holds the regions the kiosk defaults to', () => {
    expect(CLOUD_LOCATIONS_AS_OF.gke).toMatch(/^\d{4}-\d{2}$/);
    expect(cloudRegions('gke')).toEqual(
      expect.arrayContaining(['us-central1', 'europe-west4', 'asia-east1']),
    );
    expect(cloudRegions('eks')).toEqual(
      expect.arrayContaining(['us-east-1', 'eu-central-1', 'us-gov-west-1']),
    );
    expect(cloudZones('gke', 'us-central1')).toEqual([
      'us-central1-a',
      'us-central1-b',
      'us-central1-c',
      'us-central1-f',
    ]);
    expect(cloudZones('eks', 'ap-northeast-1')).toEqual([
      'ap-northeast-1a',
      'ap-northeast-1c',
      'ap-northeast-1d',
    ]);
  });

  it.each([
    [
      { ...gke, region: 'us-central9' },
      /'region' \('us-central9'\) is not a gke region name .*list of 20\d\d-\d\d in constructs\/cloud-locations\.ts/,
    ],
    [{ ...eks, region: 'eu-east-1' }, /'region' \('eu-east-1'\) is not an eks region name/],
    [
      { ...gke, zones: ['us-central1-d'] },
      /'zones' \('us-central1-d'\) is not a zone of us-central1: choose from us-central1-a, us-central1-b, us-central1-c, us-central1-f/,
    ],
    [
      { ...gke, region: 'europe-west1', zones: ['europe-west1-a'] },
      /'zones' \('europe-west1-a'\) is not a zone of europe-west1/,
    ],
    [{ ...eks, zones: ['us-east-1a', 'us-east-1g'] }, /'zones' \('us-east-1g'\) is not a zone of us-east-1/],
  ])('refuses %j', (config, message) => {
    expect(() => parseLabConfig(config)).toThrow(message);
  });

  it('accepts every listed region with its zones, in the config and the construct', () => {
    for (const region of cloudRegions('gke')) {
      expect(
        () => parseLabConfig({ ...gke, region, zones: cloudZones('gke', region).slice(0, 1) }),
        region,
      ).not.toThrow();
    }
    for (const region of cloudRegions('eks')) {
      expect(
        () => parseLabConfig({ ...eks, region, zones: cloudZones('eks', region).slice(0, 2) }),
        region,
      ).not.toThrow();
    }
    expect(() =>
      Testing.synthScope(
        (s) =>
          void new KioskCluster(s, 'k', {
            provider: 'eks',
            name: 'lab1',
            region: 'us-east-1',
            zones: ['us-east-1a', 'us-east-1x'],
            gpuPool: { gpu: { type: GpuType.nvidiaT4(), count: 1 }, maxNodes: 1 },
            bucket: { bucketName: 'lab1-data' },
          }),
      ),
    ).toThrow(/'zones' \('us-east-1x'\) is not a zone of us-east-1/);
  });
});

describe('GPU type x machine type, also when machineType is given (issue 20 #7)', () => {
  const pool = (provider: 'gke' | 'eks', type: GpuType, count: number, machineType: string) => () =>
    resolveNodePool(provider, { maxNodes: 1, machineType, gpu: { type, count } });

  it.each([
    [
      'gke',
      GpuType.nvidiaT4(),
      1,
      'g2-standard-8',
      /'machineType' \('g2-standard-8'\) does not carry nvidia-tesla-t4 on gke: use a n1- type/,
    ],
    [
      'gke',
      GpuType.nvidiaL4(),
      2,
      'g2-standard-8',
      /'machineType' \('g2-standard-8'\) carries 1 nvidia-l4 GPU\(s\), not 'gpu\.count' \(2\); for 2 use g2-standard-24/,
    ],
    ['gke', GpuType.nvidiaL4(), 1, 'n1-standard-8', /does not carry nvidia-l4/],
    [
      'gke',
      GpuType.nvidiaA100(),
      1,
      'a2-highgpu-2g',
      /carries 2 nvidia-tesla-a100 GPU\(s\), not 'gpu\.count' \(1\)/,
    ],
    [
      'gke',
      GpuType.nvidiaT4(),
      8,
      'n1-standard-32',
      /'gpu\.count' \(8\) must be one of 1, 2, 4 for nvidia-tesla-t4/,
    ],
    [
      'eks',
      GpuType.nvidiaA10G(),
      1,
      'g4dn.xlarge',
      /'machineType' \('g4dn\.xlarge'\) does not carry g5 on eks: use a g5 type/,
    ],
    [
      'eks',
      GpuType.nvidiaT4(),
      1,
      'g4dn.12xlarge',
      /carries 4 g4dn GPU\(s\), not 'gpu\.count' \(1\); for 1 use g4dn\.xlarge/,
    ],
    ['eks', GpuType.nvidiaT4(), 1, 'm6i.xlarge', /does not carry g4dn/],
  ] as const)('refuses %s %o x%i on %s', (provider, type, count, machine, message) => {
    expect(pool(provider, type, count, machine)).toThrow(message);
  });

  it.each([
    ['gke', GpuType.nvidiaT4(), 2, 'n1-highmem-8'],
    ['gke', GpuType.nvidiaL4(), 1, 'g2-standard-16'],
    ['gke', GpuType.nvidiaL4(), 4, 'g2-standard-48'],
    ['gke', GpuType.nvidiaA100(), 2, 'a2-highgpu-2g'],
    ['eks', GpuType.nvidiaT4(), 1, 'g4dn.2xlarge'],
    ['eks', GpuType.nvidiaT4(), 4, 'g4dn.12xlarge'],
    ['eks', GpuType.nvidiaL40S(), 8, 'g6e.48xlarge'],
    ['eks', GpuType.nvidiaV100(), 4, 'p3.8xlarge'],
  ] as const)('accepts %s %o x%i on %s', (provider, type, count, machine) => {
    expect(pool(provider, type, count, machine)().machineType).toBe(machine);
  });
});

describe('two clusters in one stack keep their outputs and cloud names apart (issue 20 #7)', () => {
  const eksCluster = (name: string, extra: Partial<KioskClusterProps> = {}): KioskClusterProps =>
    ({
      provider: 'eks',
      name,
      region: 'us-east-1',
      zones: ['us-east-1a', 'us-east-1b'],
      gpuPool: { gpu: { type: GpuType.nvidiaT4(), count: 1 }, maxNodes: 2 },
      bucket: { bucketName: `${name}-data` },
      domain: `${name}.example.org`,
      registry: { repository: name },
      ...extra,
    }) as KioskClusterProps;

  it('EKS: prefixed outputs (certificate, repositories too), distinct IAM roles and helm providers', () => {
    const app = Testing.app({ stackTraces: false });
    const stack = new TerraformStack(app, 'two');
    new AwsProvider(stack, 'aws', { region: 'us-east-1' });
    new KioskCluster(stack, 'a', eksCluster('lab-a'));
    new KioskCluster(stack, 'b', eksCluster('lab-b', { outputPrefix: 'b' }));
    const s = JSON.parse(Testing.synth(stack, true)) as any;
    const outputs = Object.keys(s.output);
    expect(outputs).toEqual(
      expect.arrayContaining([
        'certificate_arn',
        'b_certificate_arn',
        'image_repository_cellkiosk',
        'b_image_repository_cellkiosk',
        'identity_api',
        'b_identity_api',
      ]),
    );
    const roles = Object.values(s.resource.aws_iam_role).map((r: any) => r.name);
    expect(new Set(roles).size).toBe(roles.length);
    expect(roles).toEqual(
      expect.arrayContaining([
        'lab-a-cluster-autoscaler',
        'lab-b-cluster-autoscaler',
        'lab-a-kiosk-api',
        'lab-b-kiosk-api',
      ]),
    );
    expect(s.provider.helm.map((p: any) => p.alias).sort()).toEqual(['lab-a', 'lab-b']);
    const releases = Object.values(s.resource.helm_release).map((r: any) => r.provider);
    expect(new Set(releases)).toEqual(new Set(['helm.lab-a', 'helm.lab-b']));
  });

  it('refuses two clusters that would make one ECR repository, Artifact Registry repository or static IP', () => {
    const eksClash = Testing.app({ stackTraces: false });
    const e = new TerraformStack(eksClash, 'clash');
    new AwsProvider(e, 'aws', { region: 'us-east-1' });
    new KioskCluster(e, 'a', eksCluster('lab-a', { registry: { repository: 'shared' } }));
    new KioskCluster(e, 'b', eksCluster('lab-b', { registry: { repository: 'shared' }, outputPrefix: 'b' }));
    expect(() => Testing.synth(e, true)).toThrow(
      /aws_ecr_repository 'shared\/cellkiosk' is made twice: by clash\/a\/registry\/cellkiosk and by clash\/b\/registry\/cellkiosk; give one cluster another 'registry\.repository'/,
    );

    const gkeClash = Testing.app({ stackTraces: false });
    const g = new TerraformStack(gkeClash, 'clash');
    new GoogleProvider(g, 'google', { project: 'p-12345', region: 'us-central1' });
    const gke = (name: string, outputPrefix?: string): KioskClusterProps => ({
      provider: 'gke',
      project: 'p-12345',
      name,
      region: 'us-central1',
      gpuPool: { gpu: { type: GpuType.nvidiaT4(), count: 1 }, maxNodes: 1 },
      bucket: { bucketName: `${name}-data-x` },
      domain: 'kiosk.example.org',
      registry: { repository: 'cellkiosk' },
      ...(outputPrefix ? { outputPrefix } : {}),
    });
    new KioskCluster(g, 'a', gke('lab-a'));
    new KioskCluster(g, 'b', gke('lab-b', 'b'));
    expect(() => Testing.synth(g, true)).toThrow(
      /google_artifact_registry_repository 'cellkiosk' is made twice/,
    );
  });
});

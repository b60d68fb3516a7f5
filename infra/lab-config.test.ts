import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KioskCluster, GpuType } from '../constructs/index.js';
import { Testing } from 'cdktf';
import { labTls, loadLabConfig, parseLabConfig } from './lab-config.js';
import { eksLab, gkeLab } from './lab-config.test-helpers.js';

const [gke, eks] = [gkeLab, eksLab];

describe('parseLabConfig', () => {
  it('applies the defaults', () => {
    const c = parseLabConfig(gke);
    expect(c.gpu).toEqual({ type: 'nvidia-tesla-t4', countPerNode: 1, minNodes: 0, maxNodes: 2, spot: true });
    expect(c.cpu).toEqual({ machineType: 'e2-standard-4', minNodes: 1, maxNodes: 3 });
    expect(c.images).toMatchObject({ tag: 'latest', cpuImage: 'cellkiosk', gpuImage: 'cellkiosk-gpu' });
    expect(c.zones).toEqual([]);
    expect(c.deletionProtection).toBe(true);
    expect(c.insecureHttp).toBe(false);
    expect(parseLabConfig(eks).zones).toEqual(['us-east-1a', 'us-east-1b']);
    expect(parseLabConfig(eks).cpu.machineType).toBe('m6i.xlarge');
  });

  it.each([
    [{ ...gke, provider: 'azure' }, /'provider' \('azure'\) must be 'gke' or 'eks'/],
    [{ ...gke, name: 'Lab_1' }, /'name' \('Lab_1'\) must be 3\.\.20 lowercase/],
    [{ ...gke, project: undefined }, /'project' is required/],
    [{ ...gke, region: 'us-east-1' }, /'region' \('us-east-1'\) is not a gke region name/],
    [{ ...eks, accountId: '1234' }, /'accountId' \('1234'\) must be a 12-digit AWS account id/],
    [
      { ...gke, gpu: { type: 'g4dn' } },
      /GPU type 'g4dn' is not offered on gke; choose one of: nvidia-tesla-t4/,
    ],
    [{ ...eks, gpu: { type: 'nvidia-tesla-t4' } }, /not offered on eks; choose one of: g4dn, g6/],
    [
      { ...gke, gpu: { type: 'nvidia-tesla-t4', countPerNode: 3 } },
      /'gpu\.count' \(3\) must be one of 1, 2, 4 for nvidia-tesla-t4 on gke/,
    ],
    [
      { ...gke, gpu: { type: 'nvidia-l4', minNodes: 3, maxNodes: 2 } },
      /'gpu\.maxNodes' \(2\) must be >= 'gpu\.minNodes' \(3\)/,
    ],
    [{ ...gke, cpu: { maxNodes: 0 } }, /'cpu\.maxNodes' \(0\) must be an integer in 1\.\.1000/],
    [{ ...gke, cpu: { minNodes: '2' } }, /'cpu\.minNodes' \("2"\) must be an integer/],
    [{ ...gke, bucket: 'Lab_Data' }, /'bucket' \('Lab_Data'\) is not a valid GCS bucket name/],
    [{ ...gke, bucket: 'google-lab' }, /must not start with "goog"/],
    [{ ...gke, bucket: 'ab' }, /must be 3\.\.63 characters long \(got 2\)/],
    [{ ...eks, bucket: 'xn--lab' }, /is not a valid S3 bucket name: it must not start with "xn--"/],
    [{ ...eks, bucket: 'lab.data' }, /may hold only lowercase letters, digits and "-"/],
    [{ ...eks, zones: ['us-east-1a'] }, /'zones' \(1 zones\) must list 2\.\.3 availability zones for EKS/],
    [{ ...gke, zones: ['europe-west1-b'] }, /'zones' .* must be a list of zone names in us-central1/],
    [
      { ...gke, images: { registry: 'https://reg/' } },
      /'images\.registry' \('https:\/\/reg\/'\) must be a registry host/,
    ],
    [{ ...gke, domain: 'Kiosk' }, /'domain' \('Kiosk'\) must be a lowercase DNS name/],
    [{ ...gke, gpus: 2 }, /unknown field\(s\) 'gpus'/],
    [[1, 2], /'\(config\)' must be an object/],
  ])('rejects %j', (input, message) => {
    expect(() => parseLabConfig(input)).toThrow(message);
  });
});

describe('parseLabConfig: TLS unless the lab says otherwise (issue 20 #1)', () => {
  const { domain: _d, ...noDomain } = gke;
  it('refuses a config without a domain (tokens would cross the internet in clear text)', () => {
    expect(() => parseLabConfig(noDomain)).toThrow(
      /'domain' is missing: .*KIOSK_AUTH=tokens.*'insecureHttp': true to serve HTTP knowingly/,
    );
    expect(() => parseLabConfig({ ...gke, insecureHttp: 'yes' })).toThrow(
      /'insecureHttp' must be true or false/,
    );
  });
  it('takes one without a domain that sets insecureHttp, and marks TLS off for it', () => {
    const c = parseLabConfig({ ...noDomain, insecureHttp: true });
    expect(c.insecureHttp).toBe(true);
    expect(labTls(c)).toBe(false);
    expect(labTls(parseLabConfig(gke))).toBe(true);
    expect(labTls(parseLabConfig({ ...gke, insecureHttp: true }))).toBe(false);
  });
});

describe('loadLabConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiosk-config-'));
  it('names the file when it is missing, not JSON, or invalid', async () => {
    await expect(loadLabConfig(join(dir, 'none.json'))).rejects.toThrow(
      /none\.json: no such file \(run `npx kiosk init`/,
    );
    writeFileSync(join(dir, 'bad.json'), '{ nope');
    await expect(loadLabConfig(join(dir, 'bad.json'))).rejects.toThrow(/bad\.json: not valid JSON/);
    writeFileSync(join(dir, 'invalid.json'), JSON.stringify({ ...gke, provider: 'x' }));
    await expect(loadLabConfig(join(dir, 'invalid.json'))).rejects.toThrow(
      /invalid\.json: 'provider' \('x'\)/,
    );
  });
});

describe('construct prop validation', () => {
  const base = {
    provider: 'gke' as const,
    project: 'lab1-project',
    name: 'lab1',
    region: 'us-central1',
    gpuPool: { gpu: { type: GpuType.nvidiaT4(), count: 1 }, maxNodes: 2 },
    bucket: { bucketName: 'lab1-data' },
  };
  const build = (props: object) => () =>
    Testing.synthScope((s) => void new KioskCluster(s, 'k', { ...base, ...props }));

  it.each([
    [{ gpuPool: { ...base.gpuPool, minNodes: 3 } }, /'maxNodes' \(2\) must be >= 'minNodes' \(3\)/],
    [{ cpuPool: { maxNodes: 0 } }, /'maxNodes' \(0\) must be an integer in 1\.\.1000/],
    [
      { gpuPool: { ...base.gpuPool, diskSizeGiB: 5 } },
      /'diskSizeGiB' \(5\) must be an integer in 20\.\.65536/,
    ],
    [
      { gpuPool: { gpu: { type: GpuType.nvidiaA10G(), count: 1 }, maxNodes: 1 } },
      /GPU A10G is not offered on gke/,
    ],
    [
      {
        gpuPool: {
          ...base.gpuPool,
          machineType: 'n1-standard-8',
          gpu: { type: GpuType.nvidiaT4(), count: 0 },
        },
      },
      /'gpu\.count' \(0\)/,
    ],
    [
      { bucket: { bucketName: 'lab1-data', uploadsExpireDays: 0 } },
      /'uploadsExpireDays' \(0\) must be an integer in 1\.\.3650/,
    ],
    [{ name: 'x' }, /'name' \('x'\) must be 3\.\.20/],
    [
      { bucket: { bucketName: 'lab1-data', webOrigins: ['https://kiosk.example.org/'] } },
      /'webOrigins' \('https:\/\/kiosk\.example\.org\/'\) must be '\*' or an origin/,
    ],
    [{ provider: 'eks', region: 'us-east-1', zones: ['us-east-1a'] }, /'zones' \(1 zones\) must list 2\.\.3/],
    [{ region: 'mars-1' }, /'region' \('mars-1'\) is not a gke region name such as us-central1/],
  ])('rejects %j', (props, message) => {
    expect(build(props)).toThrow(message);
  });

  it('accepts an explicit GPU machine type and a GPU count the catalogue lacks there', () => {
    const json = Testing.synthScope((s) => {
      new KioskCluster(s, 'k', {
        ...base,
        gpuPool: { gpu: { type: GpuType.nvidiaT4(), count: 2 }, machineType: 'n1-highmem-8', maxNodes: 1 },
      });
    });
    expect(json).toContain('"machine_type": "n1-highmem-8"');
  });
});

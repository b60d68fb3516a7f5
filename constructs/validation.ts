import { cloudRegions, cloudZones, locationListNote } from './cloud-locations.js';
import type { CloudProvider } from './gpu-type.js';

/** A construct prop or lab-config value outside what the cloud accepts; the message names the prop and value. */
export class KioskConfigError extends Error {
  override readonly name = 'KioskConfigError';
}

/** Throws unless `value` is an integer in [min, max]: `'gpuMaxNodes' (0) must be an integer in 1..100`. */
export function requireIntInRange(prop: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new KioskConfigError(`'${prop}' (${value}) must be an integer in ${min}..${max}`);
  }
}

/** Throws unless `upper >= lower`: `'maxNodes' (1) must be >= 'minNodes' (2)`. */
export function requireOrdered(upperProp: string, upper: number, lowerProp: string, lower: number): void {
  if (upper < lower) {
    throw new KioskConfigError(`'${upperProp}' (${upper}) must be >= '${lowerProp}' (${lower})`);
  }
}

/**
 * Throws unless `name` is a resource name both clouds accept as a prefix: a lowercase DNS label of 3..20
 * characters (letters, digits, `-`; starts with a letter; ends with a letter or digit). 20 leaves room for
 * suffixes within GCP's 30-character service-account ids.
 */
export function requireResourceName(prop: string, name: string): void {
  if (!/^[a-z][a-z0-9-]{1,18}[a-z0-9]$/.test(name)) {
    throw new KioskConfigError(
      `'${prop}' ('${name}') must be 3..20 lowercase letters, digits or '-', start with a letter and end with a letter or digit`,
    );
  }
}

const REGION_EXAMPLES: Readonly<Record<CloudProvider, string>> = {
  gke: 'a gke region name such as us-central1 or europe-west4',
  eks: 'an eks region name such as us-east-1 or eu-central-1',
};

/** Why `region` is not a region of `provider` in the dated list (`cloud-locations.ts`), or undefined. */
export function regionProblem(provider: CloudProvider, region: string): string | undefined {
  return cloudRegions(provider).includes(region)
    ? undefined
    : `is not ${REGION_EXAMPLES[provider]} (${locationListNote(provider)})`;
}

/** Why `zone` is not a zone of `region` on `provider` in the dated list, or undefined. */
export function zoneProblem(provider: CloudProvider, region: string, zone: string): string | undefined {
  const zones = cloudZones(provider, region);
  return zones.includes(zone)
    ? undefined
    : `is not a zone of ${region}: choose from ${zones.join(', ') || '(none listed)'} (${locationListNote(provider)})`;
}

/** Throws naming each zone that `zoneProblem` refuses. */
export function requireZones(
  prop: string,
  provider: CloudProvider,
  region: string,
  zones: readonly string[],
): void {
  for (const zone of zones) {
    const problem = zoneProblem(provider, region, zone);
    if (problem) throw new KioskConfigError(`'${prop}' ('${zone}') ${problem}`);
  }
}

/** Throws `'region' ('mars-1') is not a gke region name such as us-central1 or europe-west4`. */
export function requireRegion(prop: string, provider: CloudProvider, region: string): void {
  const problem = regionProblem(provider, region);
  if (problem) throw new KioskConfigError(`'${prop}' ('${region}') ${problem}`);
}

/**
 * Why `name` is not a valid bucket name on `provider`, or undefined when it is. Rules kept here:
 * both clouds — 3..63 characters, lowercase letters, digits and `-`, starting and ending with a letter or digit.
 * Dots are refused on both (GCS needs domain verification for them; S3 breaks TLS on virtual-hosted URLs).
 * GCS also refuses names starting with `goog` or containing `google`; S3 refuses the reserved `xn--`,
 * `sthree-` and `amzn-s3-demo-` prefixes and `-s3alias` / `--ol-s3` / `--x-s3` suffixes.
 */
export function bucketNameProblem(provider: CloudProvider, name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return `must be 3..63 characters long (got ${name.length})`;
  if (!/^[a-z0-9][a-z0-9-]*[a-z0-9]$/.test(name)) {
    return 'may hold only lowercase letters, digits and "-", and must start and end with a letter or digit';
  }
  if (provider === 'gke') {
    if (name.startsWith('goog')) return 'must not start with "goog" (reserved by Google Cloud Storage)';
    if (name.includes('google')) return 'must not contain "google" (reserved by Google Cloud Storage)';
  } else {
    for (const p of ['xn--', 'sthree-', 'amzn-s3-demo-']) {
      if (name.startsWith(p)) return `must not start with "${p}" (reserved by S3)`;
    }
    for (const s of ['-s3alias', '--ol-s3', '--x-s3']) {
      if (name.endsWith(s)) return `must not end with "${s}" (reserved by S3)`;
    }
  }
  return undefined;
}

/** Throws `'bucketName' ('My_Bucket') is not a valid gcs bucket name: ...` when the name breaks a rule. */
export function requireBucketName(prop: string, provider: CloudProvider, name: string): void {
  const problem = bucketNameProblem(provider, name);
  if (problem) {
    const kind = provider === 'gke' ? 'GCS' : 'S3';
    throw new KioskConfigError(`'${prop}' ('${name}') is not a valid ${kind} bucket name: it ${problem}`);
  }
}

/** Why `domain` is not a host name the Ingress and the bucket's CORS origin can use, or undefined when it is. */
export function domainProblem(domain: string): string | undefined {
  return /^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/.test(domain)
    ? undefined
    : 'must be a lowercase DNS name such as kiosk.example.org';
}

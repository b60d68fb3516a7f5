import type { CloudProvider } from './gpu-type.js';

/**
 * The regions each cloud sells and the zones of each, as data with its date: a lab config or construct naming a
 * region or zone that is not here is refused at synth instead of failing at `terraform apply`. When a cloud
 * opens a region after this date, add it here (and bump the date).
 *
 * GCP: Compute Engine regions and zones (https://cloud.google.com/compute/docs/regions-zones), zones as their
 * letter suffixes. AWS: commercial, GovCloud and China regions with the availability-zone letters that exist
 * (https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html); which letters an account
 * sees in us-east-1 and us-west-1 varies, so all are listed. Compiled from those pages as the authors knew
 * them; not fetched at build time.
 */
export const CLOUD_LOCATIONS_AS_OF: Readonly<Record<CloudProvider, string>> = {
  gke: '2025-07',
  eks: '2025-07',
};

const abc = 'abc';
const GCP: Readonly<Record<string, string>> = {
  'africa-south1': abc,
  'asia-east1': abc,
  'asia-east2': abc,
  'asia-northeast1': abc,
  'asia-northeast2': abc,
  'asia-northeast3': abc,
  'asia-south1': abc,
  'asia-south2': abc,
  'asia-southeast1': abc,
  'asia-southeast2': abc,
  'australia-southeast1': abc,
  'australia-southeast2': abc,
  'europe-central2': abc,
  'europe-north1': abc,
  'europe-north2': abc,
  'europe-southwest1': abc,
  'europe-west1': 'bcd',
  'europe-west2': abc,
  'europe-west3': abc,
  'europe-west4': abc,
  'europe-west6': abc,
  'europe-west8': abc,
  'europe-west9': abc,
  'europe-west10': abc,
  'europe-west12': abc,
  'me-central1': abc,
  'me-central2': abc,
  'me-west1': abc,
  'northamerica-northeast1': abc,
  'northamerica-northeast2': abc,
  'northamerica-south1': abc,
  'southamerica-east1': abc,
  'southamerica-west1': abc,
  'us-central1': 'abcf',
  'us-east1': 'bcd',
  'us-east4': abc,
  'us-east5': abc,
  'us-south1': abc,
  'us-west1': abc,
  'us-west2': abc,
  'us-west3': abc,
  'us-west4': abc,
};

const AWS: Readonly<Record<string, string>> = {
  'us-east-1': 'abcdef',
  'us-east-2': abc,
  'us-west-1': abc,
  'us-west-2': 'abcd',
  'af-south-1': abc,
  'ap-east-1': abc,
  'ap-south-1': abc,
  'ap-south-2': abc,
  'ap-southeast-1': abc,
  'ap-southeast-2': abc,
  'ap-southeast-3': abc,
  'ap-southeast-4': abc,
  'ap-southeast-5': abc,
  'ap-southeast-7': abc,
  'ap-northeast-1': 'acd',
  'ap-northeast-2': 'abcd',
  'ap-northeast-3': abc,
  'ca-central-1': 'abd',
  'ca-west-1': abc,
  'eu-central-1': abc,
  'eu-central-2': abc,
  'eu-north-1': abc,
  'eu-south-1': abc,
  'eu-south-2': abc,
  'eu-west-1': abc,
  'eu-west-2': abc,
  'eu-west-3': abc,
  'il-central-1': abc,
  'me-central-1': abc,
  'me-south-1': abc,
  'mx-central-1': abc,
  'sa-east-1': abc,
  'us-gov-east-1': abc,
  'us-gov-west-1': abc,
  'cn-north-1': 'abd',
  'cn-northwest-1': abc,
};

const LOCATIONS: Readonly<Record<CloudProvider, Readonly<Record<string, string>>>> = { gke: GCP, eks: AWS };

/** The regions of `provider` in the list, sorted. */
export function cloudRegions(provider: CloudProvider): string[] {
  return Object.keys(LOCATIONS[provider]).sort();
}

/** The zones of `region` (GKE `us-central1-a`, EKS `us-east-1a`), or [] for a region not in the list. */
export function cloudZones(provider: CloudProvider, region: string): string[] {
  const letters = LOCATIONS[provider][region] ?? '';
  return [...letters].map((l) => (provider === 'gke' ? `${region}-${l}` : `${region}${l}`));
}

/** Where the list is, for messages. */
export function locationListNote(provider: CloudProvider): string {
  return `the ${provider} list of ${CLOUD_LOCATIONS_AS_OF[provider]} in constructs/cloud-locations.ts; if the cloud opened it since, add it there`;
}

/**
 * Node prices for the planner, USD per node-hour, per cloud and GPU type: one GPU worker node (host VM +
 * one GPU), one CPU worker node, and the always-on part (managed control plane + one small node for the API
 * and Redis).
 *
 * PRICES_AS_OF and the sources below: the figures were written down from the providers' public price lists
 * (us-central1 for GCP, us-east-1 for AWS) by the planner's author; this build machine has no internet, so
 * they were NOT fetched live and are indicative only. Spot prices move (GCP: up to once a day; AWS: gradually
 * with supply and demand) — check the pages, or pass `--gpu-node-price` / `--cpu-node-price` to `kiosk plan`.
 * Sources:
 * - GCP: https://cloud.google.com/compute/gpus-pricing, https://cloud.google.com/spot-vms/pricing,
 *   https://cloud.google.com/compute/vm-instance-pricing, https://cloud.google.com/kubernetes-engine/pricing
 * - AWS: https://aws.amazon.com/ec2/pricing/on-demand/, https://aws.amazon.com/ec2/spot/pricing/,
 *   https://aws.amazon.com/eks/pricing/
 */

export const PRICES_AS_OF = '2026-11-25';

export type Cloud = 'gcp' | 'aws';

export interface NodePrice {
  /** Node type as the provider names it. */
  readonly machine: string;
  readonly onDemand: number;
  readonly spot: number;
}

export interface CloudPrices {
  /** GPU type (short name: t4, l4, a10g, v100, a100) → a one-GPU worker node. */
  readonly gpu: Readonly<Record<string, NodePrice>>;
  /** A CPU worker node (one CPU worker per node). */
  readonly cpu: NodePrice;
  /** Control plane + the always-on API/Redis node, on demand. */
  readonly fixedPerHour: number;
  readonly fixedNote: string;
}

export const PRICE_TABLE: Readonly<Record<Cloud, CloudPrices>> = {
  gcp: {
    gpu: {
      t4: { machine: 'n1-standard-4 + 1× T4', onDemand: 0.54, spot: 0.15 },
      l4: { machine: 'g2-standard-4 (1× L4)', onDemand: 0.71, spot: 0.28 },
      v100: { machine: 'n1-standard-8 + 1× V100', onDemand: 2.86, spot: 0.82 },
      a100: { machine: 'a2-highgpu-1g (1× A100 40GB)', onDemand: 3.67, spot: 1.1 },
    },
    cpu: { machine: 'e2-standard-4', onDemand: 0.134, spot: 0.04 },
    fixedPerHour: 0.1 + 0.067,
    fixedNote: 'GKE cluster fee $0.10/h + one e2-standard-2 on demand',
  },
  aws: {
    gpu: {
      t4: { machine: 'g4dn.xlarge (1× T4)', onDemand: 0.526, spot: 0.21 },
      a10g: { machine: 'g5.xlarge (1× A10G)', onDemand: 1.006, spot: 0.4 },
      l4: { machine: 'g6.xlarge (1× L4)', onDemand: 0.805, spot: 0.35 },
      v100: { machine: 'p3.2xlarge (1× V100)', onDemand: 3.06, spot: 0.92 },
    },
    cpu: { machine: 'c5.xlarge', onDemand: 0.17, spot: 0.07 },
    fixedPerHour: 0.1 + 0.0832,
    fixedNote: 'EKS cluster fee $0.10/h + one t3.large on demand',
  },
};

export interface ChosenPrices {
  readonly cloud: Cloud;
  readonly gpuType: string;
  readonly spot: boolean;
  readonly gpuNode: NodePrice & { readonly price: number };
  readonly cpuNode: NodePrice & { readonly price: number };
  readonly fixedPerHour: number;
  readonly fixedNote: string;
}

/** Looks up a cloud and GPU type; the error lists what the table has. */
export function choosePrices(cloud: string, gpuType: string, spot: boolean): ChosenPrices {
  if (cloud !== 'gcp' && cloud !== 'aws')
    throw new RangeError(`cloud must be gcp or aws; got ${JSON.stringify(cloud)}`);
  const t = PRICE_TABLE[cloud];
  const g = t.gpu[gpuType];
  if (!g)
    throw new RangeError(
      `no ${cloud} price for GPU type ${JSON.stringify(gpuType)}; known: ${Object.keys(t.gpu).join(', ')}`,
    );
  return {
    cloud,
    gpuType,
    spot,
    gpuNode: { ...g, price: spot ? g.spot : g.onDemand },
    cpuNode: { ...t.cpu, price: spot ? t.cpu.spot : t.cpu.onDemand },
    fixedPerHour: t.fixedPerHour,
    fixedNote: t.fixedNote,
  };
}

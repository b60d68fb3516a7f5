import type { CloudProvider, GpuType } from './gpu-type.js';
import { requireIntInRange, requireOrdered } from './validation.js';

/** GPUs on every node of a pool; set together so a pool can't name a GPU without a count or vice versa. */
export interface NodeGpu {
  readonly type: GpuType;
  /** GPUs per node; must be a shape the cloud sells (see `GpuType.countsOn`). */
  readonly count: number;
}

/** What a node pool runs on and how far it scales; shared by the GKE and EKS pool constructs. */
export interface NodePoolProps {
  /** Fewest nodes the cluster autoscaler keeps (whole pool, all zones). @default 0 for GPU pools, 1 otherwise */
  readonly minNodes?: number;
  /** Most nodes the cluster autoscaler may start (whole pool, all zones). */
  readonly maxNodes: number;
  /** Machine (GKE) or instance (EKS) type. @default - the type that carries `gpu`, else e2-standard-4 / m6i.xlarge */
  readonly machineType?: string;
  /** GPUs per node; a GPU pool is also tainted `nvidia.com/gpu=present:NoSchedule`. @default - no GPUs */
  readonly gpu?: NodeGpu;
  /** Spot (preemptible) capacity: 60-90% cheaper, may be reclaimed. @default true for GPU pools, false otherwise */
  readonly spot?: boolean;
  /** Boot disk per node. @default 100 */
  readonly diskSizeGiB?: number;
}

/** The pool settings with every default applied and every value checked. */
export interface ResolvedNodePool {
  readonly minNodes: number;
  readonly maxNodes: number;
  readonly machineType: string;
  readonly gpu?: NodeGpu;
  readonly spot: boolean;
  readonly diskSizeGiB: number;
  /** Value of the `kiosk.io/pool` node label: `gpu` or `cpu`. */
  readonly poolLabel: 'gpu' | 'cpu';
}

/** The node label the chart's node selectors match: `kiosk.io/pool=cpu|gpu`. */
export const POOL_LABEL = 'kiosk.io/pool';

/** A Kubernetes taint written on nodes (by the cloud) and tolerated by pods (by the chart). */
export class Taint {
  /** `nvidia.com/gpu=present:NoSchedule`: keeps every pod without a matching toleration off GPU nodes. */
  static gpu(): Taint {
    return new Taint('nvidia.com/gpu', 'present', 'NoSchedule');
  }
  private constructor(
    readonly key: string,
    readonly value: string,
    readonly effect: 'NoSchedule',
  ) {}
  /** The effect as GKE `node_config.taint` and EKS `taint` spell it. */
  get cloudEffect(): string {
    return 'NO_SCHEDULE';
  }
}

/** Applies defaults and validates; throws naming the prop, the allowed range and the value received. */
export function resolveNodePool(provider: CloudProvider, props: NodePoolProps): ResolvedNodePool {
  const gpu = props.gpu;
  const minNodes = props.minNodes ?? (gpu ? 0 : 1);
  requireIntInRange('minNodes', minNodes, 0, 1000);
  requireIntInRange('maxNodes', props.maxNodes, 1, 1000);
  requireOrdered('maxNodes', props.maxNodes, 'minNodes', minNodes);
  const diskSizeGiB = props.diskSizeGiB ?? 100;
  requireIntInRange('diskSizeGiB', diskSizeGiB, 20, 65536);
  const machineType =
    props.machineType ??
    (gpu
      ? gpu.type.machineTypeFor(provider, gpu.count)
      : provider === 'gke'
        ? 'e2-standard-4'
        : 'm6i.xlarge');
  if (gpu && props.machineType !== undefined) {
    // An explicit machine type skips the catalogue lookup: check that it carries this GPU, this many.
    requireIntInRange('gpu.count', gpu.count, 1, 16);
    gpu.type.checkMachineType(provider, props.machineType, gpu.count);
  }
  return {
    minNodes,
    maxNodes: props.maxNodes,
    machineType,
    ...(gpu ? { gpu } : {}),
    spot: props.spot ?? gpu !== undefined,
    diskSizeGiB,
    poolLabel: gpu ? 'gpu' : 'cpu',
  };
}

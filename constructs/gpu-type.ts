import { GPU_IMAGES, imageDrives, type GpuImage } from './gpu-images.js';
import { KioskConfigError } from './validation.js';

/** The clouds the construct library can synthesize a kiosk cluster for. */
export type CloudProvider = 'gke' | 'eks';

/** A GPU-count → machine-type table: how many GPUs one node of that machine type carries. */
type MachineByCount = Readonly<Record<number, string>>;

interface GpuEntry {
  /** CUDA compute capability (NVIDIA's table): what a CUDA build must target to run on this GPU. */
  readonly computeCapability: number;
  /** GKE `guest_accelerator.type`, when GKE offers this GPU. */
  readonly gkeAccelerator?: string;
  /** GKE machine type per GPU count on one node. */
  readonly gkeMachines?: MachineByCount;
  /** EC2 instance family whose instances carry this GPU, when EKS offers it. */
  readonly eksFamily?: string;
  /** EC2 instance type per GPU count on one node. */
  readonly eksInstances?: MachineByCount;
}

/** Which GPUs each provider offers and on which machine shapes (2025 catalogue; extend as clouds add GPUs). */
const CATALOG: Readonly<Record<string, GpuEntry>> = {
  T4: {
    computeCapability: 7.5,
    gkeAccelerator: 'nvidia-tesla-t4',
    gkeMachines: { 1: 'n1-standard-4', 2: 'n1-standard-8', 4: 'n1-standard-16' },
    eksFamily: 'g4dn',
    eksInstances: { 1: 'g4dn.xlarge', 4: 'g4dn.12xlarge', 8: 'g4dn.metal' },
  },
  L4: {
    computeCapability: 8.9,
    gkeAccelerator: 'nvidia-l4',
    gkeMachines: { 1: 'g2-standard-4', 2: 'g2-standard-24', 4: 'g2-standard-48', 8: 'g2-standard-96' },
    eksFamily: 'g6',
    eksInstances: { 1: 'g6.xlarge', 4: 'g6.12xlarge', 8: 'g6.48xlarge' },
  },
  A10G: {
    computeCapability: 8.6,
    eksFamily: 'g5',
    eksInstances: { 1: 'g5.xlarge', 4: 'g5.12xlarge', 8: 'g5.48xlarge' },
  },
  L40S: {
    computeCapability: 8.9,
    eksFamily: 'g6e',
    eksInstances: { 1: 'g6e.xlarge', 4: 'g6e.12xlarge', 8: 'g6e.48xlarge' },
  },
  V100: {
    computeCapability: 7.0,
    gkeAccelerator: 'nvidia-tesla-v100',
    gkeMachines: { 1: 'n1-standard-8', 2: 'n1-standard-16', 4: 'n1-standard-32', 8: 'n1-standard-64' },
    eksFamily: 'p3',
    eksInstances: { 1: 'p3.2xlarge', 4: 'p3.8xlarge', 8: 'p3.16xlarge' },
  },
  A100: {
    computeCapability: 8.0,
    gkeAccelerator: 'nvidia-tesla-a100',
    gkeMachines: { 1: 'a2-highgpu-1g', 2: 'a2-highgpu-2g', 4: 'a2-highgpu-4g', 8: 'a2-highgpu-8g' },
    eksFamily: 'p4d',
    eksInstances: { 8: 'p4d.24xlarge' },
  },
  A100_80GB: {
    computeCapability: 8.0,
    gkeAccelerator: 'nvidia-a100-80gb',
    gkeMachines: { 1: 'a2-ultragpu-1g', 2: 'a2-ultragpu-2g', 4: 'a2-ultragpu-4g', 8: 'a2-ultragpu-8g' },
  },
  H100: {
    computeCapability: 9.0,
    gkeAccelerator: 'nvidia-h100-80gb',
    gkeMachines: { 8: 'a3-highgpu-8g' },
    eksFamily: 'p5',
    eksInstances: { 8: 'p5.48xlarge' },
  },
};

/** The GKE machine family (name prefix) that carries each GPU. */
const GKE_FAMILY: Readonly<Record<string, string>> = {
  T4: 'n1-',
  V100: 'n1-',
  L4: 'g2-standard-',
  A100: 'a2-highgpu-',
  A100_80GB: 'a2-ultragpu-',
  H100: 'a3-highgpu-',
};
/** GPUs on each G2 machine type (vCPUs → L4s). */
const G2_GPUS: Readonly<Record<string, number>> = { 4: 1, 8: 1, 12: 1, 16: 1, 32: 1, 24: 2, 48: 4, 96: 8 };

/**
 * GPUs of model `model` on `machineType`: a number where the type fixes it, undefined where the GPUs are
 * attached in a chosen count (GKE N1), 'wrong-family' where the type cannot carry that GPU.
 */
function gpusOfMachine(
  provider: CloudProvider,
  model: string,
  machineType: string,
): number | undefined | 'wrong-family' {
  if (provider === 'gke') {
    const family = GKE_FAMILY[model];
    if (!family || !machineType.startsWith(family)) return 'wrong-family';
    if (family === 'n1-') return undefined;
    if (family === 'g2-standard-') return G2_GPUS[machineType.slice(family.length)] ?? 'wrong-family';
    const m = /^(\d+)g$/.exec(machineType.slice(family.length));
    return m ? Number(m[1]) : 'wrong-family';
  }
  const [fam, size] = machineType.split('.');
  if (!fam || !size || fam !== CATALOG[model]?.eksFamily) return 'wrong-family';
  const listed = Object.entries(CATALOG[model]!.eksInstances ?? {}).find(([, t]) => t === machineType);
  if (listed) return Number(listed[0]);
  // EC2's GPU instance sizes: the x-large sizes of a family carry one GPU, 12/24xlarge four, 48xlarge and
  // metal eight (p3: 2xlarge 1, 8xlarge 4, 16xlarge 8).
  if (fam === 'p3')
    return ({ '2xlarge': 1, '8xlarge': 4, '16xlarge': 8 } as Record<string, number>)[size] ?? 'wrong-family';
  if (/^(\d*)xlarge$/.test(size)) {
    const n = Number(size.replace('xlarge', '') || 1);
    if (n === 12 || n === 24) return 4;
    if (n === 48) return 8;
    return [1, 2, 4, 8, 16].includes(n) ? 1 : 'wrong-family';
  }
  return size === 'metal' ? 8 : 'wrong-family';
}

/**
 * An NVIDIA GPU model, named the way each cloud names it. Build one with a factory
 * (`GpuType.nvidiaT4()`) or parse a provider's own name with `GpuType.of('gke', 'nvidia-l4')`.
 */
export class GpuType {
  /** NVIDIA T4 (16 GB): GKE `nvidia-tesla-t4`, EKS `g4dn`. The cheapest inference GPU on both clouds. */
  static nvidiaT4(): GpuType {
    return new GpuType('T4');
  }
  /** NVIDIA L4 (24 GB): GKE `nvidia-l4`, EKS `g6`. */
  static nvidiaL4(): GpuType {
    return new GpuType('L4');
  }
  /** NVIDIA A10G (24 GB): EKS `g5` only. */
  static nvidiaA10G(): GpuType {
    return new GpuType('A10G');
  }
  /** NVIDIA L40S (48 GB): EKS `g6e` only. */
  static nvidiaL40S(): GpuType {
    return new GpuType('L40S');
  }
  /** NVIDIA V100 (16 GB): GKE `nvidia-tesla-v100`, EKS `p3`. */
  static nvidiaV100(): GpuType {
    return new GpuType('V100');
  }
  /** NVIDIA A100 (40 GB): GKE `nvidia-tesla-a100`, EKS `p4d` (8 per node). */
  static nvidiaA100(): GpuType {
    return new GpuType('A100');
  }
  /** NVIDIA A100 (80 GB): GKE `nvidia-a100-80gb` only. */
  static nvidiaA100_80GB(): GpuType {
    return new GpuType('A100_80GB');
  }
  /** NVIDIA H100 (80 GB): GKE `nvidia-h100-80gb`, EKS `p5` (8 per node). */
  static nvidiaH100(): GpuType {
    return new GpuType('H100');
  }

  /** The provider's names of the GPUs it offers, in catalogue order (GKE accelerator types, EKS families). */
  static choices(provider: CloudProvider): string[] {
    return Object.values(CATALOG)
      .map((e) => (provider === 'gke' ? e.gkeAccelerator : e.eksFamily))
      .filter((n): n is string => n !== undefined);
  }

  /** Parses a provider's own name (`nvidia-tesla-t4` on GKE, `g4dn` on EKS); throws listing the valid names. */
  static of(provider: CloudProvider, name: string): GpuType {
    for (const [model, e] of Object.entries(CATALOG)) {
      if ((provider === 'gke' ? e.gkeAccelerator : e.eksFamily) === name) return new GpuType(model);
    }
    throw new KioskConfigError(
      `GPU type '${name}' is not offered on ${provider}; choose one of: ${GpuType.choices(provider).join(', ')}`,
    );
  }

  private constructor(
    /** Short model name, e.g. `T4`. */
    readonly model: string,
  ) {}

  /** This GPU's name on `provider` (GKE accelerator type or EKS instance family); throws when not offered. */
  nameOn(provider: CloudProvider): string {
    const e = CATALOG[this.model]!;
    const name = provider === 'gke' ? e.gkeAccelerator : e.eksFamily;
    if (!name) throw new KioskConfigError(`GPU ${this.model} is not offered on ${provider}`);
    return name;
  }

  /** GPU counts per node that `provider` offers for this GPU, ascending. */
  countsOn(provider: CloudProvider): number[] {
    return Object.keys(this.machines(provider))
      .map(Number)
      .sort((a, b) => a - b);
  }

  /**
   * The machine type (GKE) or instance type (EKS) carrying `count` of these GPUs.
   * Throws `'gpu.count' (3) must be one of 1, 2, 4 for nvidia-tesla-t4 on gke` for shapes the cloud lacks.
   */
  machineTypeFor(provider: CloudProvider, count: number): string {
    const machine = this.machines(provider)[count];
    if (!machine) {
      throw new KioskConfigError(
        `'gpu.count' (${count}) must be one of ${this.countsOn(provider).join(', ')} for ${this.nameOn(provider)} on ${provider}`,
      );
    }
    return machine;
  }

  /**
   * Checks a machine (GKE) or instance (EKS) type named explicitly against this GPU and `count`: the type must
   * be of a family that carries this GPU (GKE: N1 for T4/V100, G2 for L4, A2 for A100, A3 for H100; EKS: the
   * GPU's instance family), and where the type fixes its GPU count (G2, A2, A3; every EKS GPU instance) the
   * count must be that one. Throws naming the type, the GPU and what would fit.
   */
  checkMachineType(provider: CloudProvider, machineType: string, count: number): void {
    const name = this.nameOn(provider);
    const fixed = gpusOfMachine(provider, this.model, machineType);
    if (fixed === 'wrong-family') {
      throw new KioskConfigError(
        `'machineType' ('${machineType}') does not carry ${name} on ${provider}: use ${this.familyHint(provider)}`,
      );
    }
    if (fixed === undefined) {
      // N1 takes 1, 2 or 4 T4s (8 V100s too): the catalogue's counts.
      if (!this.countsOn(provider).includes(count))
        throw new KioskConfigError(
          `'gpu.count' (${count}) must be one of ${this.countsOn(provider).join(', ')} for ${name} on ${provider}`,
        );
      return;
    }
    if (fixed !== count) {
      throw new KioskConfigError(
        `'machineType' ('${machineType}') carries ${fixed} ${name} GPU(s), not 'gpu.count' (${count}); ` +
          `for ${count} use ${this.machines(provider)[count] ?? `one of ${this.countsOn(provider).join(', ')} GPUs`}`,
      );
    }
  }

  private familyHint(provider: CloudProvider): string {
    const types = Object.values(this.machines(provider));
    return `a ${GKE_FAMILY[this.model] ?? CATALOG[this.model]!.eksFamily ?? ''} type such as ${types.join(', ')}`;
  }

  /** CUDA compute capability, e.g. 7.5 for the T4. */
  get computeCapability(): number {
    return CATALOG[this.model]!.computeCapability;
  }

  /**
   * Why the GPU image the GPU workers run (`GPU_IMAGES.inference`, docker/gpu.Dockerfile) cannot drive this
   * GPU, naming the GPUs of `provider` it can; undefined when it can.
   */
  gpuImageProblem(provider: CloudProvider): string | undefined {
    return this.imageProblem(provider, GPU_IMAGES.inference);
  }

  /**
   * Why the training image (`GPU_IMAGES.training`) cannot train on this GPU, naming the GPUs it can; undefined
   * when it can. Not a refusal: the GPU workers still train, on the CPU (docs/deploy.md).
   */
  trainingImageProblem(provider: CloudProvider): string | undefined {
    return this.imageProblem(provider, GPU_IMAGES.training);
  }

  private imageProblem(provider: CloudProvider, image: GpuImage): string | undefined {
    if (imageDrives(image, this.computeCapability)) return undefined;
    const ok = Object.values(CATALOG)
      .filter((e) => imageDrives(image, e.computeCapability))
      .map((e) => (provider === 'gke' ? e.gkeAccelerator : e.eksFamily))
      .filter((n): n is string => n !== undefined);
    return (
      `${this.nameOn(provider)} (${this.model}, compute capability ${this.computeCapability.toFixed(1)}) is not a GPU ` +
      `the ${image.target} image can drive (${image.stack}; docs/deploy.md); choose one of: ${ok.join(', ')}`
    );
  }

  private machines(provider: CloudProvider): MachineByCount {
    this.nameOn(provider);
    const e = CATALOG[this.model]!;
    return (provider === 'gke' ? e.gkeMachines : e.eksInstances) ?? {};
  }
}

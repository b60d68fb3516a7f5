/**
 * A job type as a plug-in (issue 21 #1): its input contract, its stages and its outputs, in one definition
 * that the API (`GET /v1/job-types`, the DeepCell `/api/jobtypes`), the CLI (`kiosk segment --job-type`),
 * the web UI's chooser and the stage processors all read. Each job type is one folder under
 * workers/jobtypes/ holding `job-type.ts`, whose default export is a {@link JobTypeDefinition}; the
 * registry (registry.ts) finds the folders itself, so adding a type touches that folder only
 * (docs/job-types.md).
 */
import type { Labels } from '../image/types.js';
import type { SegmentationStages } from '../processors/stages.js';

/** One input channel the job type takes, in the order its stages take them. */
export interface ChannelSpec {
  /** Short name the UI and the docs show, e.g. `nuclear`, `membrane`. */
  readonly name: string;
  readonly description: string;
}

/** What a job type accepts. */
export interface JobTypeInput {
  /**
   * The channels, in order: a job's `options.channels` gives the file's channel index for each of them
   * (`[2, 0]`: nuclear is the file's channel 2, membrane its channel 0).
   */
  readonly channels: readonly ChannelSpec[];
  /**
   * True when the model decides how many channels there are (the first spec names them in general); false
   * when `options.channels`, if given, must list exactly `channels.length` indices (the API answers 400
   * otherwise). @default false
   */
  readonly channelsFromModel?: boolean;
  /**
   * Axes of one input image, outermost first, channels aside: `YX` (a 2-D image); `ZYX` too when the stages
   * take a stack as one volume (a job's option `volume`).
   */
  readonly axes: readonly string[];
  /** Pixel types accepted (decoded to float before the stages). */
  readonly dtypes: readonly string[];
}

/** One output of a job of this type. The first output is the primary one (`labelsUrl`, `_feature_0.tif`). */
export interface JobTypeOutput {
  /** `cells`, `nuclei`...: the file of output k > 0 is `NAME.<name>.labels.tif`. */
  readonly name: string;
  readonly kind: 'labels';
  readonly description: string;
}

/**
 * Several label images of one input, in the order of the job type's outputs; same height and width. A
 * job type with one output returns plain Labels from postprocess instead.
 */
export interface LabelOutputs {
  readonly outputs: readonly Labels[];
}

/**
 * The stages of a job type: a SegmentationStages whose postprocess may return several label images, and
 * whose nextScale also sees all of them (`labels` is the first).
 */
export interface JobStages extends Omit<SegmentationStages, 'postprocess' | 'nextScale'> {
  postprocess(
    ...args: Parameters<SegmentationStages['postprocess']>
  ): Labels | LabelOutputs | Promise<Labels | LabelOutputs>;
  nextScale?(
    ...args: [...Parameters<NonNullable<SegmentationStages['nextScale']>>, outputs: readonly Labels[]]
  ): number | undefined;
}

export interface JobTypeDefinition {
  /** The name jobs give (`type` in /v1/jobs, `jobType` in /api/predict): lower case, digits and `-`. */
  readonly name: string;
  /** Other names the DeepCell-compatible routes accept for it (a DeepCell client's `-j mesmer`). */
  readonly aliases?: readonly string[];
  readonly description: string;
  readonly input: JobTypeInput;
  readonly outputs: readonly JobTypeOutput[];
  /** The model a job of this type uses when it names none. @default - the kiosk's default model */
  readonly defaultModel?: string;
  /**
   * The stages, made from the worker's model stages `base`: the real pipeline (workers/pipeline, as
   * `kiosk segment` runs it), or in tests the trivial threshold stages. A type that only changes what
   * comes before or after the model wraps `base`; one with its own math replaces it.
   */
  stages(base: SegmentationStages): JobStages;
}

/** The primary label image and all outputs of a postprocess result. */
export function labelOutputs(r: Labels | LabelOutputs): readonly Labels[] {
  return 'outputs' in r ? r.outputs : [r];
}

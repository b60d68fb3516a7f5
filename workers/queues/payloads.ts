/**
 * Typed payloads of the queues. They carry bucket keys and small options, never pixels: the stages hand
 * arrays to each other through the bucket (`scratch/<job>/...`).
 */

/** What a user asked for, besides the image. All optional fields have defaults in the stages. */
export interface SegmentationOptions {
  /** Physical pixel size of the input in µm; rescaled to the model's µm/px. @default - the file's, else the model's */
  readonly micronsPerPixel?: number;
  /** Explicit rescale factor image px → model px (DeepCell `dataRescale`); overrides µm/px. @default - none */
  readonly scale?: number;
  /**
   * Input channels to use, 0-based, in the order the model wants them.
   * @default - every channel when the image has as many as the model takes, else channel 0
   */
  readonly channels?: readonly number[];
  /**
   * Axis order of the input in the DeepCell vocabulary (`XY`, `CXY`, `XYC`, `ZXY`...).
   * @default - the axes the file states (a plain 2-D image is `XY`)
   */
  readonly dimensionOrder?: string;
  /**
   * The file is a ZYX stack to segment in 3-D (each plane at one scale, stitched across z): one ZYX label
   * TIFF. @default false - a stack is refused
   */
  readonly volume?: boolean;
  /**
   * Job type whole-cell only: a bioimage.io import (`name` or `name@version`) predicting the cells'
   * foreground (+ boundaries) that replaces the classical second stage; the job's model still gives the
   * nuclei. The API pins it to `name@version` when it accepts the job. @default - the classical stage
   */
  readonly cellModel?: string;
}

export interface ModelRef {
  readonly name: string;
  readonly version: string;
}

/** The payload of every stage of one image: preprocess, predict and postprocess carry the same data. */
export interface ImageJobData {
  /** The user-visible job id (the record's id), not the BullMQ id. */
  readonly jobId: string;
  readonly lab: string;
  /** Bucket key of the uploaded image. */
  readonly inputKey: string;
  /** The file's name as the user gave it (a zip entry keeps its path): used in results and errors. */
  readonly name: string;
  readonly model: ModelRef;
  /** The job type (workers/jobtypes), whose stages run this image. @default 'segmentation' */
  readonly type?: string;
  readonly options: SegmentationOptions;
  /** The zip/multi-file parent's job id, when this image is one of many. */
  readonly parentId?: string;
  /** Segmentation pass, 1-based (a second pass re-runs at the measured nucleus size). @default 1 */
  readonly pass?: number;
  /** Image px → model px factor of this pass. @default - from the options (µm/px), else 1 */
  readonly scale?: number;
}

/** The payload of a zip/multi-file parent's `pack` job; its children are the images' postprocess jobs. */
export interface PackJobData {
  readonly jobId: string;
  readonly lab: string;
  readonly name: string;
  readonly children: readonly { readonly jobId: string; readonly name: string }[];
}

/** What each stage returns (stored by BullMQ as the job's return value): where it put its output. */
export interface StageResult {
  readonly key: string;
  readonly ms: number;
}

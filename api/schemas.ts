import { Type, type Static } from '@sinclair/typebox';
import { STATUSES } from '../workers/queues/records.js';

export const JobStatus = Type.Union(
  STATUSES.map((s) => Type.Literal(s)),
  {
    description:
      'new → started → pre-processing → predicting → post-processing → saving-results → done | failed; batches: waiting',
  },
);

export const SegmentationOptions = Type.Object(
  {
    micronsPerPixel: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 100,
        description:
          'µm per pixel of the images; without it the nucleus size is estimated (two passes). At most 8x ' +
          "the model's own µm/px either way (a job outside that range is refused)",
      }),
    ),
    scale: Type.Optional(
      Type.Number({
        minimum: 0.125,
        maximum: 8,
        description: 'explicit rescale factor image px → model px (DeepCell dataRescale)',
      }),
    ),
    channels: Type.Optional(
      Type.Array(Type.Integer({ minimum: 0, maximum: 4095 }), {
        maxItems: 64,
        description: 'channel indices, 0-based',
      }),
    ),
    dimensionOrder: Type.Optional(
      Type.String({
        pattern: '^[XYCBZTxyczbt]{2,6}$',
        description: "axis order of the data, e.g. 'XY', 'CXY', 'XYC'",
      }),
    ),
    volume: Type.Optional(
      Type.Boolean({
        description:
          'a ZYX stack (multi-page TIFF, OME-TIFF Z) segmented in 3-D: planes at one scale, stitched across z; ' +
          'the labels are one ZYX label TIFF (job type segmentation)',
      }),
    ),
    cellModel: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}(@[0-9]{1,9})?$',
        description:
          "job type whole-cell: a bioimage.io import (name or name@version) predicting the cells' foreground " +
          "(+ boundaries) that replaces the classical second stage; the job's model still gives the nuclei",
      }),
    ),
  },
  { additionalProperties: false },
);

export const CreateJobBody = Type.Object(
  {
    type: Type.Optional(
      Type.String({ default: 'segmentation', description: 'a job type from /v1/job-types' }),
    ),
    model: Type.Optional(Type.String({ description: "model name; default: the job type's model" })),
    modelVersion: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$', description: 'default: the newest' })),
    inputs: Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), {
      minItems: 1,
      maxItems: 10_000,
      description: 'upload keys from POST /v1/uploads',
    }),
    name: Type.Optional(Type.String({ maxLength: 256, description: 'a name for a batch' })),
    options: Type.Optional(SegmentationOptions),
  },
  { additionalProperties: false },
);
export type CreateJobBody = Static<typeof CreateJobBody>;

const ChildView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  status: JobStatus,
  progress: Type.Number(),
  reason: Type.Optional(Type.String()),
  objectCount: Type.Optional(Type.Integer()),
});

export const JobView = Type.Object(
  {
    id: Type.String(),
    type: Type.String(),
    kind: Type.Union([Type.Literal('image'), Type.Literal('batch')]),
    name: Type.String(),
    status: JobStatus,
    progress: Type.Number({ minimum: 0, maximum: 100 }),
    model: Type.String(),
    modelVersion: Type.String(),
    options: Type.Object({}, { additionalProperties: true }),
    reason: Type.Optional(
      Type.String({ description: 'why it failed (or, for a batch, how many images failed)' }),
    ),
    failures: Type.Optional(Type.Array(Type.Object({ name: Type.String(), reason: Type.String() }))),
    objectCount: Type.Optional(Type.Integer()),
    createdAt: Type.String(),
    startedAt: Type.Optional(Type.String()),
    finishedAt: Type.Optional(Type.String()),
    totalTime: Type.Optional(Type.Number({ description: 'seconds from creation to the end' })),
    timings: Type.Optional(
      Type.Object({
        preprocess: Type.Optional(Type.Number()),
        predict: Type.Optional(Type.Number()),
        postprocess: Type.Optional(Type.Number()),
      }),
    ),
    resultUrl: Type.Optional(Type.String({ description: 'the result zip (<name>_feature_0.tif per image)' })),
    labelsUrl: Type.Optional(
      Type.String({ description: 'the label TIFF, NAME.labels.tif (image jobs; README "Label files")' }),
    ),
    outputs: Type.Optional(
      Type.Array(Type.Object({ name: Type.String(), url: Type.String() }), {
        description:
          "a done image job of a type with several outputs (GET /v1/job-types): each output's label TIFF, " +
          'the first being labelsUrl (whole-cell: cells, then nuclei as NAME.nuclei.labels.tif)',
      }),
    ),
    inputUrl: Type.Optional(
      Type.String({
        description:
          'the uploaded input: the image (image jobs, zip entries included) or the zip (a batch from one zip)',
      }),
    ),
    inputs: Type.Optional(
      Type.Array(Type.String(), {
        description:
          'upload keys of the inputs (the image, the zip, or each file of a batch of files): POST /v1/jobs ' +
          'with them runs the same inputs again, with another model say',
      }),
    ),
    parent: Type.Optional(Type.String()),
    children: Type.Optional(Type.Array(ChildView)),
  },
  { $id: 'Job' },
);
export type JobView = Static<typeof JobView>;

export const IdParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9-]+$' }),
});

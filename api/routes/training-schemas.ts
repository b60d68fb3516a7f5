/** TypeBox schemas of the training routes (api/routes/training.ts); response schemas double as allowlists. */
import { Type, type Static } from '@sinclair/typebox';
import { TRAINING_STATUSES } from '../../workers/training/records.js';

export const ModelName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' });

/** Training parameters (JSON body fields, or multipart form fields of the same names). */
export const TrainingParams = Type.Object(
  {
    modelName: Type.Optional({
      ...ModelName,
      description:
        'name of the new model version; default: the base model\'s name when fine-tuning, else "custom"',
    }),
    baseModel: Type.Optional({
      ...ModelName,
      description: 'model to fine-tune; default: the default model (nuclear) unless fromScratch',
    }),
    baseVersion: Type.Optional(
      Type.String({ pattern: '^[0-9]{1,9}$', description: 'version of baseModel; default: the newest' }),
    ),
    fromScratch: Type.Optional(
      Type.Boolean({ description: 'train a new network instead of fine-tuning', default: false }),
    ),
    epochs: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 10 })),
    stepsPerEpoch: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, default: 50 })),
    batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, default: 8 })),
    cropSize: Type.Optional(
      Type.Integer({
        minimum: 16,
        maximum: 1024,
        multipleOf: 16,
        default: 128,
        description: 'side of the square training crops, px',
      }),
    ),
    learningRate: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 1,
        description: 'peak learning rate; default 1e-4 fine-tuning, 1e-3 from scratch',
      }),
    ),
    micronsPerPixel: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 100,
        description: "µm per pixel of the training images; sets the new model's µm/px",
      }),
    ),
    seed: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1, default: 1 })),
  },
  { additionalProperties: false },
);
export type TrainingParams = Static<typeof TrainingParams>;

export const CreateTrainingBody = Type.Composite(
  [
    Type.Object({
      data: Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), {
        minItems: 1,
        maxItems: 10_000,
        description: 'upload keys from POST /v1/uploads: zips and/or NAME.image/NAME.labels files',
      }),
    }),
    TrainingParams,
  ],
  { additionalProperties: false },
);
export type CreateTrainingBody = Static<typeof CreateTrainingBody>;

export const TrainingProblem = Type.Object({
  file: Type.String({
    description: "the file's path inside the training data ('' or the zip for the whole set)",
  }),
  code: Type.String(),
  message: Type.String(),
});

export const BadTrainingDataBody = Type.Object({
  error: Type.Literal('bad-training-data'),
  message: Type.String(),
  problems: Type.Array(TrainingProblem),
});

const EpochProgress = Type.Object({
  epoch: Type.Integer(),
  step: Type.Integer(),
  trainLoss: Type.Number(),
  valF1: Type.Optional(Type.Number({ description: 'F1 at IoU 0.5 on the validation pairs' })),
  valDsb: Type.Optional(Type.Number({ description: 'DSB 2018 score on the validation pairs' })),
  seconds: Type.Number(),
  lr: Type.Number(),
});

const ModelRef = Type.Object({ name: Type.String(), version: Type.String() });

export const TrainingView = Type.Object(
  {
    id: Type.String(),
    status: Type.Union(
      TRAINING_STATUSES.map((s) => Type.Literal(s)),
      {
        description: 'new → waiting → started → training → saving-results → done | failed',
      },
    ),
    position: Type.Optional(
      Type.Integer({ minimum: 1, description: 'place in the queue while waiting (1 = next)' }),
    ),
    progress: Type.Number({ minimum: 0, maximum: 100 }),
    epoch: Type.Integer({ description: 'epochs finished' }),
    step: Type.Integer(),
    totalSteps: Type.Integer(),
    loss: Type.Optional(Type.Number({ description: 'loss of the latest step' })),
    params: Type.Object({
      modelName: Type.String(),
      baseModel: Type.Optional(Type.String()),
      baseVersion: Type.Optional(Type.String()),
      epochs: Type.Integer(),
      stepsPerEpoch: Type.Integer(),
      batchSize: Type.Integer(),
      cropSize: Type.Integer(),
      learningRate: Type.Number(),
      micronsPerPixel: Type.Optional(Type.Number()),
      seed: Type.Integer(),
    }),
    data: Type.Object({
      trainPairs: Type.Integer(),
      valPairs: Type.Integer(),
      trainObjects: Type.Integer(),
      valObjects: Type.Integer(),
      sizes: Type.Array(Type.String()),
      ignored: Type.Array(Type.String()),
    }),
    history: Type.Array(EpochProgress),
    resumedFrom: Type.Optional(Type.Object({ epoch: Type.Integer(), step: Type.Integer() })),
    checkpointEpoch: Type.Optional(
      Type.Integer({ description: 'epoch of the newest checkpoint in the bucket' }),
    ),
    attempts: Type.Integer(),
    runtime: Type.Optional(Type.String()),
    model: Type.Optional(ModelRef),
    reason: Type.Optional(Type.String()),
    createdAt: Type.String(),
    startedAt: Type.Optional(Type.String()),
    finishedAt: Type.Optional(Type.String()),
    eventsUrl: Type.String({
      description: 'server-sent events of this training (snapshot, then per-step/epoch updates)',
    }),
  },
  { $id: 'Training' },
);
export type TrainingView = Static<typeof TrainingView>;

export const TrainingIdParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9-]+$' }),
});

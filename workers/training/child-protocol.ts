/**
 * Messages between a training worker and the child process that runs one training job (./train-child.ts).
 * The child owns TensorFlow.js and blocks its own event loop while it trains; the worker's event loop stays
 * free to renew the BullMQ lock, upload checkpoints and watch for cancellation.
 */
import type { EpochRecord } from '../model/checkpoint.js';
import type { NetworkConfig } from '../model/network.js';
import type { RuntimePreference } from '../model/runtime.js';

/** Sent once by the worker. Paths are local folders of this machine. */
export interface ChildStart {
  readonly type: 'start';
  readonly trainDir: string;
  readonly valDir?: string;
  /** trainModel's checkpoint folder (`last/`, `best/`); a restored `last/` is resumed. */
  readonly checkpointDir: string;
  /** Where a copy of each epoch's checkpoint goes (`<snapshots>/epoch-<n>/{last,best}`) for the upload. */
  readonly snapshotDir: string;
  /** Where the final (best) model is written, with model.onnx when the export succeeds. */
  readonly outDir: string;
  /** Model folder to fine-tune; absent = a new network. */
  readonly baseModelDir?: string;
  readonly network?: NetworkConfig;
  readonly targetDiameterPx: number;
  readonly epochs: number;
  readonly stepsPerEpoch: number;
  readonly batchSize: number;
  readonly cropSize: number;
  readonly learningRate: number;
  readonly seed: number;
  readonly tfjsPrefer?: RuntimePreference;
}

export type ChildMessage =
  | {
      readonly type: 'loaded';
      readonly runtime: string;
      readonly trainImages: number;
      readonly valImages: number;
      /** Median over training images of their median nucleus diameter (original px). */
      readonly medianDiameterPx: number;
      readonly resumedFrom?: { readonly epoch: number; readonly step: number };
    }
  | { readonly type: 'step'; readonly epoch: number; readonly step: number; readonly loss: number }
  | {
      readonly type: 'epoch';
      readonly record: EpochRecord;
      readonly bestEpoch: number;
      /** Copy of `last/` after this epoch (and `best/` when this epoch is the best so far). */
      readonly snapshot: string;
      readonly improved: boolean;
    }
  | {
      readonly type: 'done';
      readonly epoch: number;
      readonly step: number;
      readonly bestEpoch: number;
      readonly history: readonly EpochRecord[];
      readonly stoppedBecause: string;
      readonly seconds: number;
      readonly params: number;
      readonly network: NetworkConfig;
      /** Why model.onnx was not written, when it was not. */
      readonly onnxSkipped?: string;
    }
  | { readonly type: 'error'; readonly badInput: boolean; readonly message: string };

/**
 * The record of a model folder's int8 copy (written by ./quantize-model-dir.ts, read by ./runners.ts): the
 * file name, the accuracy gate, and the card field `int8` that says the copy passed it.
 */
export const INT8_ONNX = 'model.int8.onnx';

/** The accuracy gate of issue 22: the int8 copy may differ from the float model by at most this much on val. */
export const INT8_GATE = { f1_50: 0.005, dsb: 0.01 } as const;

/** What card.int8 records (written only for a copy that passed the gate). */
export interface Int8CardEntry {
  readonly file: string;
  /** sha256 of the file: a copy that does not match (re-exported model, stale file) is not served. */
  readonly sha256: string;
  readonly bytes: number;
  readonly format: string;
  readonly calibration: {
    readonly data: string;
    readonly images: number;
    readonly tiles: number;
    readonly method: string;
    readonly weightBits: number;
    /** sha256 of the model.onnx it was made from. */
    readonly floatSha256: string;
  };
  readonly validation: {
    readonly data: string;
    readonly pipeline: string;
    readonly float: { readonly f1_50: number; readonly dsb: number };
    readonly int8: { readonly f1_50: number; readonly dsb: number };
    readonly gate: { readonly f1_50: number; readonly dsb: number };
    readonly passed: boolean;
  };
}

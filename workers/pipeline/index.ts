/** The segmentation pipeline: stages shared by `kiosk segment` and the job service's workers. */
export { preprocess, prepareImage, selectImages, scaleFromOptions } from './preprocess.js';
export type { ImageMeta, PreparedImage, PreprocessOptions, TilingChoice } from './preprocess.js';
export { predictTiles } from './predict.js';
export type { PredictOptions, TileInput } from './predict.js';
export { postprocess, untileMaps, watershedOptions } from './postprocess.js';
export type { PostprocessOptions, TileGrid } from './postprocess.js';
export { medianDiameter, rescaleForDiameter } from './scale.js';
export type { RescaleRule } from './scale.js';
export { segmentImage, segmentImageDetailed } from './segment.js';
export { segmentVolume } from './volume.js';
export type { VolumeOptions, VolumeResult } from './volume.js';
export type { SegmentOptions, SegmentResult } from './segment.js';
export * from './options.js';
export { resolveSettings, atFixedScale } from './settings.js';
export type {
  LabelSettings,
  PipelineSettings,
  PredictSettings,
  RescaleSettings,
  TilingSettings,
} from './settings.js';
export { fitTileSize, inferenceSettings } from './inference-settings.js';
export type { InferenceSettings } from './inference-settings.js';

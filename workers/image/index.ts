/**
 * The pure image core of cellkiosk (`import { ... } from 'cellkiosk/image'`): decoding and encoding,
 * channel selection, rescaling, normalization, tiling, deep watershed and instance-segmentation metrics.
 * No queues, HTTP or model runtimes are imported from here. Only `files.ts` touches the filesystem.
 */
export * from './types.js';
export * from './decode.js';
export * from './tiff-read.js';
export * from './tiff-write.js';
export * from './png.js';
export * from './zip.js';
export * from './files.js';
export * from './channels.js';
export * from './resize.js';
export * from './normalize.js';
export * from './tiling.js';
export * from './labels.js';
export * from './peaks.js';
export * from './watershed.js';
export * from './metrics.js';

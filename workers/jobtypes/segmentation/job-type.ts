/**
 * `segmentation`, the DeepCell Kiosk's job type: one label image of the nuclei per 2-D image, by the model's
 * stages as they are (preprocess → predict → deep watershed, a second pass at the measured nucleus size).
 * A ZYX stack is not a type of its own: it is this type's 3-D variant (axes ZYX, option `volume`; same model,
 * channels and output kind; each plane segmented at one scale and stitched across z,
 * workers/processors/pipeline-volume.ts) — see docs/job-types.md.
 */
import type { JobTypeDefinition } from '../types.js';

const segmentation: JobTypeDefinition = {
  name: 'segmentation',
  description: 'nuclear segmentation: one label image per input image (0 = background, 1..N = nuclei)',
  input: {
    channels: [{ name: 'nuclear', description: 'a nuclear stain (DAPI, Hoechst, H2B)' }],
    channelsFromModel: true,
    axes: ['YX', 'ZYX'],
    dtypes: ['uint8', 'uint16', 'uint32', 'int8', 'int16', 'int32', 'float32', 'float64'],
  },
  outputs: [{ name: 'nuclei', kind: 'labels', description: 'nuclei, ids 1..N' }],
  stages: (base) => base,
};

export default segmentation;

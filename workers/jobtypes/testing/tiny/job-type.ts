/**
 * A test-only job type (api/routes/job-types.test.ts loads this folder; it is not under the built-in
 * types' root, so no process serves it): two fixed channels and two outputs — the model stages' labels of
 * channel `signal`, and the background as one object — to prove a type is one folder.
 */
import type { Labels } from '../../../image/types.js';
import type { JobTypeDefinition } from '../../types.js';

const tiny: JobTypeDefinition = {
  name: 'tiny-test',
  aliases: ['tiny-alias'],
  description: 'test only: bright objects of channel signal, and the background',
  input: {
    channels: [
      { name: 'signal', description: 'bright objects' },
      { name: 'other', description: 'taken, not used' },
    ],
    axes: ['YX'],
    dtypes: ['uint8', 'uint16'],
  },
  outputs: [
    { name: 'objects', kind: 'labels', description: 'bright objects, ids 1..N' },
    { name: 'background', kind: 'labels', description: '1 where no object is' },
  ],
  stages: (base) => ({
    ...base,
    // the model sees channel `signal` only
    preprocess: (bytes, name, card, opts, scale) =>
      base.preprocess(bytes, name, card, { ...opts, channels: (opts.channels ?? [0]).slice(0, 1) }, scale),
    async postprocess(outputs, meta, card, opts) {
      const objects = await base.postprocess(outputs, meta, card, opts);
      const background: Labels = {
        data: objects.data.map((v) => (v === 0 ? 1 : 0)),
        height: objects.height,
        width: objects.width,
      };
      return { outputs: [objects, background] };
    },
  }),
};

export default tiny;

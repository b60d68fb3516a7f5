import { describe, expect, it } from 'vitest';
import { keys } from '../workers/queues/names.js';
import { checkpointPrefix } from '../workers/training/checkpoint-store.js';
import {
  ACCESS_OPS,
  BUCKET_OPS,
  grantProblem,
  KIOSK_ROLES,
  replaceProblem,
  ROLE_BUCKET_GRANTS,
  type BucketOp,
  type KioskRole,
} from './roles.js';

// The key shapes the code makes (workers/queues/names.ts, api/inputs.ts, api/routes/training-create.ts,
// workers/training/*), for one lab, job, upload and training.
const LAB = 'default';
const JOB = '6f1c9a52-1b8e-4c1e-9c55-0d7b1c2e3f40';
const UPLOAD = keys.upload(LAB, '0b7e1f9a-3c2d-4e5f-8a9b-1c2d3e4f5a6b', 'cells 1.png');
const ZIP_ENTRY = `${keys.upload(LAB, '0b7e1f9a-3c2d-4e5f-8a9b-1c2d3e4f5a6b', 'set.zip')}.d/dir/a.tif`;
const UPLOAD_FOLDER = `uploads/${LAB}/0b7e1f9a-3c2d-4e5f-8a9b-1c2d3e4f5a6b/`;
const TILES = keys.tiles(JOB);
const OUTPUTS = keys.outputs(JOB, 2);
const SCRATCH = keys.scratch(JOB);
const LABELS = keys.result(LAB, JOB, 'cells_1_feature_0.tif');
const ZIP = keys.result(LAB, JOB, 'cells_1.zip');
const RESULTS = keys.results(LAB, JOB);
const CARD = 'models/nuclear/1/card.json';
const ONNX = 'models/nuclear/1/model.onnx';
const NEW_CARD = 'models/nuclear/2/card.json';
const PACKAGE = keys.upload(LAB, '5d0c2b1e-7a8f-4e3d-9c6b-2a1f0e9d8c7b', 'package.zip'); // POST /v1/models/import
const TRAIN_ID = 'c0ffee00-1111-4222-8333-444455556666';
const DATA = `training/${TRAIN_ID}/data/`;
const DATA_KEY = `${DATA}train/dsb_0001.image.png`;
const CKPT = checkpointPrefix(TRAIN_ID);
const CKPT_FILE = `${CKPT}epoch-3/last/weights.bin`;
const POINTER = `${CKPT}latest.json`;

type Case = readonly [BucketOp, string];

/** What each role's code does (the call sites are named in the grant table's comment). */
const NEEDS: Record<KioskRole, readonly Case[]> = {
  api: [
    ['write', UPLOAD], // POST /v1/uploads (putStream)
    ['write', ZIP_ENTRY], // a zip's entries unpacked by expandInputs
    ['read', UPLOAD], // expandInputs, training sets from uploads, GET /v1/uploads/*, inputUrl's signed URL
    ['delete', UPLOAD], // a refused request's uploads
    ['list', UPLOAD_FOLDER], // deleteJob: upload folders no job uses (deletePrefix lists, then deletes)
    ['delete', UPLOAD_FOLDER],
    ['read', LABELS], // labelsUrl / resultUrl signed, or the file streamed
    ['read', ZIP],
    ['list', RESULTS], // DELETE /v1/jobs/:id
    ['delete', RESULTS],
    ['list', SCRATCH], // DELETE /v1/jobs/:id: the job's leftover scratch
    ['delete', SCRATCH],
    ['list', 'scratch/'], // the local bucket sweeper
    ['list', 'models/'], // the model registry
    ['read', CARD],
    ['write', DATA_KEY], // training sets stored by POST /v1/trainings
  ],
  'cpu-worker': [
    ['read', UPLOAD], // preprocess
    ['read', ZIP_ENTRY],
    ['write', TILES], // preprocess
    ['read', OUTPUTS], // postprocess
    ['list', SCRATCH], // postprocess and runStage remove the job's scratch
    ['delete', SCRATCH],
    ['write', LABELS], // postprocess
    ['write', ZIP], // postprocess (cloud), pack
    ['read', LABELS], // pack
    ['list', 'models/'], // registry
    ['read', CARD],
    ['read', PACKAGE], // import-model reads the package the API staged...
    ['list', 'models/nuclear/'], // ...numbers its version over every lab's...
    ['write', 'models/nuclear/2/model.onnx'], // ...and publishes it, card last
    ['write', NEW_CARD],
  ],
  'gpu-worker': [
    ['read', TILES], // predict
    ['write', OUTPUTS],
    ['list', SCRATCH], // runStage removes a failed job's scratch
    ['delete', SCRATCH],
    ['list', 'models/'], // registry
    ['read', CARD],
    ['list', 'models/nuclear/1/'], // the registry copies a bucket model to its cache; a base model to fine-tune
    ['read', ONNX],
    ['write', NEW_CARD], // a trained version published
    ['write', 'models/nuclear/2/model.onnx'],
    ['list', DATA], // fetchTrainingData
    ['read', DATA_KEY],
    ['write', CKPT_FILE], // uploadCheckpoint
    ['write', POINTER],
    ['read', POINTER], // readPointer (exists, get)
    ['list', CKPT], // uploadCheckpoint prunes, restoreCheckpoint
    ['read', CKPT_FILE],
    ['delete', CKPT_FILE],
    ['delete', CKPT], // done or failed: the checkpoints go
  ],
  trainer: [],
  autoscaler: [],
};
// The trainer is the gpu worker's training part on its own.
NEEDS.trainer = NEEDS['gpu-worker'].filter(([, k]) => k.startsWith('training/') || k.startsWith('models/'));

/** What each role's code never does, and its grants must refuse. */
const REFUSED: Record<KioskRole, readonly Case[]> = {
  api: [
    ['write', LABELS], // results are the workers'
    ['write', TILES],
    ['read', TILES],
    ['write', NEW_CARD], // models are published by training and by the cpu worker's imports, never the API
    ['write', 'models/fg-web/1/model.onnx'],
    ['delete', CARD],
    ['read', DATA_KEY], // the API stores training sets, never reads them back
    ['read', POINTER],
    ['list', 'training/'],
    ['list', ''],
  ],
  'cpu-worker': [
    ['write', UPLOAD],
    ['delete', UPLOAD],
    ['delete', PACKAGE], // the API deletes the staged package once the import has ended
    ['read', DATA_KEY],
    ['list', ''],
  ],
  'gpu-worker': [
    ['read', UPLOAD], // inference sees tiles only
    ['read', LABELS],
    ['write', LABELS],
    ['list', 'uploads/'],
    ['list', ''],
  ],
  trainer: [
    ['read', TILES],
    ['write', OUTPUTS],
    ['read', UPLOAD],
    ['read', LABELS],
    ['delete', SCRATCH],
    ['list', ''],
  ],
  autoscaler: [
    ['read', CARD],
    ['list', 'models/'],
    ['read', UPLOAD],
    ['write', TILES],
    ['list', ''],
  ],
};

describe('ROLE_BUCKET_GRANTS: each role may do what its code does', () => {
  for (const role of KIOSK_ROLES) {
    it(`${role}: every call its code makes is allowed`, () => {
      const problems = NEEDS[role].map(([op, key]) => grantProblem(role, op, key)).filter(Boolean);
      expect(problems.join('\n')).toBe('');
    });
    it(`${role}: what its code never does is refused`, () => {
      const allowed = REFUSED[role].filter(([op, key]) => grantProblem(role, op, key) === undefined);
      expect(allowed.map(([op, key]) => `${role} may ${op} ${key}`).join('\n')).toBe('');
    });
  }

  it('the autoscaler has no bucket access at all', () => {
    expect(ROLE_BUCKET_GRANTS.autoscaler).toEqual([]);
  });

  it('the gpu worker trains too: it holds every grant the trainer holds', () => {
    for (const g of ROLE_BUCKET_GRANTS.trainer) expect(ROLE_BUCKET_GRANTS['gpu-worker']).toContainEqual(g);
  });

  it('grants name top-level prefixes the code uses, each (prefix, access) once per role', () => {
    for (const role of KIOSK_ROLES) {
      const seen = new Set<string>();
      for (const g of ROLE_BUCKET_GRANTS[role]) {
        expect(g.prefix).toMatch(/^(uploads|results|scratch|models|training)\/$/);
        expect(ACCESS_OPS[g.access]).toBeDefined();
        expect(seen.has(`${g.prefix} ${g.access}`)).toBe(false);
        seen.add(`${g.prefix} ${g.access}`);
      }
    }
  });
});

describe('replaceProblem: writing a key again needs delete too (GCS)', () => {
  it('the keys a retried stage writes again may be replaced by the role that writes them', () => {
    expect(replaceProblem('cpu-worker', LABELS)).toBeUndefined(); // postprocess retried after its write
    expect(replaceProblem('cpu-worker', ZIP)).toBeUndefined(); // pack retried
    expect(replaceProblem('cpu-worker', TILES)).toBeUndefined(); // preprocess retried
    expect(replaceProblem('gpu-worker', OUTPUTS)).toBeUndefined(); // predict retried
    expect(replaceProblem('gpu-worker', NEW_CARD)).toBeUndefined(); // a training retried while publishing
    expect(replaceProblem('cpu-worker', NEW_CARD)).toBeUndefined(); // an import retried while publishing
    expect(replaceProblem('trainer', POINTER)).toBeUndefined(); // latest.json moves every epoch
    expect(replaceProblem('api', UPLOAD)).toBeUndefined();
  });

  it("the API's training sets are written once under a new id: it may not replace one", () => {
    expect(grantProblem('api', 'write', DATA_KEY)).toBeUndefined();
    expect(replaceProblem('api', DATA_KEY)).toBe(
      `role api may not replace the existing object "${DATA_KEY}": GCS replaces an object only with delete ` +
        `(storage.objects.delete), which a write grant lacks (grants of api: uploads/ readWrite, results/ read, ` +
        `results/ delete, scratch/ delete, models/ read, training/ write)`,
    );
    expect(replaceProblem('api', LABELS)).toMatch(/^role api may not write/);
  });
});

describe('grantProblem', () => {
  it('names the role, the operation, the key and the role grants', () => {
    expect(grantProblem('cpu-worker', 'write', UPLOAD)).toBe(
      `role cpu-worker may not write "${UPLOAD}": its grant uploads/ read does not include write ` +
        `(grants of cpu-worker: uploads/ read, scratch/ readWrite, results/ readWrite, models/ readWrite)`,
    );
    expect(grantProblem('api', 'write', NEW_CARD)).toBe(
      `role api may not write "${NEW_CARD}": its grant models/ read does not include write ` +
        `(grants of api: uploads/ readWrite, results/ read, results/ delete, scratch/ delete, models/ read, ` +
        `training/ write)`,
    );
    expect(grantProblem('autoscaler', 'read', CARD)).toBe(
      `role autoscaler may not read "${CARD}": no grant covers it (grants of autoscaler: no bucket access)`,
    );
  });

  it('a listing must lie inside one granted prefix: not the whole bucket, not a prefix of a grant', () => {
    for (const role of KIOSK_ROLES)
      expect(grantProblem(role, 'list', '')).toMatch(
        role === 'autoscaler' ? /no grant covers it/ : /inside one granted prefix/,
      );
    expect(grantProblem('api', 'list', 'models/')).toBeUndefined();
    expect(grantProblem('api', 'list', 'models/nuclear/')).toBeUndefined();
    expect(grantProblem('api', 'list', 'models')).toMatch(/inside one granted prefix/);
    expect(grantProblem('api', 'list', 'mod')).toMatch(/inside one granted prefix/);
  });

  it('a key that only looks as if it were under a grant is refused', () => {
    expect(grantProblem('api', 'write', 'uploads/../results/x/y.tif')).toMatch(/'\.\.' segment/);
    expect(grantProblem('api', 'write', 'uploads/./a.png')).toMatch(/'\.' segment/);
    expect(grantProblem('api', 'write', 'uploads//a.png')).toMatch(/'' segment/);
    expect(grantProblem('api', 'read', '/uploads/a.png')).toMatch(/start with \//);
    expect(grantProblem('api', 'read', '')).toMatch(/empty key/);
    expect(grantProblem('api', 'write', 'uploadsX/a.png')).toMatch(/no grant covers it/);
    expect(grantProblem('api', 'delete', UPLOAD_FOLDER)).toBeUndefined(); // a prefix's trailing '/' is fine
  });

  it('an unknown role or operation is a reason, not a crash', () => {
    expect(grantProblem('root' as KioskRole, 'read', CARD)).toMatch(/unknown role "root"/);
    expect(grantProblem('api', 'copy' as BucketOp, CARD)).toMatch(/unknown bucket operation "copy"/);
    expect(BUCKET_OPS).toEqual(['read', 'list', 'write', 'delete']);
  });
});

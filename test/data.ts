import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(fileURLToPath(import.meta.url), '..', '..');

/**
 * The annotated nuclei (DSB2018 subset) the tests, benches and training use: `../shared/data/nuclei` beside the
 * checkout (where the developers' machines and CI lay it), or KIOSK_NUCLEI_DIR.
 */
export const NUCLEI_DIR = process.env.KIOSK_NUCLEI_DIR ?? join(repoRoot, '..', 'shared', 'data', 'nuclei');
export const NUCLEI_VAL = join(NUCLEI_DIR, 'val');
export const NUCLEI_TRAIN = join(NUCLEI_DIR, 'train');

import { defineConfig } from 'vitest/config';

/**
 * The pack test (`npm run test:pack`): builds and packs the construct library, then compiles and synthesizes
 * two fresh lab projects from the tarball: over 60 s on a 2-core machine, so not part of `npm test`.
 */
export default defineConfig({
  test: {
    include: ['test/pack/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
  },
});

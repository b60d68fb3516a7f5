import { defineConfig } from 'vitest/config';

/** The fault suite (`npm run test:faults`): its own kiosk processes and Redis (and a local kiosk of its own), so no global setup. */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    testTimeout: 360_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // faults.test.ts and attacks.test.ts each start a kiosk: one at a time on a small machine
    fileParallelism: false,
  },
});

import { defineConfig } from 'vitest/config';

/** The fault suite (`npm run test:faults`): its own kiosk processes and Redis, so no global setup. */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    testTimeout: 360_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});

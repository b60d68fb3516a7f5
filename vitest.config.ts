import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    // test/faults: the fault suite, run on its own (`npm run test:faults`, its own config and processes)
    exclude: ['node_modules/**', 'cdktf.out/**', '.kiosk/**', 'dist/**', 'test/faults/**'],
    // One private redis-server for the whole run (see test/redis-global-setup.ts).
    globalSetup: ['test/redis-global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});

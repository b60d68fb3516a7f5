import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    // test/faults: the fault suite, run on its own (`npm run test:faults`, its own config and processes);
    // test/pack: the construct library's pack test (`npm run test:pack`): two builds and two fresh projects, over 60 s
    exclude: ['node_modules/**', 'cdktf.out/**', '.kiosk/**', 'dist/**', 'test/faults/**', 'test/pack/**'],
    // One private redis-server for the whole run (see test/redis-global-setup.ts).
    globalSetup: ['test/redis-global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});

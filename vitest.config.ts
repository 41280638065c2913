import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: simulated-network suites are CPU-bound, so more workers only add contention.
    maxWorkers: 2,
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One Azurite, started from node_modules for the whole run; tests that restart it start their own.
    globalSetup: ['test/helpers/azurite-setup.ts'],
  },
});

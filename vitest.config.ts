import { defineConfig } from 'vitest/config';

// Native tests load libtorch; separate processes keep each file's addon state apart.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});

import { defineConfig } from 'vitest/config';

// Native tests load libtorch; separate processes keep each file's addon state apart. Test
// files run in parallel, one per core, so each libtorch uses one thread: OpenMP threads of
// two processes spinning on two cores would slow the tiny models' many small ops 100-fold.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    env: { OMP_NUM_THREADS: '1' },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});

import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { defineConfig } from 'vitest/config';

// The Python reference packages scripts/setup.sh installs into .venv-ref: its python3 comes first
// on the tests' PATH, so the interop tests' `python3` finds them.
const venvBin = join(import.meta.dirname, '.venv-ref', 'bin');
const path = existsSync(venvBin) ? { PATH: `${venvBin}${delimiter}${process.env.PATH ?? ''}` } : {};

// Native tests load libtorch; separate processes keep each file's addon state apart. Test
// files run in parallel, one per core, so each libtorch uses one thread: OpenMP threads of
// two processes spinning on two cores would slow the tiny models' many small ops 100-fold.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    env: { OMP_NUM_THREADS: '1', ...path },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});

#!/usr/bin/env node
// Builds the addon with cmake-js (CMakeLists.txt finds libtorch itself; see cmake/libtorch.cmake).
// Extra arguments pass through to cmake-js, e.g. `npm run build:native -- --CDNQ_CPU_ONLY=ON`.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const args = [cmakeJs, 'compile', '--parallel', String(availableParallelism()), ...process.argv.slice(2)];
const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exitCode = result.status ?? 1;

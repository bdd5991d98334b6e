#!/usr/bin/env node
// Is a libtorch (>= 2.4) and what building the addon needs present? The same search order as
// cmake/libtorch.cmake, which does the real finding at build time: LIBTORCH (a libtorch root),
// Torch_DIR (its share/cmake/Torch), the installed Python torch (its wheel is a full libtorch),
// a system libtorch. Used by scripts/install.mjs and scripts/setup.sh (`node scripts/libtorch.mjs`
// prints the root and exits 0 when found, exits 1 otherwise).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const SYSTEM_ROOTS = ['/usr/local/libtorch', '/opt/libtorch', '/usr/lib/libtorch'];

const isRoot = (dir) => existsSync(join(dir, 'include', 'torch', 'csrc', 'api', 'include', 'torch', 'version.h')) && (existsSync(join(dir, 'lib', 'libtorch_cpu.so')) || existsSync(join(dir, 'lib', 'libtorch_cpu.dylib')));

function pythonTorchRoot() {
  for (const python of ['python3', 'python']) {
    const r = spawnSync(python, ['-c', 'import os, torch; print(os.path.dirname(torch.__file__))'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return undefined;
}

/** { root, how } of the first libtorch found, or undefined. */
export function findLibtorch(env = process.env) {
  const candidates = [];
  if (env.LIBTORCH) candidates.push([env.LIBTORCH, 'LIBTORCH']);
  if (env.Torch_DIR) candidates.push([resolve(env.Torch_DIR, '..', '..', '..'), 'Torch_DIR']);
  const py = pythonTorchRoot();
  if (py) candidates.push([py, 'the Python torch package']);
  for (const dir of SYSTEM_ROOTS) candidates.push([dir, 'a system libtorch']);
  for (const [root, how] of candidates) if (isRoot(root)) return { root, how };
  return undefined;
}

const onPath = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** Build tools that are missing: cmake, a C++ compiler, make or ninja. */
export function missingBuildTools() {
  const missing = [];
  if (!onPath('cmake')) missing.push('cmake');
  if (!onPath('c++') && !onPath('g++') && !onPath('clang++')) missing.push('g++');
  if (!onPath('make') && !onPath('ninja')) missing.push('make');
  return missing;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const found = findLibtorch();
  if (found) console.log(found.root);
  process.exitCode = found ? 0 : 1;
}

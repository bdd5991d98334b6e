#!/usr/bin/env node
// npm's install step for node-qlora (package.json "install"), in a user's project or this repo:
//   1. an addon that loads already (prebuilds/<platform>-<arch>/ shipped in the package, or a
//      previous build in build/Release): use it;
//   2. else, when a libtorch (scripts/libtorch.mjs: LIBTORCH, Torch_DIR, the Python torch,
//      a system libtorch) and the build tools are found: build the addon (cmake-js, a few minutes);
//      NQ_INSTALL_TORCH=1 first installs the PyPI torch wheel (CPU or CUDA, ~1-3 GB) when no
//      libtorch is found, as scripts/setup.sh does;
//   3. else print, in one place, what is missing and the one command that fixes it.
// It never fails the install: the package (dist/, the CLI's help, the data tools) works without
// the addon, and the first call that needs the engine says the same thing (ADDON_LOAD).
// NODE_QLORA_SKIP_INSTALL=1 skips all of it (e.g. a build pipeline that builds on its own).
// npm >= 11 runs a dependency's install script only once the project allows it
// (`npm install-scripts approve node-qlora`); `npx sft setup` runs this same script (with --strict:
// exit 1 while the addon is unavailable), and a shipped prebuild loads without it.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { findLibtorch, missingBuildTools } from './libtorch.mjs';

const root = join(import.meta.dirname, '..');
const log = (line) => process.stderr.write(`node-qlora: ${line}\n`);

/** Loads the addon the way the package does (node-gyp-build), in a child: a bad binary cannot crash npm. */
function addonLoads() {
  const probe = `const b = require('node-gyp-build')(${JSON.stringify(root)}); console.log(b.buildInfo().torchVersion)`;
  const r = spawnSync(process.execPath, ['-e', probe], { cwd: root, encoding: 'utf8' });
  if (r.status === 0) return { ok: true, torch: r.stdout.trim() };
  const lines = r.stderr.trim().split('\n');
  return { ok: false, reason: (lines.find((l) => /^\w*Error: /.test(l)) ?? lines[0] ?? '').replace(/^\w*Error: /, '').slice(0, 300) };
}

function installTorchWheel() {
  log('NQ_INSTALL_TORCH=1 and no libtorch found: installing the PyPI torch wheel (it serves as libtorch)');
  for (const args of [['-m', 'pip', 'install', 'torch'], ['-m', 'pip', 'install', '--user', '--break-system-packages', 'torch']]) {
    if (spawnSync('python3', args, { stdio: 'inherit' }).status === 0) return true;
  }
  return false;
}

/** true when a loadable addon is there at the end. */
function main() {
  if (process.env.NODE_QLORA_SKIP_INSTALL === '1' || process.env.NODE_QLORA_ADDON) return true;
  const existing = addonLoads();
  if (existing.ok) {
    log(`native addon ready (libtorch ${existing.torch})`);
    return true;
  }
  let torch = findLibtorch();
  if (!torch && process.env.NQ_INSTALL_TORCH === '1' && installTorchWheel()) torch = findLibtorch();
  const tools = missingBuildTools();
  if (torch && tools.length === 0) {
    log(`building the native addon against ${torch.how} (${torch.root}); this takes a few minutes`);
    const built = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { cwd: root, stdio: 'inherit' });
    const after = built.status === 0 ? addonLoads() : { ok: false, reason: 'the build failed (see above)' };
    if (after.ok) {
      log(`native addon built (libtorch ${after.torch})`);
      return true;
    }
    explain([`the addon build did not give a loadable addon: ${after.reason}`], 'npx sft setup   (after fixing the error above)');
    return false;
  }
  const missing = [];
  if (!torch) missing.push('libtorch >= 2.4: none of LIBTORCH, Torch_DIR, the Python torch package (python3 -c "import torch"), /usr/local/libtorch');
  if (tools.length) missing.push(`build tools: ${tools.join(', ')}`);
  if (!existing.ok) missing.push(`no prebuilt addon for ${process.platform}-${process.arch} loads here (${existing.reason || 'none shipped'})`);
  const fix = [
    ...(tools.length ? [`apt-get install -y ${tools.join(' ')}`] : []),
    ...(!torch ? ['pip install torch'] : []),
    'npx sft setup',
  ].join(' && ');
  explain(missing, `${fix}   (or: NQ_INSTALL_TORCH=1 npx sft setup, which installs torch with pip itself)`);
  return false;
}

function explain(missing, fix) {
  log('the native addon (the training and generation engine) is not available yet.');
  for (const m of missing) log(`  missing: ${m}`);
  log(`  fix: ${fix}`);
}

const ready = main();
if (!ready && process.argv.includes('--strict')) process.exitCode = 1;

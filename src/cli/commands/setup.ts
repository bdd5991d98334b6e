// sft setup: makes the native addon available where the package is installed (loads a shipped
// prebuild, or builds against a found libtorch, or says what is missing and how to get it).
// The same script is the package's npm install step, which npm >= 11 runs only for projects
// that allow it; this command runs it on demand.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ErrorCode, SftError } from '../../errors.js';
import { PACKAGE_ROOT } from '../../package-info.js';

/** The one line that says what to run once the addon is available. */
const SETUP_NEXT = 'next: sft doctor (checks the addon, libtorch, CUDA and the GPUs)';

export function registerSetup(program: Command): void {
  program
    .command('setup')
    .description('load or build the native addon (NQ_INSTALL_TORCH=1: pip-install torch when no libtorch is found)')
    .action(() => {
      const script = join(PACKAGE_ROOT, 'scripts', 'install.mjs');
      const r = spawnSync(process.execPath, [script, '--strict'], { stdio: 'inherit' });
      if (r.status !== 0) throw new SftError('the native addon is not available; see the lines above for what is missing and the fix', ErrorCode.AddonLoad);
      process.stdout.write(`${SETUP_NEXT}\n`);
    });
}

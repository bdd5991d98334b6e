// The install step (scripts/install.mjs, also `sft setup`): with the built addon it says so and
// builds nothing; in a package copy where no addon loads and no libtorch can be found, it prints
// in one place what is missing and the one command that fixes it, and never fails npm install
// (only `--strict`, which `sft setup` passes, exits 1).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'nq-install-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function install(root: string, args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, [join(root, 'scripts', 'install.mjs'), ...args], { encoding: 'utf8', env, cwd: root });
}

describe('install step', () => {
  it('finds the built addon and says it is ready', () => {
    const r = install(REPO, ['--strict'], process.env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/node-qlora: native addon ready \(libtorch \d+\.\d+/);
  });

  it('without an addon or a libtorch: what is missing and the one command, exit 0 (1 with --strict)', () => {
    // A package copy without build/ or prebuilds/, and a PATH without python (no torch to find).
    const pkg = join(work, 'pkg');
    mkdirSync(join(pkg, 'scripts'), { recursive: true });
    for (const f of ['install.mjs', 'libtorch.mjs']) copyFileSync(join(REPO, 'scripts', f), join(pkg, 'scripts', f));
    symlinkSync(join(REPO, 'node_modules'), join(pkg, 'node_modules'));
    const env = { PATH: `${dirname(process.execPath)}:/bin:/usr/bin`, HOME: work, PYTHONPATH: '/nonexistent' };
    const hasPython = spawnSync('python3', ['-c', 'import torch'], { env }).status === 0;
    const r = install(pkg, [], env);
    expect(r.status).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toBe('node-qlora: the native addon (the training and generation engine) is not available yet.');
    expect(r.stderr).toContain('missing: no prebuilt addon for');
    const fix = lines.find((l) => l.includes('fix: '));
    if (hasPython) {
      // A torch importable from the system python is found; the build is what the fix is then about.
      expect(fix).toBeDefined();
    } else {
      expect(r.stderr).toContain('missing: libtorch >= 2.4');
      expect(fix).toContain('pip install torch && npx sft setup');
      expect(fix).toContain('NQ_INSTALL_TORCH=1 npx sft setup');
    }
    expect(install(pkg, ['--strict'], env).status).toBe(1);
  });
});

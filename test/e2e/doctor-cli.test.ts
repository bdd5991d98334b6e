// `sft doctor` on this machine, an addon that does not load pointing to it, and `sft setup` pointing to it.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { DoctorReport } from '../../src/api/doctor.js';
import { SFT_BIN } from '../helpers/cli.js';

const run = promisify(execFile);
async function sftWith(env: NodeJS.ProcessEnv, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [SFT_BIN, ...args], { env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('sft doctor', () => {
  it('--json: the loaded addon, the libtorch folder it links (whose torch/version.py names the same version), CUDA and the caches', async () => {
    const r = await sftWith({}, ['doctor', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as DoctorReport;
    expect(report.node.version).toBe(process.version);
    expect(report.addon.loaded).toBe(true);
    expect(existsSync(report.addon.file as string)).toBe(true);
    const dir = report.libtorch.dir as string;
    expect(existsSync(join(dir, 'libtorch_cpu.so'))).toBe(true);
    const versionPy = join(dir, '..', 'version.py'); // a pip torch: torch/lib next to torch/version.py
    if (existsSync(versionPy)) expect(readFileSync(versionPy, 'utf8')).toMatch(new RegExp(`__version__ = '${(report.libtorch.version as string).replace(/\./g, '\\.')}`));
    expect(report.addon.kernels).toBe(report.addon.cudaBuilt);
    expect(typeof report.cuda.available).toBe('boolean');
    expect(report.cuda.why.length).toBeGreaterThan(10);
    expect(report.caches.map((c) => c.name)).toEqual([expect.stringMatching(/Hugging Face/), expect.stringMatching(/GGUF/)]);

    const text = await sftWith({}, ['doctor']);
    expect(text.stdout).toMatch(/^node {7}v\d+/m);
    expect(text.stdout).toMatch(new RegExp(`^libtorch {3}${report.libtorch.version?.replace(/\./g, '\\.')} in `, 'm'));
  }, 60_000);

  it('an addon that does not load: doctor reports it with the fix, and every command failing on it points to sft doctor', async () => {
    const env = { NODE_QLORA_ADDON: '/nonexistent/node_qlora.node' };
    const r = await sftWith(env, ['doctor', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as DoctorReport;
    expect(report.addon.loaded).toBe(false);
    expect(report.problems[0]?.fix).toMatch(/NODE_QLORA_ADDON=\/nonexistent\/node_qlora\.node does not load/);
    const train = await sftWith(env, ['train', '--model', 'demo', '--data', 'demo', '--max-steps', '1', '--out', '/tmp/nq-doctor-never-written']);
    expect(train.code).not.toBe(0);
    expect(train.stderr).toMatch(/could not load the native addon[\s\S]*diagnose: npx sft doctor[\s\S]*\[ADDON_LOAD\]/);
  }, 60_000);

  it('sft setup, once the addon loads, names sft doctor as the next step', async () => {
    const r = await sftWith({}, ['setup']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/node-qlora: native addon ready/);
    expect(r.stdout).toBe('next: sft doctor (checks the addon, libtorch, CUDA and the GPUs)\n');
  }, 60_000);
});

// The engine's CPU thread count comes from what the process may use: the affinity mask and the
// cgroup CPU quota (v2 cpu.max, v1 cfs_quota_us / cfs_period_us), with NQ_THREADS overriding.
// Each case builds a fake /sys/fs/cgroup + /proc/self/cgroup in a temporary folder.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cgroupCpuLimit, cpuThreads, usableCpus, type CpuLimitSources } from '../../src/config/cpu-threads.js';
import { SftError } from '../../src/errors.js';

const root = mkdtempSync(join(tmpdir(), 'nq-cgroup-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A fake system: files relative to the cgroup root, the /proc/self/cgroup text, the affinity count. */
function system(files: Record<string, string>, procCgroup: string, affinity: number): CpuLimitSources {
  const dir = join(root, String(n++));
  mkdirSync(dir);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, 'cg', file)), { recursive: true });
    writeFileSync(join(dir, 'cg', file), `${text}\n`);
  }
  writeFileSync(join(dir, 'proc-cgroup'), procCgroup);
  return { cgroupRoot: join(dir, 'cg'), procCgroup: join(dir, 'proc-cgroup'), affinity: () => affinity };
}

describe('cpuThreads', () => {
  it('cgroup v2: cpu.max of the own cgroup (2.5 CPUs -> 3 threads) under a 64-CPU affinity', () => {
    const s = system({ 'app/cpu.max': '250000 100000' }, '0::/app\n', 64);
    expect(cgroupCpuLimit(s)).toBe(3);
    expect(usableCpus(s)).toBe(3);
    expect(cpuThreads({}, s)).toBe(2); // one CPU left to the JS thread and the rest of the machine
  });

  it('cgroup v2: the tightest ancestor wins; "max" is no limit', () => {
    const s = system({ 'a/cpu.max': '200000 100000', 'a/b/cpu.max': 'max 100000' }, '0::/a/b\n', 16);
    expect(usableCpus(s)).toBe(2);
  });

  it('cgroup v1 inside a container: the host path is absent, the mounted root has the quota', () => {
    const s = system({ 'cpu/cpu.cfs_quota_us': '100000', 'cpu/cpu.cfs_period_us': '100000' }, '3:cpu,cpuacct:/docker/abc\n', 8);
    expect(usableCpus(s)).toBe(1);
    expect(cpuThreads({}, s)).toBe(1); // never below 1
  });

  it('no quota (-1, no files): the affinity mask decides', () => {
    expect(usableCpus(system({ 'cpu/cpu.cfs_quota_us': '-1', 'cpu/cpu.cfs_period_us': '100000' }, '1:cpu:/\n', 2))).toBe(2);
    expect(usableCpus(system({}, '', 5))).toBe(5);
    expect(cpuThreads({}, system({}, '', 5))).toBe(4);
  });

  it('a quota above the affinity count does not raise it', () => {
    expect(usableCpus(system({ 'cpu.max': '800000 100000' }, '0::/\n', 2))).toBe(2);
  });

  it('NQ_THREADS overrides; a bad value is named with the fix', () => {
    const s = system({ 'cpu.max': '100000 100000' }, '0::/\n', 2);
    expect(cpuThreads({ NQ_THREADS: '7' }, s)).toBe(7);
    expect(cpuThreads({ NQ_THREADS: '' }, s)).toBe(1);
    const err = (() => {
      try {
        cpuThreads({ NQ_THREADS: 'two' }, s);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SftError);
    expect((err as SftError).code).toBe('INVALID_ARGUMENT');
    expect((err as SftError).message).toContain("NQ_THREADS but received 'two'");
  });
});

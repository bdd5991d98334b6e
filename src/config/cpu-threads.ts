// How many intra-op threads the engine should use on the CPU: the CPUs this process may actually
// run on, not the host's core count. libtorch sizes its pool from the host, so in a container
// limited to 2 CPUs of a 64-core host it starts 64 threads that fight over 2 CPUs (sft demo took
// 15-108 s that way, 10 s with the right count). Two limits apply, the smaller wins:
//   - the scheduler affinity mask (taskset, cpuset cgroups): os.availableParallelism();
//   - the CFS bandwidth quota (docker --cpus, Kubernetes limits): cgroup v2 cpu.max
//     ("200000 100000" = 2 CPUs) or cgroup v1 cpu.cfs_quota_us / cpu.cfs_period_us.
// One of those CPUs is left to the process's JS thread (tokenizing, data, the event loop) and
// everything else on the machine: libtorch's OpenMP threads spin while they wait at a barrier,
// so a pool as large as the CPUs loses whole time slices whenever anything else runs. On the
// 2-CPU development machine `sft demo` took 21 s with 1 thread and 192 s with 2 (other builds
// running); with 64 CPUs, 63 threads lose nothing measurable.
// NQ_THREADS=N (or `sft --threads N`) overrides all of it.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { ErrorCode, SftError } from '../errors.js';

/** Where the cgroup files are read from (tests point this at a fake tree). */
export interface CpuLimitSources {
  cgroupRoot: string;
  /** /proc/self/cgroup: which cgroup this process is in. */
  procCgroup: string;
  affinity: () => number;
}

const SYSTEM: CpuLimitSources = { cgroupRoot: '/sys/fs/cgroup', procCgroup: '/proc/self/cgroup', affinity: availableParallelism };

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** quota / period CPUs, rounded up (1.5 CPUs of quota can keep 2 threads busy part of the time). */
function cpusOfQuota(quota: number, period: number): number | undefined {
  if (!(quota > 0) || !(period > 0)) return undefined;
  return Math.max(1, Math.ceil(quota / period));
}

/** The process's cgroup paths: v2 ("0::/path") and v1 per controller ("3:cpu,cpuacct:/path"). */
function cgroupPaths(procCgroup: string): { v2?: string; cpu?: string } {
  const out: { v2?: string; cpu?: string } = {};
  for (const line of (read(procCgroup) ?? '').split('\n')) {
    const [, controllers = '', path = '/'] = line.split(':');
    if (line.startsWith('0::')) out.v2 = line.slice(3) || '/';
    else if (controllers.split(',').includes('cpu')) out.cpu = path;
  }
  return out;
}

/** CPUs the CFS quota allows, from the process's own cgroup up to the root; undefined when unlimited. */
export function cgroupCpuLimit(sources: CpuLimitSources = SYSTEM): number | undefined {
  const { v2, cpu } = cgroupPaths(sources.procCgroup);
  const limits: number[] = [];
  const ancestors = (path: string): string[] => {
    const parts = path.split('/').filter(Boolean);
    return parts.map((_, i) => `/${parts.slice(0, parts.length - i).join('/')}`).concat('/');
  };
  if (v2 !== undefined) {
    for (const dir of ancestors(v2)) {
      const [quota, period] = (read(`${sources.cgroupRoot}${dir === '/' ? '' : dir}/cpu.max`) ?? '').split(/\s+/);
      const cpus = quota === 'max' ? undefined : cpusOfQuota(Number(quota), Number(period));
      if (cpus !== undefined) limits.push(cpus);
    }
  }
  for (const base of [`${sources.cgroupRoot}/cpu`, `${sources.cgroupRoot}/cpu,cpuacct`]) {
    for (const dir of cpu !== undefined ? ancestors(cpu) : ['/']) {
      const prefix = `${base}${dir === '/' ? '' : dir}`;
      const cpus = cpusOfQuota(Number(read(`${prefix}/cpu.cfs_quota_us`)), Number(read(`${prefix}/cpu.cfs_period_us`)));
      if (cpus !== undefined) limits.push(cpus);
    }
  }
  return limits.length ? Math.min(...limits) : undefined;
}

/** Parses a thread count given by a user (NQ_THREADS, --threads): an integer >= 1. */
export function parseThreadCount(value: string, where: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new SftError(`Expected an integer >= 1 for ${where} but received '${value}'; leave it unset to use the CPUs this process may run on`, ErrorCode.InvalidArgument);
  }
  return n;
}

/** CPUs this process may use: min(affinity mask, cgroup CPU quota). */
export function usableCpus(sources: CpuLimitSources = SYSTEM): number {
  const affinity = Math.max(1, sources.affinity());
  const quota = cgroupCpuLimit(sources);
  return quota === undefined ? affinity : Math.min(affinity, quota);
}

/** The engine's intra-op thread count: NQ_THREADS when set, else the usable CPUs less one (at least 1). */
export function cpuThreads(env: NodeJS.ProcessEnv = process.env, sources: CpuLimitSources = SYSTEM): number {
  const override = env.NQ_THREADS;
  if (override !== undefined && override.trim() !== '') return parseThreadCount(override, 'NQ_THREADS');
  return Math.max(1, usableCpus(sources) - 1);
}

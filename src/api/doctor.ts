// `sft doctor`: what this machine gives node-qlora, in one report: Node, the addon (where it
// was loaded from, how it was built), libtorch (version and folder), CUDA (available or not, and
// why), the GPUs (name, driver, memory), the CPU side, the cache folders and their sizes, and for
// everything wrong what to do about it. It never fails on what it finds: a missing addon is a
// finding. The facts come from the addon's buildInfo(), the process's own memory map (which
// libraries the addon pulled in) and nvidia-smi.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { cpuThreads, usableCpus } from '../config/cpu-threads.js';
import { freeCpuBytes } from '../config/memory-estimate.js';
import { SftError } from '../errors.js';
import { ggufImportCacheRoot } from '../gguf/import-cache.js';
import { hubSettingsFromEnv } from '../hub/settings.js';
import { native } from '../native.js';

export interface DoctorGpu {
  index: number;
  name: string;
  driver: string;
  memoryTotalBytes: number;
  memoryFreeBytes: number;
}

export interface DoctorProblem {
  what: string;
  fix: string;
}

export interface DoctorReport {
  node: { version: string; platform: string; arch: string };
  addon: {
    loaded: boolean;
    /** The .node file the process mapped. */
    file?: string;
    /** Why it did not load (the loader's message). */
    error?: string;
    /** Built with CUDA; its CUDA kernels (native/kernels) are compiled exactly when it is. */
    cudaBuilt?: boolean;
    ncclBuilt?: boolean;
    kernels?: boolean;
  };
  libtorch: { version?: string; dir?: string };
  cuda: { available: boolean; why: string; gpus: DoctorGpu[]; visibleDevices?: string };
  /** engineThreads: the intra-op threads a run sets (NQ_THREADS, else the usable CPUs less one). */
  cpu: { model: string; usableCpus: number; engineThreads: number; freeMemoryBytes: number };
  hub: { endpoint: string; token: boolean; offline: boolean };
  caches: { name: string; path: string; exists: boolean; bytes: number; diskFreeBytes?: number }[];
  problems: DoctorProblem[];
  /** Facts asked of the doctor that the addon has no binding for (read elsewhere or not at all). */
  notFromAddon: string[];
}

/** What the doctor reads from the machine; tests give their own. */
export interface DoctorSources {
  loadAddon: () => { torchVersion: string; cudaBuilt: boolean; ncclBuilt: boolean; cudaAvailable: boolean; threads: number };
  /** nvidia-smi's CSV lines, or the reason it gave none ('not found' when it is not installed). */
  nvidiaSmi: () => { lines: string[] } | { error: string; notFound: boolean };
  /** /proc/self/maps, or undefined where there is none. */
  memoryMap: () => string | undefined;
  env: NodeJS.ProcessEnv;
}

const SYSTEM: DoctorSources = {
  loadAddon: () => native().buildInfo(),
  nvidiaSmi: () => {
    try {
      const out = execFileSync('nvidia-smi', ['--query-gpu=index,name,driver_version,memory.total,memory.free', '--format=csv,noheader,nounits'], {
        encoding: 'utf8',
        timeout: 15_000,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      return { lines: out.split('\n').filter((l) => l.trim() !== '') };
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: string; stdout?: string };
      const said = `${e.stdout ?? ''} ${e.stderr ?? ''}`.trim();
      return { error: e.code === 'ENOENT' ? 'nvidia-smi is not on PATH' : said || e.message, notFound: e.code === 'ENOENT' };
    }
  },
  memoryMap: () => {
    try {
      return readFileSync('/proc/self/maps', 'utf8');
    } catch {
      return undefined;
    }
  },
  env: process.env,
};

const MIB = 2 ** 20;
const GIB = 2 ** 30;
/** Below this much free disk under a cache, a model download or GGUF import may not fit. */
const LOW_DISK_BYTES = 10 * GIB;
const NODE_MAJOR_NEEDED = 20;

/** The files the process has mapped whose names match (the addon, the libraries it pulled in). */
function mappedFiles(maps: string | undefined, pattern: RegExp): string[] {
  if (maps === undefined) return [];
  const files = new Set<string>();
  for (const line of maps.split('\n')) {
    const path = line.slice(line.indexOf('/'));
    if (line.includes('/') && pattern.test(path)) files.add(path.trim());
  }
  return [...files];
}

export function parseNvidiaSmi(lines: string[]): DoctorGpu[] {
  return lines.map((line) => {
    const [index, name, driver, total, free] = line.split(',').map((s) => s.trim());
    return { index: Number(index), name: name ?? '', driver: driver ?? '', memoryTotalBytes: Number(total) * MIB, memoryFreeBytes: Number(free) * MIB };
  });
}

/** Bytes of the files under `dir` (symlinks not followed: the HF cache links snapshots to blobs). */
export async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) total += await folderBytes(path);
    else if (e.isFile()) total += (await lstat(path).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

function diskFree(path: string): number | undefined {
  for (let p = path; ; p = dirname(p)) {
    try {
      const s = statfsSync(p);
      return s.bavail * s.bsize;
    } catch {
      if (dirname(p) === p) return undefined;
    }
  }
}

/** Why CUDA is (not) usable, and what to do, from the build, the visibility variable and nvidia-smi. */
function cudaFindings(
  build: ReturnType<DoctorSources['loadAddon']> | undefined,
  smi: ReturnType<DoctorSources['nvidiaSmi']>,
  env: NodeJS.ProcessEnv,
): { available: boolean; why: string; problem?: DoctorProblem } {
  const gpus = 'lines' in smi ? smi.lines.length : 0;
  const rebuild = 'install a CUDA build of torch (pip install torch, the default Linux wheel has CUDA) and rebuild the addon: npm run build:native (or npx sft setup)';
  if (!build) return { available: false, why: 'the native addon did not load (see its problem)' };
  if (!build.cudaBuilt) {
    const why = 'the addon was built without CUDA: the libtorch it was built against is CPU-only (or NQ_CPU_ONLY was set)';
    return gpus > 0 ? { available: false, why, problem: { what: `${why}, but nvidia-smi lists ${gpus} GPU(s)`, fix: rebuild } } : { available: false, why: `${why}; no GPU found (nvidia-smi: ${'error' in smi ? smi.error : 'none listed'})` };
  }
  if (build.cudaAvailable) return { available: true, why: `libtorch sees the GPU(s)${gpus ? `; nvidia-smi lists ${gpus}` : ''}` };
  const visible = env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined && (visible.trim() === '' || visible.trim() === '-1')) {
    const why = `CUDA_VISIBLE_DEVICES=${JSON.stringify(visible)} hides every GPU`;
    return { available: false, why, problem: { what: why, fix: 'unset CUDA_VISIBLE_DEVICES, or set it to the GPU indices to use (e.g. 0)' } };
  }
  if ('error' in smi) {
    const why = smi.notFound ? 'no NVIDIA driver found: nvidia-smi is not on PATH' : `the NVIDIA driver does not answer (nvidia-smi: ${smi.error})`;
    return { available: false, why, problem: { what: `the addon was built with CUDA but ${why}`, fix: 'install or repair the NVIDIA driver (nvidia-smi must list the GPU), or run on a machine with a GPU' } };
  }
  const why = `nvidia-smi lists ${gpus} GPU(s) but libtorch ${build.torchVersion} cannot use them: usually a driver older than the CUDA runtime this libtorch was built for`;
  return { available: false, why, problem: { what: why, fix: 'update the NVIDIA driver, or install a torch wheel built for the CUDA version the driver supports (nvidia-smi shows it) and rebuild: npm run build:native' } };
}

export async function doctor(sources: DoctorSources = SYSTEM): Promise<DoctorReport> {
  const problems: DoctorProblem[] = [];
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  if (nodeMajor < NODE_MAJOR_NEEDED) problems.push({ what: `Node ${process.version} is older than ${NODE_MAJOR_NEEDED}`, fix: `install Node ${NODE_MAJOR_NEEDED} or newer` });

  let build: ReturnType<DoctorSources['loadAddon']> | undefined;
  let loadError: string | undefined;
  try {
    build = sources.loadAddon();
  } catch (err) {
    loadError = err instanceof Error ? err.message : String(err);
    const override = sources.env.NODE_QLORA_ADDON;
    const fix = override
      ? `NODE_QLORA_ADDON=${override} does not load: unset it (the package's own build/ or prebuilds/ are used then) or point it at a built node_qlora.node`
      : (/fix: (.*)/.exec(loadError)?.[1] ?? 'run npx sft setup: it loads a prebuild or builds the addon and says what is missing');
    problems.push({ what: `the native addon does not load: ${loadError.split('\n').find((l) => l.includes('reason:'))?.trim() ?? (err instanceof SftError ? err.code : 'error')}`, fix });
  }
  const maps = sources.memoryMap();
  const addonFile = mappedFiles(maps, /\.node$/).find((f) => /node_qlora|node\.napi/.test(f) || f === sources.env.NODE_QLORA_ADDON);
  const torchLib = mappedFiles(maps, /\/libtorch_cpu\.(so|dylib)/)[0] ?? mappedFiles(maps, /\/libc10\.(so|dylib)/)[0];

  const smi = sources.nvidiaSmi();
  const gpus = 'lines' in smi ? parseNvidiaSmi(smi.lines) : [];
  const cuda = cudaFindings(build, smi, sources.env);
  if (cuda.problem) problems.push(cuda.problem);
  if (build?.cudaBuilt && !build.ncclBuilt && gpus.length > 1) {
    problems.push({
      what: `${gpus.length} GPUs but the addon was built without NCCL: --world-size sums gradients through a TCPStore (slow)`,
      fix: 'pip install nvidia-nccl-cu12 (the wheel torch uses) and rebuild: npm run build:native',
    });
  }

  const hub = hubSettingsFromEnv(sources.env);
  const cacheDirs = [
    { name: 'Hugging Face hub cache (HF_HUB_CACHE / HF_HOME)', path: hub.cacheDir },
    { name: 'GGUF imports (NQ_CACHE_DIR)', path: ggufImportCacheRoot(sources.env) },
  ];
  const caches = [];
  for (const c of cacheDirs) {
    const exists = existsSync(c.path);
    const free = diskFree(c.path);
    caches.push({ ...c, exists, bytes: exists ? await folderBytes(c.path) : 0, ...(free !== undefined ? { diskFreeBytes: free } : {}) });
    if (free !== undefined && free < LOW_DISK_BYTES) {
      problems.push({ what: `${(free / GIB).toFixed(1)} GiB free on the disk of ${c.path}: a 4B model download or GGUF import needs several GiB`, fix: `free disk space there, or point ${c.name.match(/\(([^)]*)\)/)?.[1] ?? 'the variable'} at a larger disk` });
    }
  }

  return {
    node: { version: process.version, platform: process.platform, arch: process.arch },
    addon: {
      loaded: build !== undefined,
      ...(addonFile ? { file: addonFile } : {}),
      ...(loadError !== undefined ? { error: loadError } : {}),
      ...(build ? { cudaBuilt: build.cudaBuilt, ncclBuilt: build.ncclBuilt, kernels: build.cudaBuilt } : {}),
    },
    libtorch: { ...(build ? { version: build.torchVersion } : {}), ...(torchLib ? { dir: dirname(torchLib) } : {}) },
    cuda: { available: cuda.available, why: cuda.why, gpus, ...(sources.env.CUDA_VISIBLE_DEVICES !== undefined ? { visibleDevices: sources.env.CUDA_VISIBLE_DEVICES } : {}) },
    cpu: { model: cpus()[0]?.model ?? 'unknown', usableCpus: usableCpus(), engineThreads: cpuThreads(sources.env), freeMemoryBytes: freeCpuBytes() },
    hub: { endpoint: hub.endpoint, token: hub.token !== undefined, offline: hub.offline },
    caches,
    problems,
    notFromAddon: [
      'libtorch folder: read from the libraries this process mapped (/proc/self/maps), not from the addon',
      'GPU name, driver and free memory: from nvidia-smi (the addon reports only whether CUDA is available, not the device properties, the CUDA runtime version or free memory via cudaMemGetInfo)',
      'kernels: the CUDA kernels compile exactly when the addon is built with CUDA (CMakeLists.txt); the addon has no flag of its own for them, nor the CUDA architectures they were built for',
    ],
  };
}

// What the public API says about the engine underneath, as documented functions (the raw addon
// object stays internal, src/native.ts): how it was built, CUDA memory, and the CPU threads.
import { cpuThreads, parseThreadCount } from '../config/cpu-threads.js';
import { native } from '../native.js';

/** How the loaded addon was built and what it can use on this machine. */
export interface BuildInfo {
  /** libtorch's version, e.g. '2.11.0'. */
  torchVersion: string;
  /** Built with CUDA (Torch with CUDA and a CUDA compiler were found). */
  cudaBuilt: boolean;
  /** Built against NCCL: multi-GPU training sums gradients through it (else through a TCPStore). */
  ncclBuilt: boolean;
  /** A GPU is visible to this process. */
  cudaAvailable: boolean;
  /** Intra-op CPU threads the engine uses now (see setCpuThreads). */
  threads: number;
}

/** How the loaded addon was built and what it can use; loads the addon (ADDON_LOAD explains a failure). */
export function buildInfo(): BuildInfo {
  const { torchVersion, cudaBuilt, ncclBuilt, cudaAvailable, threads } = native().buildInfo();
  return { torchVersion, cudaBuilt, ncclBuilt, cudaAvailable, threads };
}

/** CUDA caching-allocator bytes on GPU 0. */
export interface CudaMemory {
  allocated: number;
  /** The most allocated at once since the start or resetCudaPeakMemory(). */
  peakAllocated: number;
  reserved: number;
}

/** CUDA memory of GPU 0; throws SftError CUDA_UNAVAILABLE on a CPU build or without a GPU. */
export function cudaMemory(): CudaMemory {
  const { allocated, peakAllocated, reserved } = native().cudaMemory();
  return { allocated, peakAllocated, reserved };
}

/** Starts a new peak for cudaMemory().peakAllocated; throws CUDA_UNAVAILABLE like cudaMemory(). */
export function resetCudaPeakMemory(): void {
  native().cudaResetPeak();
}

/** The addon's thread setter (native/addon/addon.cpp). */
type WithSetThreads = { setThreads(n: number): number };

let chosen: number | undefined;

/**
 * Sets the engine's intra-op CPU thread count and returns it. Without `n`: NQ_THREADS when set,
 * else the CPUs this process may use (affinity mask and cgroup CPU quota, not the host's core
 * count). Call it before loading a model: a model's worker thread keeps the count it started
 * with. train(), evaluate(), generateText(), runDemo() and the CLI (--threads) call it.
 */
export function setCpuThreads(n?: number): number {
  const threads = n === undefined ? cpuThreads() : parseThreadCount(String(n), 'setCpuThreads');
  chosen = (native() as unknown as WithSetThreads).setThreads(threads);
  return chosen;
}

/** setCpuThreads() once per process, unless a count was already chosen. */
export function ensureCpuThreads(): void {
  if (chosen === undefined) setCpuThreads();
}

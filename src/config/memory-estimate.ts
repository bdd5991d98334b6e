// What a training run needs in memory at least, from the ArchConfig, the storage of the base
// weights, the batch, the sequence length and the LoRA rank, against what the device has free;
// a run that cannot fit is refused before the model loads, with the figures. The estimate is a
// LOWER bound (it leaves out attention scores, MLP intermediates, the loss's logits and the
// allocator's slack), so it refuses only runs that certainly do not fit, never one that would:
//
//   base      = Lin * bytes(quant)  +  V*H * dtypeBytes * (tied ? 1 : 2)
//               Lin = L * (H*nH*hd + 2*H*nKV*hd + nH*hd*H + 3*H*I)   (the decoder's linears)
//               bytes(quant) = 0.5 for nf4/fp4 (4 bits; absmax left out), else dtypeBytes
//   lora      = L * sum over targets of r*(in + out) * 16   (fp32 weight, grad, AdamW m and v)
//   saved     = L * microBatch * T * H * dtypeBytes         (each layer's input, kept for backward
//                                                            with or without checkpointing)
//   needed    = base + lora + saved
//
// T is the longest tokenized row (rows are padded to the longest in their micro-batch).
// Free memory: on CPU the smaller of os.freemem() (MemAvailable) and the cgroup's
// memory.max - memory.current; on CUDA what `nvidia-smi` reports free on the first visible GPU
// (the addon's cudaMemory() reports only the allocator's own bytes). Where neither can be read,
// nothing is refused.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';
import type { ArchConfig } from './arch.js';
import { ErrorCode, SftError } from '../errors.js';

export interface TrainMemoryInput {
  arch: ArchConfig;
  /** Bytes per element of the compute dtype (4 float32, 2 bfloat16 / float16). */
  dtypeBytes: number;
  quantized: boolean;
  microBatch: number;
  /** Longest row in tokens. */
  seqLen: number;
  loraR: number;
  /** LoRA target modules (q_proj, ..., qkv_proj, gate_up_proj). */
  targets: readonly string[];
}

export interface MemoryEstimate {
  baseBytes: number;
  loraBytes: number;
  activationBytes: number;
  totalBytes: number;
}

/** [in, out] features of each linear a LoRA target can name. */
function linearShapes(a: ArchConfig): Record<string, [number, number]> {
  const q = a.numHeads * a.headDim;
  const kv = a.numKvHeads * a.headDim;
  const H = a.hiddenSize;
  const I = a.intermediateSize;
  return {
    q_proj: [H, q],
    k_proj: [H, kv],
    v_proj: [H, kv],
    o_proj: [q, H],
    qkv_proj: [H, q + 2 * kv],
    gate_proj: [H, I],
    up_proj: [H, I],
    gate_up_proj: [H, 2 * I],
    down_proj: [I, H],
  };
}

export function estimateTrainMemory(m: TrainMemoryInput): MemoryEstimate {
  const a = m.arch;
  const shapes = linearShapes(a);
  const layerLinear = (['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const)
    .reduce((sum, name) => {
      const [inF, outF] = shapes[name] as [number, number];
      return sum + inF * outF;
    }, 0);
  const embed = a.vocabSize * a.hiddenSize * m.dtypeBytes * (a.tieWordEmbeddings ? 1 : 2);
  const baseBytes = a.numLayers * layerLinear * (m.quantized ? 0.5 : m.dtypeBytes) + embed;
  const loraPerLayer = m.targets.reduce((sum, t) => {
    const s = shapes[t];
    return s ? sum + m.loraR * (s[0] + s[1]) : sum;
  }, 0);
  const loraBytes = a.numLayers * loraPerLayer * 16;
  const activationBytes = a.numLayers * m.microBatch * m.seqLen * a.hiddenSize * m.dtypeBytes;
  return { baseBytes, loraBytes, activationBytes, totalBytes: baseBytes + loraBytes + activationBytes };
}

function readNumber(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(n) ? n : undefined; // cgroup v2 writes "max" when unlimited
  } catch {
    return undefined;
  }
}

/** Bytes this process can still allocate on the CPU: MemAvailable, capped by its cgroup's limit. */
export function freeCpuBytes(): number {
  const limits = [freemem()];
  const max = readNumber('/sys/fs/cgroup/memory.max') ?? readNumber('/sys/fs/cgroup/memory/memory.limit_in_bytes');
  const used = readNumber('/sys/fs/cgroup/memory.current') ?? readNumber('/sys/fs/cgroup/memory/memory.usage_in_bytes');
  if (max !== undefined && used !== undefined && max < 2 ** 60) limits.push(Math.max(0, max - used));
  return Math.min(...limits);
}

/** Free bytes on the first visible GPU per nvidia-smi, or undefined where it cannot say. */
export function freeGpuBytes(): number | undefined {
  try {
    const first = (process.env.CUDA_VISIBLE_DEVICES ?? '').split(',')[0]?.trim();
    const args = ['--query-gpu=memory.free', '--format=csv,noheader,nounits', ...(first ? ['-i', first] : [])];
    const mib = Number(execFileSync('nvidia-smi', args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0]);
    return Number.isFinite(mib) ? mib * 2 ** 20 : undefined;
  } catch {
    return undefined;
  }
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;

/** INVALID_ARGUMENT with the figures when the estimate is more than `free` (undefined: not known, nothing refused). */
export function checkMemoryFits(e: MemoryEstimate, free: number | undefined, device: 'cpu' | 'cuda', m: TrainMemoryInput): void {
  if (free === undefined || e.totalBytes <= free) return;
  throw new SftError(
    `this run needs at least ${gib(e.totalBytes)} of ${device === 'cuda' ? 'GPU' : 'CPU'} memory but ${gib(free)} is free: ` +
      `base weights ${gib(e.baseBytes)}${m.quantized ? ' (4-bit)' : ''}, LoRA r ${m.loraR} with its AdamW state ${gib(e.loraBytes)}, ` +
      `layer inputs kept for backward ${gib(e.activationBytes)} (micro-batch ${m.microBatch} x ${m.seqLen} tokens x ${m.arch.numLayers} layers). ` +
      'Lower --batch-size (or raise --grad-accum), --max-seq-len or --lora-r, or use 4-bit weights (--quant nf4)',
    ErrorCode.InvalidArgument,
  );
}

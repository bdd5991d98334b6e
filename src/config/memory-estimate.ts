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
type LinearName = 'q_proj' | 'k_proj' | 'v_proj' | 'o_proj' | 'qkv_proj' | 'gate_proj' | 'up_proj' | 'gate_up_proj' | 'down_proj';
function linearShapes(a: ArchConfig): Record<LinearName, [number, number]> {
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
      const [inF, outF] = shapes[name];
      return sum + inF * outF;
    }, 0);
  const embed = a.vocabSize * a.hiddenSize * m.dtypeBytes * (a.tieWordEmbeddings ? 1 : 2);
  const baseBytes = a.numLayers * layerLinear * (m.quantized ? 0.5 : m.dtypeBytes) + embed;
  const loraPerLayer = m.targets.reduce((sum, t) => {
    const s = shapes[t as LinearName] as [number, number] | undefined;
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

// --- The planner's estimate (sft plan, --batch-size auto): what a step is expected to hold at
// its peak, part by part, as the engine keeps it (native/core/model.cpp packedStep,
// decoder_layer.cpp DecoderSaved, activation_store.cpp, loss.cpp). N = micro-batch x sequence
// length packed tokens (no padding is stored; the plan assumes every row is as long as the
// longest), c = bytes of the compute dtype, Q = the query width (heads x head dim), KV = the
// key/value width, I = the MLP width:
//
//   weights      decoder linears at 0.5 byte + their absmax (NF4 / FP4: 1 byte per 64 weights and
//                4 bytes per 256 blocks with double quantization, else 4 bytes per 64) or c
//                bytes, embeddings (and an untied lm_head) at c bytes
//   lora         r x (in + out) per adapted linear x 16 bytes: fp32 weights, gradients, AdamW m, v
//   layerSaved   what one layer keeps for its backward: input x (H), q / k after RoPE and the
//                q|k|v buffer (2Q + 3KV), attention output (Q), residual h1 (H), gate and up
//                (2I), the normed inputs of adapted linear groups (H each; I for down_proj), and
//                with LoRA dropout the masks (the group's input width each)
//   activations  without checkpointing: layerSaved x adapted layers; with checkpointing: one
//                layerSaved (the layer being recomputed) plus the layer inputs (N x H x c each)
//                where they stay: in device memory on CPU, in pinned host memory on CUDA (two in
//                flight on the device)
//   workspace    one layer's transient buffers in forward / backward: gradients of gate and up
//                and the GLU output (3I), the gradient of the q|k|v buffer (Q + 2KV), two H-wide
//                gradients; on CUDA with 4-bit weights the dequantized 16-bit weight of the
//                largest linear group, twice (forward and the input gradient); on CPU the
//                attention scores of one sequence (heads x T x T, fp32) as the math path forms them
//   loss         the final hidden state and its gradient and the normed targets (4 x N x H x c)
//                plus one chunk of fp32 logits, their gradient and the 16-bit product
//                (rows x V x 10 bytes, rows = max(16, 2^25 / V) as loss.cpp picks them)
//
// Eval (generation): weights + LoRA weights (fp32, 4 bytes) + the KV cache (2 x layers x batch x
// (prompt + new tokens) x KV x c) + one layer's prefill workspace over batch x prompt tokens +
// the last positions' fp32 logits (batch x V x 4 x 2).

/** Inputs of the planner's estimate of one training step or one generation batch. */
export interface StepMemoryInput {
  arch: ArchConfig;
  device: 'cpu' | 'cuda';
  /** Bytes per element of the compute dtype. */
  dtypeBytes: number;
  /** 4-bit decoder linears (nf4 / fp4 or a bnb-4bit checkpoint). */
  quantized: boolean;
  /** Double quantization of the 4-bit absmax (the default). */
  doubleQuant: boolean;
  microBatch: number;
  /** Tokens per row (the longest row). */
  seqLen: number;
  loraR: number;
  targets: readonly string[];
  /** No adapters on the first N layers (nothing is kept for them). */
  freezeLayers: number;
  loraDropout: number;
  gradientCheckpointing: boolean;
}

export interface StepMemoryEstimate {
  weightBytes: number;
  loraBytes: number;
  activationBytes: number;
  /** On CUDA with checkpointing: the layer inputs kept in pinned host memory (not device memory). */
  hostActivationBytes: number;
  workspaceBytes: number;
  lossBytes: number;
  totalBytes: number;
}

export interface EvalMemoryInput {
  arch: ArchConfig;
  device: 'cpu' | 'cuda';
  dtypeBytes: number;
  quantized: boolean;
  doubleQuant: boolean;
  /** Prompts per generation batch. */
  batch: number;
  promptLen: number;
  maxNewTokens: number;
  loraR: number;
  targets: readonly string[];
}

export interface EvalMemoryEstimate {
  weightBytes: number;
  loraBytes: number;
  kvCacheBytes: number;
  workspaceBytes: number;
  logitsBytes: number;
  totalBytes: number;
}

const LINEAR_GROUPS = { qkv: ['q_proj', 'k_proj', 'v_proj', 'qkv_proj'], o: ['o_proj'], gateUp: ['gate_proj', 'up_proj', 'gate_up_proj'], down: ['down_proj'] } as const;

/** Bytes of the base weights: 4-bit linears with their absmax, or 16/32-bit ones, and the embeddings. */
function weightBytes(a: ArchConfig, dtypeBytes: number, quantized: boolean, doubleQuant: boolean): number {
  const s = linearShapes(a);
  const perLayer = (['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const).reduce((n, k) => n + s[k][0] * s[k][1], 0);
  const bytesPerWeight = quantized ? 0.5 + (doubleQuant ? 1 / 64 + 4 / (64 * 256) : 4 / 64) : dtypeBytes;
  return a.numLayers * perLayer * bytesPerWeight + a.vocabSize * a.hiddenSize * dtypeBytes * (a.tieWordEmbeddings ? 1 : 2);
}

function loraParameters(a: ArchConfig, r: number, targets: readonly string[], layers: number): number {
  const s = linearShapes(a);
  return layers * targets.reduce((n, t) => {
    const shape = s[t as LinearName] as [number, number] | undefined;
    return shape ? n + r * (shape[0] + shape[1]) : n;
  }, 0);
}

/** Elements of the 16-bit weight of the largest linear group (what one 4-bit GEMM dequantizes). */
function largestGroupWeights(a: ArchConfig): number {
  const s = linearShapes(a);
  return Math.max(s.qkv_proj[0] * s.qkv_proj[1], s.gate_up_proj[0] * s.gate_up_proj[1], s.o_proj[0] * s.o_proj[1], s.down_proj[0] * s.down_proj[1]);
}

/** Positions per loss chunk, as native/core/loss.cpp defaultLossChunkRows picks them. */
export function lossChunkRows(vocabSize: number): number {
  return Math.max(16, Math.floor(2 ** 25 / Math.max(1, vocabSize)));
}

export function estimateStepMemory(m: StepMemoryInput): StepMemoryEstimate {
  const a = m.arch;
  const c = m.dtypeBytes;
  const N = m.microBatch * m.seqLen;
  const H = a.hiddenSize;
  const I = a.intermediateSize;
  const Q = a.numHeads * a.headDim;
  const KV = a.numKvHeads * a.headDim;
  const adapted = Math.max(0, a.numLayers - m.freezeLayers);
  const has = (group: keyof typeof LINEAR_GROUPS) => LINEAR_GROUPS[group].some((t) => m.targets.includes(t));
  const groupInputs = (has('qkv') ? H : 0) + (has('gateUp') ? H : 0) + (has('down') ? I : 0); // o_proj's input is the kept attention output
  const masks = m.loraDropout > 0 ? groupInputs + (has('o') ? Q : 0) : 0;
  const xa = m.targets.length * m.loraR;
  const layerSaved = N * c * (H + 2 * Q + 3 * KV + Q + H + 2 * I + groupInputs + masks + xa) + N * 4 * (a.numHeads + 3); // + fp32 lse and rstds
  const layerInput = N * H * c;
  let activationBytes: number;
  let hostActivationBytes = 0;
  if (!m.gradientCheckpointing) activationBytes = adapted * layerSaved;
  else if (m.device === 'cuda') {
    activationBytes = layerSaved + 2 * layerInput;
    hostActivationBytes = adapted * layerInput;
  } else activationBytes = layerSaved + adapted * layerInput;
  const dequant = m.device === 'cuda' && m.quantized ? 2 * largestGroupWeights(a) * 2 : 0;
  const scores = m.device === 'cpu' ? a.numHeads * m.seqLen * m.seqLen * 4 * m.microBatch : 0;
  const workspaceBytes = N * c * (3 * I + Q + 2 * KV + 2 * H) + dequant + scores;
  const lossBytes = 4 * N * H * c + Math.min(N, lossChunkRows(a.vocabSize)) * a.vocabSize * 10;
  const base = weightBytes(a, c, m.quantized, m.doubleQuant);
  const loraBytes = loraParameters(a, m.loraR, m.targets, adapted) * 16;
  return {
    weightBytes: base,
    loraBytes,
    activationBytes,
    hostActivationBytes,
    workspaceBytes,
    lossBytes,
    totalBytes: base + loraBytes + activationBytes + workspaceBytes + lossBytes,
  };
}

export function estimateEvalMemory(m: EvalMemoryInput): EvalMemoryEstimate {
  const a = m.arch;
  const c = m.dtypeBytes;
  const KV = a.numKvHeads * a.headDim;
  const Q = a.numHeads * a.headDim;
  const N = m.batch * m.promptLen;
  const kvCacheBytes = 2 * a.numLayers * m.batch * (m.promptLen + m.maxNewTokens) * KV * c;
  const dequant = m.device === 'cuda' && m.quantized ? largestGroupWeights(a) * 2 : 0;
  const scores = m.device === 'cpu' ? a.numHeads * m.promptLen * (m.promptLen + m.maxNewTokens) * 4 * m.batch : 0;
  const workspaceBytes = N * c * (2 * a.hiddenSize + Q + 2 * KV + Q + 3 * a.intermediateSize) + dequant + scores;
  const logitsBytes = m.batch * a.vocabSize * 4 * 2;
  const base = weightBytes(a, c, m.quantized, m.doubleQuant);
  const loraBytes = loraParameters(a, m.loraR, m.targets, a.numLayers) * 4;
  return { weightBytes: base, loraBytes, kvCacheBytes, workspaceBytes, logitsBytes, totalBytes: base + loraBytes + kvCacheBytes + workspaceBytes + logitsBytes };
}

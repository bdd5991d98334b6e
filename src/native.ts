// The only file that loads the addon. It describes the whole native module as one TypeScript
// interface, hands the addon our SftError class, and explains how to fix a failed load.
import { createRequire } from 'node:module';
import { ErrorCode, SftError } from './errors.js';
import { PACKAGE_ROOT as packageRoot } from './package-info.js';
import type { ArchConfig } from './config/arch.js';
import type { PackedBatch, PackedTokens } from './data/pack.js';

export type StDtype = 'F32' | 'F16' | 'BF16' | 'U8' | 'I8' | 'I32' | 'I64' | 'BOOL';

export interface StTensorInfo {
  name: string;
  dtype: StDtype;
  shape: number[];
  /** Byte offsets inside the data section, as stored in the header. */
  begin: number;
  end: number;
}

export interface StTensorData {
  dtype: StDtype;
  shape: number[];
  /** Raw little-endian bytes (a copy). */
  data: Buffer;
}

export interface NativeSafetensors {
  /** Parses and validates the header; throws SftError with an ST_* code. */
  inspect(path: string): { tensors: StTensorInfo[]; metadata: Record<string, string> };
  read(path: string, name: string): StTensorData;
  /**
   * Writes the file off the event loop (under a temporary name, renamed into place). The data
   * buffers are read in place: do not change them until the promise settles.
   */
  write(
    path: string,
    tensors: Record<string, { dtype: StDtype; shape: number[]; data: Buffer | ArrayBufferView }>,
    metadata?: Record<string, string>,
  ): Promise<void>;
  /** Sorted tensor names of a checkpoint dir (model.safetensors or index.json + shards). */
  checkpointNames(dir: string): string[];
}

export type NativeDevice = 'cpu' | 'cuda';

export type QuantType = 'nf4' | 'fp4';
/** A 4-bit weight as bitsandbytes serializes it: "weight", "weight.absmax", ... */
export type QuantRecord = Record<string, StTensorData>;

/** 4-bit primitives (native/core/quant.h), for tests, tools and GPU checks. */
export interface NativeQuant {
  quantize(
    input: StTensorData,
    options: { type: QuantType; blocksize: number; doubleQuant: boolean; device?: NativeDevice },
  ): QuantRecord;
  dequantize(serialized: QuantRecord, options: { dtype: NativeDtype; device?: NativeDevice; reference?: boolean }): StTensorData;
  gemv(x: StTensorData, serialized: QuantRecord, options?: { device?: NativeDevice }): StTensorData;
  readSerialized(dir: string, weightName: string): QuantRecord;
  /** Forward + backward through the model's 4-bit linear layer with autograd on. */
  linearBackward(
    x: StTensorData,
    serialized: QuantRecord,
    gradOut: StTensorData,
    options?: { device?: NativeDevice },
  ): { y: StTensorData; dx: StTensorData; weightGrads: number };
}
export type NativeDtype = 'float32' | 'bfloat16' | 'float16';

/**
 * One loaded model (native/addon/model_binding.cpp). Token ids, labels and masks cross as typed
 * arrays. Every method but info() and abortProcessGroup() returns a Promise and reports bad
 * arguments (INVALID_ARGUMENT naming the field) and use after dispose (DISPOSED) by rejecting it.
 */
export interface NativeModelHandle {
  /** ids: a row-major (shape[0], shape[1]) matrix; attentionMask: 1 = token, 0 = padding (null: all tokens). Logits row-major [batch, seq, vocab] float32. */
  logits(ids: Int32Array, shape: [number, number], attentionMask: Uint8Array | null): Promise<{ shape: number[]; data: Float32Array }>;
  /**
   * Sequence classification (a model loaded with numLabels): logits [B, numLabels] float32 of
   * the score head at each row's last token where attentionMask is 1 (left or right padding).
   */
  classifyLogits(ids: Int32Array, shape: [number, number], attentionMask: Uint8Array | null): Promise<{ shape: number[]; data: Float32Array }>;
  /**
   * Continuation of each packed prompt, greedy or (with `sampling`, one seed per prompt) sampled;
   * resolves with only the new tokens of each, packed. `onStep` hears each step's token per prompt
   * (padTokenId for finished ones) on the JS thread, possibly after the promise settled; returning
   * false stops generation a step or two later.
   */
  generate(
    prompts: PackedTokens,
    options: {
      maxNewTokens: number;
      minNewTokens: number;
      eosTokenIds: Int32Array;
      padTokenId: number;
      sampling?: { temperature: number; topK: number; topP: number; seeds: number[] };
    },
    onStep?: (ids: Int32Array) => boolean | void,
  ): Promise<PackedTokens>;
  info(): NativeModelInfo;
  dispose(): Promise<void>;

  // --- LoRA training (native/core/model.h). Tensor records are keyed by peft's names:
  // "base_model.model.<module>.lora_A.weight" / ".lora_B.weight". Errors: LORA_INVALID,
  // NO_GRADIENTS, INVALID_ARGUMENT. ---

  /** Adds fp32 adapters (A ~ U(+-1/sqrt(in)) from `seed`, B = 0); returns the full module names and the trainable parameter count. */
  addLora(options: {
    /** Module names: q_proj, k_proj, v_proj, o_proj, qkv_proj, gate_proj, up_proj, down_proj, gate_up_proj. */
    targets: string[];
    r: number;
    alpha: number;
    /** scaling = alpha / sqrt(r) instead of alpha / r. */
    useRslora: boolean;
    /** Dropout on the adapter input while training. */
    dropout: number;
    /** Decoder layers that get adapters. Absent: all. */
    layers?: number[];
    /** Seeds lora_A's init and the dropout masks. */
    seed: number;
    /** Seeds the dropout masks alone (each data-parallel rank its own). Absent: seed. */
    dropoutSeed?: number;
  }): Promise<{ modules: string[]; parameters: number }>;
  /** Copies of the adapter tensors (F32), for inspection and tests. */
  loraTensors(): Promise<Record<string, StTensorData>>;
  /** Replaces every adapter tensor (all names required; any float dtype, cast to fp32). */
  setLoraTensors(tensors: Record<string, { dtype: StDtype; shape: number[]; data: Buffer | ArrayBufferView }>): Promise<void>;
  /**
   * Forward + backward of a packed (padding-free) batch; ADDS d(lossSum * lossScale)/d(adapters)
   * to the gradients. tokens: the targets counted (labels other than -100, the first of each
   * sequence excluded).
   */
  trainStep(batch: PackedBatch, options: { lossScale: number; gradientCheckpointing: boolean }): Promise<{ lossSum: number; tokens: number }>;
  /**
   * Classification forward + backward of a packed batch (a model loaded with numLabels, after
   * addLora, whose trainable parameters then include the score head
   * "base_model.model.score.weight"); ADDS d(lossSum * lossScale)/d(parameters). lossSum: the
   * rows' summed loss (CE, or R-Drop / SupCon as the options ask); rows: sequences counted.
   */
  classifyStep(batch: PackedClassifyBatch, options: ClassifyStepOptions): Promise<{ lossSum: number; rows: number }>;
  /** Accumulated gradients (F32; zeros where none accumulated). */
  gradients(): Promise<Record<string, StTensorData>>;
  zeroGrad(): Promise<void>;
  /**
   * Clips to maxGradNorm (<= 0: no clipping), one AdamW step, zeroes the gradients; gradNorm is
   * the norm before clipping. skipNonFinite: a NaN / Inf norm zeroes the gradients and changes
   * nothing else (applied: false); false applies the update whatever the norm.
   */
  optimizerStep(options: {
    lr: number;
    beta1: number;
    beta2: number;
    eps: number;
    weightDecay: number;
    maxGradNorm: number;
    skipNonFinite: boolean;
  }): Promise<{ gradNorm: number; applied: boolean }>;
  /** Writes the adapter tensors to `file` in peft's adapter_model.safetensors layout (on the model's thread). */
  saveAdapter(file: string): Promise<void>;
  /** Replaces every adapter tensor with those of a peft adapter_model.safetensors. */
  loadAdapterWeights(file: string): Promise<void>;
  /**
   * Writes the AdamW state ("exp_avg.<name>", "exp_avg_sq.<name>", "rng.dropout" when dropout > 0;
   * metadata {step}) to `file`; resolves with the optimizer step count it holds.
   */
  saveOptimizerState(file: string): Promise<{ step: number }>;
  /** Restores the state saveOptimizerState wrote, as of optimizer step `step`. */
  loadOptimizerState(file: string, options: { step: number }): Promise<void>;
  /**
   * Joins a data-parallel process group as `rank` of `worldSize`; rank 0 hosts the rendezvous
   * store at host:port. Resolves once all ranks joined. backend: 'tcpstore' (CPU, or CUDA
   * without NCCL) or 'nccl' (buildInfo().ncclBuilt). Errors: DIST_INIT, DIST_UNAVAILABLE.
   */
  initProcessGroup(options: { rank: number; worldSize: number; host?: string; port: number; backend?: 'tcpstore' | 'nccl'; timeoutMs?: number }): Promise<void>;
  /**
   * Sums the LoRA gradients (zeros where a rank accumulated none) and `scalars` over the ranks,
   * in place; resolves with the summed scalars. Errors: DIST_NOT_INITIALIZED, DIST_COLLECTIVE, DIST_ABORTED.
   */
  allReduceGradients(scalars?: number[]): Promise<number[]>;
  /** Synchronous: this rank's pending and later collectives fail with DIST_ABORTED (another rank failed). */
  abortProcessGroup(): void;
  /** Writes srcDir's checkpoint with the adapters merged (16-bit; 4-bit weights dequantized). */
  mergeAdapter(srcDir: string, outFile: string): Promise<{ tensors: number; bytes: number }>;
}

/** A padding-free classification batch: sequence i is the next seqLens[i] ids; labels[i] its class. */
export interface PackedClassifyBatch {
  ids: Int32Array;
  /** Each >= 1, summing to ids.length. */
  seqLens: Int32Array;
  /** One class index in [0, numLabels) per sequence. */
  labels: Int32Array;
}

/** classifyStep's options: every field required (the defaults are the recipe's, src/config/defaults.ts). */
export interface ClassifyStepOptions {
  lossScale: number;
  gradientCheckpointing: boolean;
  /** > 0: R-Drop, two passes with independent dropout: (CE1 + CE2) / 2 + rdropAlpha x symmetric KL / 2. */
  rdropAlpha: number;
  /** > 0: (1 - w) x CE + w x SupCon over the L2-normalized pooled features of the batch's rows. */
  supconWeight: number;
  supconTemperature: number;
}

export interface NativeModelInfo {
  device: NativeDevice;
  dtype: NativeDtype;
  parameters: number;
  parameterBytes: number;
  weightPrefix: string;
  /** Linear layers holding 4-bit weights. */
  quantizedLinears: number;
}

export interface NativeLoadOptions {
  device: NativeDevice;
  dtype: NativeDtype;
  /** Quantize 16-bit linear weights on load. */
  quant: 'none' | 'nf4' | 'fp4';
  doubleQuant: boolean;
  /** Elements per absmax block when quantizing on load (64..4096, a power of two). */
  blocksize: number;
  /** Turn pre-quantized (bitsandbytes) weights into 16-bit ones. */
  dequantizeStored: boolean;
  /** Sequence classification: a score head of numLabels classes (absent: none). */
  numLabels?: number;
  /** With numLabels: the head's init std (config.json's initializer_range), unless the checkpoint holds score.weight. */
  scoreInitStd?: number;
  /** With numLabels: seed of the head's normal init. */
  scoreSeed?: number;
}

export interface NativeBinding {
  buildInfo(): { torchVersion: string; cudaBuilt: boolean; ncclBuilt: boolean; cudaAvailable: boolean; threads: number };
  setErrorClass(ctor: typeof SftError): void;
  /** CUDA caching-allocator bytes on device 0; throws CUDA_UNAVAILABLE without CUDA. */
  cudaMemory(): { allocated: number; peakAllocated: number; reserved: number };
  cudaResetPeak(): void;
  /** The torch (kineto) profiler, for scripts/gpu/profile.mjs: stop(path) writes a Chrome trace. */
  profiler: { start(): void; stop(path: string): void };
  safetensors: NativeSafetensors;
  quant: NativeQuant;
  /** The classification losses of native/core/loss.h, synchronous, for tests against their references. */
  losses: {
    classification(
      pooled: StTensorData[],
      weight: StTensorData,
      labels: Int32Array,
      options: { rdropAlpha: number; supconWeight: number; supconTemperature: number; gradScale: number },
    ): { lossSum: number; gradPooled: StTensorData[]; gradWeight: StTensorData };
  };
  /** The sampling policy of native/core/sampling.h, synchronous, for tests against transformers' warpers. */
  sampling: {
    /** (rows, vocab) logits -> F32 logits after temperature, top-k (0: off), top-p (1: off); filtered tokens -inf. */
    warp(logits: StTensorData, options: { temperature: number; topK: number; topP: number }): StTensorData;
    /** One I64 token per row of softmax(warped) for the row's uniform u in (0, 1). */
    draw(warped: StTensorData, u: StTensorData): StTensorData;
  };
  loadModel(dir: string, arch: ArchConfig, options: NativeLoadOptions): Promise<NativeModelHandle>;
  /**
   * What the engine reads from `arch`, written back as an ArchConfig (for the boundary test).
   * A missing, mistyped or unknown field rejects with INVALID_ARGUMENT naming its path.
   */
  parseArch(arch: ArchConfig): Promise<ArchConfig>;
  /** Copies a checkpoint with `names` stored 4-bit in bitsandbytes' layout. */
  quantizeCheckpoint(
    srcDir: string,
    outFile: string,
    names: string[],
    options: { type: 'nf4' | 'fp4'; blocksize: number; doubleQuant: boolean; device: NativeDevice },
  ): Promise<{ quantized: number; copied: number; bytesOut: number }>;
}


let cached: NativeBinding | undefined;

/** Loads the addon once. NODE_QLORA_ADDON=/path/to/file.node overrides the lookup. */
export function native(): NativeBinding {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const attempts: string[] = [];
  let binding: NativeBinding | undefined;
  const override = process.env.NODE_QLORA_ADDON;
  try {
    if (override) {
      attempts.push(override);
      binding = require(override) as NativeBinding;
    } else {
      attempts.push(`node-gyp-build(${packageRoot}) -> build/Release/*.node, prebuilds/`);
      const load = require('node-gyp-build') as (dir: string) => unknown;
      binding = load(packageRoot) as NativeBinding;
    }
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    const hint = /libtorch|libc10|libtorch_cpu|\.so/.test(reason)
      ? 'The addon was built against a libtorch that cannot be found now: rebuild with `npm run build:native`, or make the libtorch it was built with visible again.'
      : 'Build it with `npm run build` (needs cmake, a C++ compiler and libtorch: `pip install torch`).';
    throw new SftError(
      `node-qlora: could not load the native addon.\n  tried: ${attempts.join('\n  tried: ')}\n  reason: ${reason}\n  fix: ${hint}\n  diagnose: npx sft doctor (the addon, libtorch, CUDA, and what to do about each)`,
      ErrorCode.AddonLoad,
    );
  }
  binding.setErrorClass(SftError);
  cached = binding;
  return binding;
}

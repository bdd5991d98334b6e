// A loaded model: owns one native handle (and its worker thread). Create with loadModel(),
// release with dispose() (or `await using`). Heavy calls run off the event loop.
import { z } from 'zod';
import type { ArchConfig } from '../config/arch.js';
import { loadArchConfig } from '../config/hf-config.js';
import { loadGenerationDefaults } from '../config/generation.js';
import { ErrorCode, SftError } from '../errors.js';
import { native, type NativeModelHandle } from '../native.js';
import { parseOptions } from './options.js';

export type Device = 'cpu' | 'cuda';
export type Dtype = 'float32' | 'bfloat16' | 'float16';

const loadModelOptionsSchema = z
  .object({
    /** Where the weights live and the math runs. Default: 'cuda' when this build has CUDA and a GPU is visible, else 'cpu'. */
    device: z.enum(['cpu', 'cuda']).optional(),
    /** Compute and weight dtype. Default: float32 on CPU, bfloat16 on CUDA. */
    dtype: z.enum(['float32', 'bfloat16', 'float16']).optional(),
    /**
     * Base weights of the decoder's linear layers. 'nf4' / 'fp4': 16-bit checkpoints are
     * quantized on load (bitsandbytes' format); pre-quantized bnb-4bit checkpoints load as
     * stored. 'none': 16-bit weights, and 4-bit checkpoints are dequantized. Default: nf4 on
     * CUDA, 'none' on CPU (where pre-quantized checkpoints still load as stored).
     * Embeddings, norms and lm_head always stay 16-bit.
     */
    quant: z.enum(['none', 'nf4', 'fp4']).optional(),
    /** Quantize the per-block absmax too (bitsandbytes' double quantization). Default true. */
    doubleQuant: z.boolean().optional(),
  })
  .strict();
export type LoadModelOptions = z.input<typeof loadModelOptionsSchema>;

const logitsOptionsSchema = z
  .object({
    /** Same shape as ids: 1 for tokens, 0 for padding. Positions count real tokens only. */
    attentionMask: z.array(z.array(z.number().int().min(0).max(1))).optional(),
  })
  .strict();
export type LogitsOptions = z.input<typeof logitsOptionsSchema>;

const generateOptionsSchema = z
  .object({
    /** Upper bound on new tokens per prompt. Default 16. */
    maxNewTokens: z.number().int().min(0).default(16),
    /** EOS is suppressed until this many tokens were generated (transformers' min_new_tokens). Default 0. */
    minNewTokens: z.number().int().min(0).default(0),
    /** Any of these ends a sequence. Default: generation_config.json, else config.json. */
    eosTokenIds: z.array(z.number().int().min(0)).optional(),
  })
  .strict();
export type GenerateOptions = z.input<typeof generateOptionsSchema>;

export interface Logits {
  /** [batch, seq, vocab] */
  shape: number[];
  /** Row-major float32 logits. */
  data: Float32Array;
}

export interface ModelInfo {
  dir: string;
  family: ArchConfig['family'];
  device: Device;
  dtype: Dtype;
  parameters: number;
  parameterBytes: number;
  /** Linear layers holding 4-bit weights (0 when quant is 'none'). */
  quantizedLinears: number;
  vocabSize: number;
  numLayers: number;
  hiddenSize: number;
  eosTokenIds: number[];
}

function defaultDevice(): Device {
  const info = native().buildInfo();
  return info.cudaBuilt && info.cudaAvailable ? 'cuda' : 'cpu';
}

export class Model {
  #handle: NativeModelHandle | undefined;
  readonly dir: string;
  readonly arch: ArchConfig;
  readonly eosTokenIds: number[];
  readonly padTokenId: number;

  private constructor(handle: NativeModelHandle, dir: string, arch: ArchConfig, eos: number[], pad: number) {
    this.#handle = handle;
    this.dir = dir;
    this.arch = arch;
    this.eosTokenIds = eos;
    this.padTokenId = pad;
  }

  /** Use loadModel(). */
  static async load(dir: string, options: LoadModelOptions = {}): Promise<Model> {
    const opts = parseOptions(loadModelOptionsSchema, options, 'loadModel options');
    const arch = await loadArchConfig(dir);
    const gen = await loadGenerationDefaults(dir);
    const device = opts.device ?? defaultDevice();
    const dtype = opts.dtype ?? (device === 'cuda' ? 'bfloat16' : 'float32');
    const quant = opts.quant ?? (device === 'cuda' ? 'nf4' : 'none');
    const handle = await native().loadModel(dir, arch, {
      device,
      dtype,
      quant,
      doubleQuant: opts.doubleQuant ?? true,
      dequantizeStored: opts.quant === 'none',
    });
    const pad = gen.padTokenId ?? gen.eosTokenIds[0] ?? 0;
    return new Model(handle, dir, arch, gen.eosTokenIds, pad);
  }

  #live(): NativeModelHandle {
    if (!this.#handle) throw new SftError(`model ${this.dir} was disposed; load it again to use it`, ErrorCode.Disposed);
    return this.#handle;
  }

  /** Float32 logits for every position of every sequence (sequences must have equal length; pad + mask otherwise). */
  async logits(ids: number[][], options: LogitsOptions = {}): Promise<Logits> {
    const opts = parseOptions(logitsOptionsSchema, options, 'logits options');
    return this.#live().logits(ids, opts.attentionMask ?? null);
  }

  /**
   * Greedy continuation of each prompt (prompts may differ in length; they are left-padded
   * internally). Returns only the new tokens, up to and including the EOS that ended each.
   */
  async generate(ids: number[][], options: GenerateOptions = {}): Promise<number[][]> {
    const opts = parseOptions(generateOptionsSchema, options, 'generate options');
    return this.#live().generate(ids, {
      maxNewTokens: opts.maxNewTokens,
      minNewTokens: opts.minNewTokens,
      eosTokenIds: opts.eosTokenIds ?? this.eosTokenIds,
      padTokenId: this.padTokenId,
    });
  }

  info(): ModelInfo {
    const n = this.#live().info();
    return {
      dir: this.dir,
      family: this.arch.family,
      device: n.device,
      dtype: n.dtype,
      parameters: n.parameters,
      parameterBytes: n.parameterBytes,
      quantizedLinears: n.quantizedLinears,
      vocabSize: this.arch.vocabSize,
      numLayers: this.arch.numLayers,
      hiddenSize: this.arch.hiddenSize,
      eosTokenIds: this.eosTokenIds,
    };
  }

  /** Frees the weights (on the model's thread) and ends its thread. Safe to call twice. */
  async dispose(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    if (handle) await handle.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

/** Loads an HF-layout checkpoint directory (config.json + *.safetensors). */
export function loadModel(dir: string, options: LoadModelOptions = {}): Promise<Model> {
  return Model.load(dir, options);
}

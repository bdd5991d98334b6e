// A loaded model: owns one native handle (and its worker thread). Create with loadModel(),
// release with dispose() (or `await using`). Heavy calls run off the event loop.
import { z } from 'zod';
import type { ArchConfig } from '../config/arch.js';
import { loadArchConfig, readJsonFile } from '../config/hf-config.js';
import { loadGenerationDefaults } from '../config/generation.js';
import { CLASSIFY_DEFAULTS, GENERATE_DEFAULTS, LORA_DEFAULTS, QUANTIZE_DEFAULTS } from '../config/defaults.js';
import { ErrorCode, SftError } from '../errors.js';
import { native, type NativeModelHandle } from '../native.js';
import { packRows, tokenMatrix, unpackRows } from '../data/pack.js';
import { peftAdapterConfig, type LoraSpec } from './adapter-config.js';
import { checkScoreHeadFits, checkUserAdapter } from './adapter-fit.js';
import { writeFileAtomic, writeJsonAtomic } from './atomic-write.js';
import { parseJsonKeepingFloats, stringifyJsonKeepingFloats } from './json-floats.js';
import { parseOptions } from '../config/parse-options.js';
import { numberIn, OPTION_RANGES } from '../config/option-ranges.js';
import type { SameShape } from '../config/same-shape.js';
import type { LoraTarget } from '../config/option-types.js';
import { mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { copyCheckpointSidecars } from './checkpoint-files.js';
import { checkPromptsFitContext } from '../config/context-length.js';
import { nativeSampling, samplingOptionFields, type SamplingOptions } from './sampling.js';
import { streamTokens } from './token-stream.js';

export type Device = 'cpu' | 'cuda';
export type Dtype = 'float32' | 'bfloat16' | 'float16';

export const loadModelOptionsSchema = z
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
    /** 'classify' adds a score head (numLabels classes) read at each row's last token. Default 'generate'. */
    task: z.enum(['generate', 'classify']).default(CLASSIFY_DEFAULTS.task),
    /** Classes of the score head; required with task 'classify'. */
    numLabels: numberIn(OPTION_RANGES.numLabels).optional(),
    /** Seed of the score head's init, normal(0, initializer_range). Default 3407. */
    seed: numberIn(OPTION_RANGES.seed).default(LORA_DEFAULTS.seed),
  })
  .strict()
  .refine((o) => (o.task === 'classify') === (o.numLabels !== undefined), {
    message: "numLabels is required with task 'classify' and only allowed with it",
    path: ['numLabels'],
  });
/** How loadModel() holds the weights. */
export interface LoadModelOptions {
  /** Where the weights live and the math runs. @default 'cuda' when this build has CUDA and a GPU is visible, else 'cpu' */
  device?: Device;
  /** Compute and weight dtype. @default float32 on CPU, bfloat16 on CUDA */
  dtype?: Dtype;
  /**
   * Base weights of the decoder's linear layers. 'nf4' / 'fp4': 16-bit checkpoints are
   * quantized on load (bitsandbytes' format); pre-quantized bnb-4bit checkpoints load as
   * stored. 'none': 16-bit weights, and 4-bit checkpoints are dequantized. Embeddings, norms and
   * lm_head always stay 16-bit. @default nf4 on CUDA, 'none' on CPU (where pre-quantized checkpoints still load as stored)
   */
  quant?: 'none' | 'nf4' | 'fp4';
  /** Quantize the per-block absmax too (bitsandbytes' double quantization). @default true (bitsandbytes') */
  doubleQuant?: boolean;
  /**
   * 'generate': logits over the vocabulary (lm head). 'classify': sequence classification as
   * transformers' *ForSequenceClassification: a score head (numLabels x hidden, no bias, fp32,
   * trainable with the adapters) applied to the final hidden state of each row's last
   * non-padding token. The checkpoint's `score.weight` is used when it has one. @default 'generate'
   */
  task?: 'generate' | 'classify';
  /** Classes of the score head; required with task 'classify'. @default none (required with task 'classify') */
  numLabels?: number;
  /** Seed of the score head's init: normal(0, config.json's initializer_range), as transformers initializes it. @default 3407 */
  seed?: number;
}
const loadModelSchemaMatches: SameShape<LoadModelOptions, z.input<typeof loadModelOptionsSchema>> = true;

export const logitsOptionsSchema = z
  .object({
    /** Same shape as ids: 1 for tokens, 0 for padding. Positions count real tokens only. */
    attentionMask: z.array(z.array(z.number().int().min(0).max(1))).optional(),
  })
  .strict();
/** model.logits() options. */
export interface LogitsOptions {
  /** Same shape as ids: 1 for tokens, 0 for padding. Positions count real tokens only. @default every token real */
  attentionMask?: number[][];
}
const logitsSchemaMatches: SameShape<LogitsOptions, z.input<typeof logitsOptionsSchema>> = true;

export const generateOptionsSchema = z
  .object({
    /** Upper bound on new tokens per prompt. Default 32 (config/defaults.ts GENERATE_DEFAULTS). */
    maxNewTokens: numberIn(OPTION_RANGES.generateNewTokens).default(GENERATE_DEFAULTS.maxNewTokens),
    /** EOS is suppressed until this many tokens were generated (transformers' min_new_tokens). Default 0. */
    minNewTokens: z.number().int().min(0).default(GENERATE_DEFAULTS.minNewTokens),
    /** Any of these ends a sequence. Default: generation_config.json, else config.json. */
    eosTokenIds: z.array(z.number().int().min(0)).optional(),
    ...samplingOptionFields,
  })
  .strict();
/** model.generate() options: greedy decoding unless temperature > 0, topK or topP is given (engine/sampling.ts). */
export interface GenerateOptions extends SamplingOptions {
  /** Upper bound on new tokens per prompt. @default 32 */
  maxNewTokens?: number;
  /** EOS is suppressed until this many tokens were generated (transformers' min_new_tokens). @default 0 */
  minNewTokens?: number;
  /** Any of these ends a sequence. @default generation_config.json's EOS ids, else config.json's */
  eosTokenIds?: number[];
}
const generateSchemaMatches: SameShape<GenerateOptions, z.input<typeof generateOptionsSchema>> = true;

export const loraOptionsSchema = z
  .object({
    /** Linear modules that get adapters. Default q_proj, k_proj, v_proj (the seed's recipe; Phi-3: qkv_proj). */
    targets: z.array(z.enum(['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj', 'qkv_proj', 'gate_up_proj'])).nonempty().optional(),
    /** Rank. Default 16. */
    r: numberIn(OPTION_RANGES.loraR).default(LORA_DEFAULTS.r),
    /** lora_alpha; scaling = alpha / r (alpha / sqrt(r) with useRslora). Default 32. */
    alpha: numberIn(OPTION_RANGES.loraAlpha).default(LORA_DEFAULTS.alpha),
    /** Dropout on the adapter's input during training. Default 0. */
    dropout: z.number().min(0).lt(1).default(LORA_DEFAULTS.dropout),
    useRslora: z.boolean().default(LORA_DEFAULTS.useRslora),
    /** Decoder layers that get adapters (peft's layers_to_transform). Default: all but the frozen ones. */
    layersToTransform: z.array(z.number().int().min(0)).nonempty().optional(),
    /** No adapters on the first N decoder layers. Default 0. */
    freezeLayers: z.number().int().min(0).default(0),
    /** Seed of A's kaiming-uniform init (B starts at zero) and of the dropout masks. Default 3407. */
    seed: z.number().int().min(0).default(LORA_DEFAULTS.seed),
    /** Seed of the dropout masks alone (data-parallel ranks each use their own). Default: seed. */
    dropoutSeed: z.number().int().min(0).optional(),
  })
  .strict();
/** model.addLora() options (peft's LoraConfig). */
export interface LoraOptions {
  /** Linear modules that get adapters. @default q_proj, k_proj, v_proj (the seed's recipe; Phi-3: qkv_proj) */
  targets?: LoraTarget[];
  /** Rank. @default 16 */
  r?: number;
  /** lora_alpha; scaling = alpha / r (alpha / sqrt(r) with useRslora). @default 32 */
  alpha?: number;
  /** Dropout on the adapter's input during training. @default 0 */
  dropout?: number;
  /** Scale by alpha / sqrt(r) (rsLoRA). @default false */
  useRslora?: boolean;
  /** Decoder layers that get adapters (peft's layers_to_transform). @default all but the frozen ones */
  layersToTransform?: number[];
  /** No adapters on the first N decoder layers. @default 0 */
  freezeLayers?: number;
  /** Seed of A's kaiming-uniform init (B starts at zero) and of the dropout masks. @default 3407 */
  seed?: number;
  /** Seed of the dropout masks alone (data-parallel ranks each use their own). @default seed */
  dropoutSeed?: number;
}
const loraSchemaMatches: SameShape<LoraOptions, z.input<typeof loraOptionsSchema>> = true;
void [loadModelSchemaMatches, logitsSchemaMatches, generateSchemaMatches, loraSchemaMatches];

/** model.classifyLogits() result: fp32 logits of the score head. */
export interface ClassifyLogits {
  /** [batch, numLabels] */
  shape: number[];
  /** Row-major float32 logits. */
  data: Float32Array;
}

export interface LoraInfo {
  spec: LoraSpec;
  /** Full names of the modules carrying adapters, e.g. model.layers.3.self_attn.q_proj. */
  modules: string[];
  /** Trainable parameters. */
  parameters: number;
}

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

const HANDLE = Symbol('nativeHandle');

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
  /** 'classify': the model has a score head of numLabels classes (classifyLogits, classification training). */
  readonly task: 'generate' | 'classify';
  /** Classes of the score head (task 'classify'), else undefined. */
  readonly numLabels: number | undefined;
  #lora: LoraInfo | undefined;

  private constructor(handle: NativeModelHandle, dir: string, arch: ArchConfig, eos: number[], pad: number, numLabels: number | undefined) {
    this.#handle = handle;
    this.dir = dir;
    this.arch = arch;
    this.eosTokenIds = eos;
    this.padTokenId = pad;
    this.task = numLabels === undefined ? 'generate' : 'classify';
    this.numLabels = numLabels;
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
      doubleQuant: opts.doubleQuant ?? QUANTIZE_DEFAULTS.doubleQuant,
      blocksize: QUANTIZE_DEFAULTS.blocksize,
      dequantizeStored: opts.quant === 'none',
      ...(opts.task === 'classify' ? { numLabels: opts.numLabels, scoreInitStd: await initializerRange(dir), scoreSeed: opts.seed } : {}),
    });
    const pad = gen.padTokenId ?? gen.eosTokenIds[0] ?? 0;
    return new Model(handle, dir, arch, gen.eosTokenIds, pad, opts.task === 'classify' ? opts.numLabels : undefined);
  }

  [HANDLE](): NativeModelHandle {
    return this.#live();
  }

  #live(): NativeModelHandle {
    if (!this.#handle) throw new SftError(`model ${this.dir} was disposed; load it again to use it`, ErrorCode.Disposed);
    return this.#handle;
  }

  /** Float32 logits for every position of every sequence (sequences must have equal length; pad + mask otherwise). */
  async logits(ids: number[][], options: LogitsOptions = {}): Promise<Logits> {
    const opts = parseOptions(logitsOptionsSchema, options, 'logits options');
    const handle = this.#live();
    const m = tokenMatrix(ids, opts.attentionMask);
    return handle.logits(m.ids, m.shape, m.attentionMask);
  }

  /**
   * Sequence classification (a model loaded with task 'classify'): fp32 logits [batch,
   * numLabels] of the score head at each row's last non-padding token. Rows may be left- or
   * right-padded (attentionMask 0 on padding); positions count real tokens only.
   */
  async classifyLogits(ids: number[][], options: LogitsOptions = {}): Promise<ClassifyLogits> {
    const opts = parseOptions(logitsOptionsSchema, options, 'classifyLogits options');
    if (this.task !== 'classify') {
      throw new SftError(`classifyLogits: model ${this.dir} was loaded without a score head; load it with {task: 'classify', numLabels}`, ErrorCode.InvalidArgument);
    }
    const handle = this.#live();
    const m = tokenMatrix(ids, opts.attentionMask);
    return handle.classifyLogits(m.ids, m.shape, m.attentionMask);
  }

  /**
   * Greedy continuation of each prompt (prompts may differ in length; they are left-padded
   * internally). Returns only the new tokens, up to and including the EOS that ended each.
   */
  async generate(ids: number[][], options: GenerateOptions = {}): Promise<number[][]> {
    const opts = parseOptions(generateOptionsSchema, options, 'generate options');
    checkPromptsFitContext(ids.map((row) => row.length), opts.maxNewTokens, this.arch.maxPositionEmbeddings);
    const handle = this.#live();
    return unpackRows(await handle.generate(packRows(ids, 'ids'), this.#nativeGenerateOptions(opts, ids.length)));
  }

  /**
   * generate() of one prompt as an async iterator of its new token ids, each as soon as the
   * engine produced it (the EOS that ends generation included). Leaving the loop early stops
   * the generation within a step or two.
   */
  generateStream(ids: number[], options: GenerateOptions = {}): AsyncGenerator<number, void, undefined> {
    const opts = parseOptions(generateOptionsSchema, options, 'generateStream options');
    checkPromptsFitContext([ids.length], opts.maxNewTokens, this.arch.maxPositionEmbeddings);
    const handle = this.#live();
    const nativeOptions = this.#nativeGenerateOptions(opts, 1);
    const prompt = packRows([ids], 'ids');
    return streamTokens((onStep) => handle.generate(prompt, nativeOptions, onStep), Array.from(nativeOptions.eosTokenIds));
  }

  #nativeGenerateOptions(opts: z.output<typeof generateOptionsSchema>, rows: number) {
    const sampling = nativeSampling(opts, rows);
    return {
      maxNewTokens: opts.maxNewTokens,
      minNewTokens: opts.minNewTokens,
      eosTokenIds: Int32Array.from(opts.eosTokenIds ?? this.eosTokenIds),
      padTokenId: this.padTokenId,
      ...(sampling ? { sampling } : {}),
    };
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

  /** The adapter, once addLora() or loadAdapter() ran. */
  get lora(): LoraInfo | undefined {
    return this.#lora;
  }

  /**
   * Adds trainable LoRA adapters (fp32) to the frozen base, initialized as peft does. With task
   * 'classify' the score head trains with them and saveAdapter writes a peft SEQ_CLS adapter.
   */
  async addLora(options: LoraOptions = {}): Promise<LoraInfo> {
    const opts = parseOptions(loraOptionsSchema, options, 'LoRA options');
    const defaultTargets = this.arch.fusedQkv ? ['qkv_proj'] : ['q_proj', 'k_proj', 'v_proj'];
    const layers = opts.layersToTransform ?? Array.from({ length: this.arch.numLayers - opts.freezeLayers }, (_, i) => i + opts.freezeLayers);
    const spec: LoraSpec = {
      r: opts.r,
      alpha: opts.alpha,
      dropout: opts.dropout,
      targets: opts.targets ?? defaultTargets,
      layersToTransform: opts.layersToTransform ?? (opts.freezeLayers > 0 ? layers : null),
      useRslora: opts.useRslora,
      ...(this.task === 'classify' ? { taskType: 'SEQ_CLS' as const } : {}),
    };
    return this.#addLora(spec, layers, opts.seed, opts.dropoutSeed);
  }

  async #addLora(spec: LoraSpec, layers: number[], seed: number, dropoutSeed?: number): Promise<LoraInfo> {
    if (this.#lora) throw new SftError(`model ${this.dir} already has a LoRA adapter`, ErrorCode.InvalidArgument);
    const outside = layers.filter((l) => l >= this.arch.numLayers);
    if (outside.length > 0) {
      throw new SftError(`LoRA layers ${outside.join(', ')} do not exist: the model has ${this.arch.numLayers} decoder layers`, ErrorCode.InvalidArgument);
    }
    const r = await this.#live().addLora({ targets: spec.targets, r: spec.r, alpha: spec.alpha, useRslora: spec.useRslora, dropout: spec.dropout, layers, seed, ...(dropoutSeed !== undefined ? { dropoutSeed } : {}) });
    if (r.modules.length === 0) {
      throw new SftError(`no module named ${spec.targets.join(' / ')} in layers ${layers.join(', ')} of ${this.dir}`, ErrorCode.InvalidArgument);
    }
    this.#lora = { spec, modules: r.modules, parameters: r.parameters };
    return this.#lora;
  }

  /** Writes adapter_config.json + adapter_model.safetensors in peft's format. */
  async saveAdapter(dir: string): Promise<void> {
    const lora = this.#lora;
    if (!lora) throw new SftError('saveAdapter: the model has no LoRA adapter', ErrorCode.InvalidArgument);
    const handle = this.#live();
    await mkdir(dir, { recursive: true });
    // Written on the model's thread, under a temporary name renamed into place.
    await handle.saveAdapter(join(dir, 'adapter_model.safetensors'));
    await writeJsonAtomic(join(dir, 'adapter_config.json'), peftAdapterConfig(lora.spec, this.dir));
  }

  /**
   * Writes the base checkpoint with the adapter merged into its weights (W + scaling * B @ A),
   * as a plain 16-bit HF checkpoint: 4-bit bases are dequantized and lose their
   * quantization_config; tokenizer and generation files are copied. A classifier's head is
   * written as score.weight with config.json naming *ForSequenceClassification and num_labels.
   */
  async mergeAdapter(outDir: string): Promise<{ outDir: string; tensors: number; bytes: number }> {
    if (!this.#lora) throw new SftError('mergeAdapter: the model has no LoRA adapter', ErrorCode.InvalidArgument);
    const out = resolve(outDir);
    if (out === resolve(this.dir)) throw new SftError(`mergeAdapter: the output folder must differ from the model's (${out})`, ErrorCode.InvalidArgument);
    await mkdir(out, { recursive: true });
    const r = await this.#live().mergeAdapter(this.dir, join(out, 'model.safetensors'));
    // Read and written keeping 8.0 as 8.0: transformers checks float fields' types.
    const config = parseJsonKeepingFloats(await readFile(join(this.dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    delete config.quantization_config;
    if (this.task === 'classify') {
      // The head is score.weight: the checkpoint is a *ForSequenceClassification one.
      config.architectures = (Array.isArray(config.architectures) ? config.architectures : []).map((a) => String(a).replace(/ForCausalLM$/, 'ForSequenceClassification'));
      config.num_labels = this.numLabels;
    }
    await writeFileAtomic(join(out, 'config.json'), stringifyJsonKeepingFloats(config));
    await copyCheckpointSidecars(this.dir, out);
    return { outDir: out, ...r };
  }

  /** Adds the adapter stored in a peft adapter folder (ours or peft's). */
  async loadAdapter(dir: string): Promise<LoraInfo> {
    const { spec } = await checkUserAdapter(dir, this); // names a mismatch before the native load
    await checkScoreHeadFits(dir, spec, this);
    const layers = spec.layersToTransform ?? Array.from({ length: this.arch.numLayers }, (_, i) => i);
    const info = await this.#addLora(spec, layers, 0);
    await this.loadAdapterWeights(dir);
    return info;
  }

  /** Replaces the adapter's weights with those in dir/adapter_model.safetensors. */
  async loadAdapterWeights(dir: string): Promise<void> {
    const file = join(dir, 'adapter_model.safetensors');
    if (!existsSync(file)) throw new SftError(`no adapter_model.safetensors in ${dir}`, ErrorCode.FileNotFound);
    await this.#live().loadAdapterWeights(file);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

/** config.json's initializer_range (the text config's for multimodal checkpoints; transformers' default 0.02). */
async function initializerRange(dir: string): Promise<number> {
  const config = (await readJsonFile(join(dir, 'config.json'))) as { initializer_range?: unknown; text_config?: { initializer_range?: unknown } };
  const value = config.initializer_range ?? config.text_config?.initializer_range ?? 0.02;
  if (typeof value !== 'number' || !(value > 0)) {
    throw new SftError(`${join(dir, 'config.json')}: initializer_range must be a positive number, got ${JSON.stringify(value)}`, ErrorCode.ConfigInvalid);
  }
  return value;
}

/** The native handle, for the training driver (src/train); not part of the public API. */
export function nativeHandle(model: Model): NativeModelHandle {
  return model[HANDLE]();
}

/** Loads an HF-layout checkpoint directory (config.json + *.safetensors). */
export function loadModel(dir: string, options: LoadModelOptions = {}): Promise<Model> {
  return Model.load(dir, options);
}

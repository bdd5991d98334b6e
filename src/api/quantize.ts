// quantizeCheckpoint: a 16-bit HF checkpoint -> the same checkpoint with the decoder's linear
// weights stored 4-bit in bitsandbytes' layout (Linear4bit state dict + quantization_config),
// which transformers + bitsandbytes load, and loadModel loads as stored.
import { mkdir, writeFile } from 'node:fs/promises';
import { checkOutputPath } from '../io/output-path.js';
import { copyCheckpointSidecars } from '../engine/checkpoint-files.js';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { QUANTIZE_DEFAULTS } from '../config/defaults.js';
import type { SameShape } from '../config/same-shape.js';
import { loadArchConfig, readJsonFile } from '../config/hf-config.js';
import { ErrorCode, SftError } from '../errors.js';
import { native } from '../native.js';
import { ensureCpuThreads } from './runtime.js';
import { parseOptions } from '../config/parse-options.js';

/** quantizeCheckpoint(dir, outDir, options) (`sft quantize`). */
export interface QuantizeOptions {
  /** 4-bit data type. @default 'nf4' */
  quant?: 'nf4' | 'fp4';
  /** Quantize the per-block absmax too (bitsandbytes' double quantization). @default true */
  doubleQuant?: boolean;
  /** Where the quantization math runs. @default 'cpu' */
  device?: 'cpu' | 'cuda';
}

export const quantizeOptionsSchema = z
  .object({
    quant: z.enum(['nf4', 'fp4']).default(QUANTIZE_DEFAULTS.quant),
    doubleQuant: z.boolean().default(QUANTIZE_DEFAULTS.doubleQuant),
    device: z.enum(['cpu', 'cuda']).default(QUANTIZE_DEFAULTS.device),
  })
  .strict();
const quantizeSchemaMatches: SameShape<QuantizeOptions, z.input<typeof quantizeOptionsSchema>> = true;
void quantizeSchemaMatches;

export interface QuantizeResult {
  outDir: string;
  quantized: number;
  copied: number;
  bytesOut: number;
}

/** Decoder linear layers, as bitsandbytes quantizes them (embeddings, norms, lm_head stay 16-bit). */
const LINEAR_WEIGHT = /\.layers\.\d+\.(self_attn|mlp)\.(q|k|v|o|qkv|gate|up|down|gate_up)_proj\.weight$/;

/** The quantization_config transformers writes for BitsAndBytesConfig(load_in_4bit=True, ...). */
function bnbQuantizationConfig(quant: 'nf4' | 'fp4', doubleQuant: boolean, computeDtype: string): Record<string, unknown> {
  return {
    quant_method: 'bitsandbytes',
    _load_in_8bit: false,
    _load_in_4bit: true,
    llm_int8_threshold: 6.0,
    llm_int8_skip_modules: null,
    llm_int8_enable_fp32_cpu_offload: false,
    llm_int8_has_fp16_weight: false,
    bnb_4bit_quant_type: quant,
    bnb_4bit_use_double_quant: doubleQuant,
    bnb_4bit_compute_dtype: computeDtype,
    bnb_4bit_quant_storage: 'uint8',
    load_in_4bit: true,
    load_in_8bit: false,
  };
}

/** transformers' BitsAndBytesConfig rejects an integer llm_int8_threshold; JSON.stringify writes 6.0 as 6. */
function floatThreshold(json: string): string {
  return json.replace(/("llm_int8_threshold": )(-?\d+)(?=[,\n}])/, '$1$2.0');
}

export async function quantizeCheckpoint(modelDir: string, outDir: string, options: QuantizeOptions = {}): Promise<QuantizeResult> {
  const opts = parseOptions(quantizeOptionsSchema, options, 'quantize options');
  const src = resolve(modelDir);
  const out = resolve(outDir);
  if (src === out) throw new SftError(`--out must differ from --model (${src})`, ErrorCode.InvalidArgument);
  checkOutputPath(out, 'folder');
  const config = (await readJsonFile(join(src, 'config.json'))) as Record<string, unknown>;
  if (config.quantization_config) {
    throw new SftError(`${src} is already quantized (config.json has quantization_config); quantize a 16-bit checkpoint`, ErrorCode.InvalidArgument);
  }
  await loadArchConfig(src); // validates the family and its config before any work
  const names = native().safetensors.checkpointNames(src).filter((n) => LINEAR_WEIGHT.test(n));
  if (names.length === 0) {
    throw new SftError(`no decoder linear weights (…layers.N.self_attn|mlp.*_proj.weight) found in ${src}`, ErrorCode.InvalidArgument);
  }
  await mkdir(out, { recursive: true });
  if (existsSync(join(out, 'model.safetensors.index.json'))) {
    throw new SftError(`${out} already holds a sharded checkpoint; choose an empty --out folder`, ErrorCode.InvalidArgument);
  }
  ensureCpuThreads();
  const stats = await native().quantizeCheckpoint(src, join(out, 'model.safetensors'), names, {
    type: opts.quant,
    doubleQuant: opts.doubleQuant,
    device: opts.device,
    blocksize: QUANTIZE_DEFAULTS.blocksize,
  });
  const computeDtype = typeof config.dtype === 'string' ? config.dtype : typeof config.torch_dtype === 'string' ? config.torch_dtype : 'bfloat16';
  const outConfig = { ...config, quantization_config: bnbQuantizationConfig(opts.quant, opts.doubleQuant, computeDtype) };
  await writeFile(join(out, 'config.json'), `${floatThreshold(JSON.stringify(outConfig, null, 2))}\n`);
  await copyCheckpointSidecars(src, out);
  return { outDir: out, ...stats };
}

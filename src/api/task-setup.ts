// What train() and evaluate() set up the same way from the same options: the prompt builder
// (tokenizer + template + chat + max-seq-len + the model's end-of-turn ids) and the model load.
import { loadGenerationDefaults } from '../config/generation.js';
import { PromptBuilder } from '../data/prompt-builder.js';
import { resolveTemplate, type PromptTemplate } from '../data/templates.js';
import { loadTokenizer, type Tokenizer } from '../tokenize/tokenizer.js';
import { loadModel, type Device, type Dtype, type Model } from './model.js';
import { ensureCpuThreads } from './runtime.js';
import { loadArchConfig } from '../config/hf-config.js';
import { seqLenWithinContext } from '../config/context-length.js';
import type { RunControl } from './progress.js';
import { readJsonFile } from '../config/hf-config.js';
import { checkMemoryFits, estimateTrainMemory, freeCpuBytes, freeGpuBytes } from '../config/memory-estimate.js';
import { DEFAULT_FUSED_LORA_TARGETS, DEFAULT_LORA_TARGETS } from '../config/defaults.js';
import { native } from '../native.js';

export interface PromptSetup {
  tokenizer: Tokenizer;
  template: PromptTemplate;
  builder: PromptBuilder;
  /** max-seq-len as applied: the option, or the model's context length when that is shorter. */
  maxSeqLen: number;
}

/** max-seq-len beyond the model's context length is lowered to it (rows are cut to fit), with a progress note. */
export async function promptSetup(modelDir: string, o: { template: string; chat: boolean; maxSeqLen: number }, control: RunControl = {}): Promise<PromptSetup> {
  const { maxSeqLen, note } = seqLenWithinContext(o.maxSeqLen, (await loadArchConfig(modelDir)).maxPositionEmbeddings);
  if (note !== undefined) control.onProgress?.({ phase: 'data', message: note });
  const tokenizer = await loadTokenizer(modelDir);
  const template = resolveTemplate(o.template);
  const builder = await PromptBuilder.create(tokenizer, template, {
    chat: o.chat,
    maxSeqLen,
    endTokenIds: (await loadGenerationDefaults(modelDir)).eosTokenIds,
  });
  return { tokenizer, template, builder, maxSeqLen };
}

/**
 * loadModel with the run's engine options (unset ones keep loadModel's defaults), after sizing
 * the CPU thread pool to the CPUs this process may use (before the model's thread starts).
 */
export function loadRunModel(modelDir: string, o: { device?: Device | undefined; dtype?: Dtype | undefined; quant?: 'none' | 'nf4' | 'fp4' | undefined }): Promise<Model> {
  ensureCpuThreads();
  return loadModel(modelDir, {
    ...(o.device ? { device: o.device } : {}),
    ...(o.dtype ? { dtype: o.dtype } : {}),
    ...(o.quant ? { quant: o.quant } : {}),
  });
}

/**
 * Refuses a training run whose memory need (config/memory-estimate.ts, a lower bound) exceeds
 * what the device has free, before the model loads. Unset engine options resolve as loadModel
 * resolves them (cuda when built and visible; nf4 on cuda, none on cpu; a bnb-4bit checkpoint
 * stays 4-bit).
 */
export async function checkTrainMemory(
  modelDir: string,
  o: { device?: Device | undefined; dtype?: Dtype | undefined; quant?: 'none' | 'nf4' | 'fp4' | undefined; loraR: number; loraTargets?: readonly string[] | undefined },
  microBatch: number,
  seqLen: number,
): Promise<void> {
  const info = native().buildInfo();
  const device = o.device ?? (info.cudaBuilt && info.cudaAvailable ? 'cuda' : 'cpu');
  const dtype = o.dtype ?? (device === 'cuda' ? 'bfloat16' : 'float32');
  const config = (await readJsonFile(`${modelDir}/config.json`)) as { quantization_config?: unknown };
  const quantized = (o.quant ?? (device === 'cuda' ? 'nf4' : 'none')) !== 'none' || config.quantization_config != null;
  const arch = await loadArchConfig(modelDir);
  const input = {
    arch,
    dtypeBytes: dtype === 'float32' ? 4 : 2,
    quantized,
    microBatch,
    seqLen,
    loraR: o.loraR,
    targets: o.loraTargets ?? (arch.fusedQkv ? DEFAULT_FUSED_LORA_TARGETS : DEFAULT_LORA_TARGETS),
  };
  checkMemoryFits(estimateTrainMemory(input), device === 'cuda' ? freeGpuBytes() : freeCpuBytes(), device, input);
}

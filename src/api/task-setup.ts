// What train() and evaluate() set up the same way from the same options: the prompt builder
// (tokenizer + template + chat + max-seq-len + the model's end-of-turn ids) and the model load.
import { loadGenerationDefaults } from '../config/generation.js';
import { PromptBuilder } from '../data/prompt-builder.js';
import { resolveTemplate, type PromptTemplate } from '../data/templates.js';
import { InstructionBuilder } from '../data/instruction-builder.js';
import { resolveInstructionTemplate, type InstructionTemplate } from '../data/instruction-template.js';
import { loadTokenizer, type Tokenizer } from '../tokenize/tokenizer.js';
import { loadModel, type Device, type Dtype, type Model } from './model.js';
import { ensureCpuThreads } from './runtime.js';
import { loadArchConfig } from '../config/hf-config.js';
import { seqLenWithinContext } from '../config/context-length.js';
import type { RunControl } from './progress.js';
import { checkMemoryFits, estimateTrainMemory } from '../config/memory-estimate.js';
import { planSetup } from './plan.js';
import { DATA_DEFAULTS, DEFAULT_FUSED_LORA_TARGETS, DEFAULT_LORA_TARGETS } from '../config/defaults.js';

export interface PromptSetup {
  tokenizer: Tokenizer;
  template: PromptTemplate;
  builder: PromptBuilder;
  /** max-seq-len as applied: the option, or the model's context length when that is shorter. */
  maxSeqLen: number;
}

/** The tokenizer, max-seq-len within the model's context length (lowered with a progress note) and its end-of-turn ids. */
async function tokenizerSetup(modelDir: string, requested: number, control: RunControl): Promise<{ tokenizer: Tokenizer; maxSeqLen: number; endTokenIds: number[] }> {
  const { maxSeqLen, note } = seqLenWithinContext(requested, (await loadArchConfig(modelDir)).maxPositionEmbeddings);
  if (note !== undefined) control.onProgress?.({ phase: 'data', message: note });
  return { tokenizer: await loadTokenizer(modelDir), maxSeqLen, endTokenIds: (await loadGenerationDefaults(modelDir)).eosTokenIds };
}

/** max-seq-len beyond the model's context length is lowered to it (rows are cut to fit), with a progress note. */
export async function promptSetup(modelDir: string, o: { template: string; chat: boolean; maxSeqLen: number }, control: RunControl = {}): Promise<PromptSetup> {
  const { tokenizer, maxSeqLen, endTokenIds } = await tokenizerSetup(modelDir, o.maxSeqLen, control);
  const template = resolveTemplate(o.template);
  const builder = await PromptBuilder.create(tokenizer, template, { chat: o.chat, maxSeqLen, endTokenIds });
  return { tokenizer, template, builder, maxSeqLen };
}

export interface InstructionSetup {
  tokenizer: Tokenizer;
  /** The instruction template (undefined with --chat and no --template: the chat template renders the turns). */
  template: InstructionTemplate | undefined;
  builder: InstructionBuilder;
  /** max-seq-len as applied (see promptSetup). */
  maxSeqLen: number;
}

/**
 * promptSetup() for instruction data: --chat renders the turns with the model's chat template
 * (a --template given as well writes single-turn rows' user and assistant turns); otherwise
 * --template names an instruction template, and the label default 'imdb' (which has no
 * instruction placeholders) stands for the seed's 'alpaca'.
 */
export async function instructionSetup(modelDir: string, o: { template: string; chat: boolean; maxSeqLen: number }, control: RunControl = {}): Promise<InstructionSetup> {
  const { tokenizer, maxSeqLen, endTokenIds } = await tokenizerSetup(modelDir, o.maxSeqLen, control);
  const named = o.template === DATA_DEFAULTS.template ? undefined : o.template;
  const template = o.chat && named === undefined ? undefined : resolveInstructionTemplate(named ?? 'alpaca');
  const builder = InstructionBuilder.create(tokenizer, { chat: o.chat, template, maxSeqLen, endTokenIds });
  return { tokenizer, template, builder, maxSeqLen };
}

/**
 * loadModel with the run's engine options (unset ones keep loadModel's defaults), after sizing
 * the CPU thread pool to the CPUs this process may use (before the model's thread starts).
 */
export function loadRunModel(
  modelDir: string,
  o: { device?: Device | undefined; dtype?: Dtype | undefined; quant?: 'none' | 'nf4' | 'fp4' | undefined },
  classify?: { numLabels: number; seed: number },
): Promise<Model> {
  ensureCpuThreads();
  return loadModel(modelDir, {
    ...(o.device ? { device: o.device } : {}),
    ...(o.dtype ? { dtype: o.dtype } : {}),
    ...(o.quant ? { quant: o.quant } : {}),
    ...(classify ? { task: 'classify' as const, numLabels: classify.numLabels, seed: classify.seed } : {}),
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
  const { arch, device, dtype, quantized, budget } = await planSetup(modelDir, o); // the rules sft plan uses (api/plan.ts)
  const input = {
    arch,
    dtypeBytes: dtype === 'float32' ? 4 : 2,
    quantized,
    microBatch,
    seqLen,
    loraR: o.loraR,
    targets: o.loraTargets ?? (arch.fusedQkv ? DEFAULT_FUSED_LORA_TARGETS : DEFAULT_LORA_TARGETS),
  };
  checkMemoryFits(estimateTrainMemory(input), budget.freeBytes, device, input);
}

// What train() and evaluate() set up the same way from the same options: the prompt builder
// (tokenizer + template + chat + max-seq-len + the model's end-of-turn ids) and the model load.
import { loadGenerationDefaults } from '../config/generation.js';
import { PromptBuilder } from '../data/prompt-builder.js';
import { resolveTemplate, type PromptTemplate } from '../data/templates.js';
import { loadTokenizer, type Tokenizer } from '../tokenize/tokenizer.js';
import { loadModel, type Device, type Dtype, type Model } from './model.js';
import { ensureCpuThreads } from './runtime.js';

export interface PromptSetup {
  tokenizer: Tokenizer;
  template: PromptTemplate;
  builder: PromptBuilder;
}

export async function promptSetup(modelDir: string, o: { template: string; chat: boolean; maxSeqLen: number }): Promise<PromptSetup> {
  const tokenizer = await loadTokenizer(modelDir);
  const template = resolveTemplate(o.template);
  const builder = await PromptBuilder.create(tokenizer, template, {
    chat: o.chat,
    maxSeqLen: o.maxSeqLen,
    endTokenIds: (await loadGenerationDefaults(modelDir)).eosTokenIds,
  });
  return { tokenizer, template, builder };
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

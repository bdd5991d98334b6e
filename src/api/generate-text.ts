// Text in, text out: resolve the model (optionally with a trained adapter), tokenize (optionally
// through the chat template), generate (greedy, or sampled with a seed) until an EOS of the model
// or the chat template's end-of-turn token, decode the new tokens.
import { z } from 'zod';
import { GENERATE_DEFAULTS } from '../config/defaults.js';
import { numberIn, OPTION_RANGES } from '../config/option-ranges.js';
import type { EngineOptions } from '../config/option-types.js';
import type { SameShape } from '../config/same-shape.js';
import { loadTokenizer } from '../tokenize/tokenizer.js';
import { loadRunModel } from './task-setup.js';
import { resolveModelForRun } from './model-source.js';
import { parseOptions } from '../config/parse-options.js';
import type { RunControl } from './progress.js';
import { loadArchConfig } from '../config/hf-config.js';
import { checkPromptsFitContext } from '../config/context-length.js';
import { loadGenerationDefaults } from '../config/generation.js';
import { checkAdapterFits } from '../engine/adapter-fit.js';
import { samplingOptionFields, type SamplingOptions } from '../engine/sampling.js';
import { stopTokenIds } from '../eval/generation-task-stop-ids.js';
import { TextStream } from '../tokenize/text-stream.js';

/** generateText(options) (`sft generate`): give exactly one of prompt and chat. */
export interface GenerateTextOptions extends EngineOptions, SamplingOptions {
  /** Preset, Hub repo id (org/name), local checkpoint folder, a .gguf file, or 'demo'. */
  model: string;
  /** Plain-text prompt; the tokenizer adds its special tokens (e.g. BOS). @default none (give chat) */
  prompt?: string;
  /** A user message rendered with the model's chat template and a generation prompt. @default none (give prompt) */
  chat?: string;
  /** Most new tokens to generate (greedy). @default 32 */
  maxNewTokens?: number;
  /** EOS is suppressed until this many tokens were generated. @default 0 */
  minNewTokens?: number;
  /** A PEFT adapter folder (e.g. a `sft train` --out) applied to the model. @default none: the base model */
  adapter?: string;
}

export const generateTextSchema = z
  .object({
    model: z.string().min(1),
    prompt: z.string().optional(),
    chat: z.string().optional(),
    maxNewTokens: numberIn(OPTION_RANGES.generateNewTokens).default(GENERATE_DEFAULTS.maxNewTokens),
    minNewTokens: numberIn(OPTION_RANGES.minNewTokens).default(GENERATE_DEFAULTS.minNewTokens),
    adapter: z.string().min(1).optional(),
    ...samplingOptionFields,
    device: z.enum(['cpu', 'cuda']).optional(),
    dtype: z.enum(['float32', 'bfloat16', 'float16']).optional(),
    quant: z.enum(['none', 'nf4', 'fp4']).optional(),
  })
  .strict()
  .refine((o) => (o.prompt === undefined) !== (o.chat === undefined), { message: 'give exactly one of prompt or chat' });
const generateTextSchemaMatches: SameShape<GenerateTextOptions, z.input<typeof generateTextSchema>> = true;
void generateTextSchemaMatches;

export interface GenerateTextResult {
  /** The prompt as token ids. */
  promptIds: number[];
  /** Only the new tokens (with the EOS that ended generation, if one did). */
  ids: number[];
  /** The new tokens decoded, special tokens skipped. */
  text: string;
}

/**
 * `control.onProgress` hears about the model (and its download, when it is not cached yet);
 * `onText`, when given, hears the decoded text as it grows, token by token (streamed).
 */
export async function generateText(options: GenerateTextOptions, control: RunControl = {}, onText?: (text: string) => void): Promise<GenerateTextResult> {
  const opts = parseOptions(generateTextSchema, options, 'generateText options');
  const { dir } = await resolveModelForRun(opts.model, control);
  const tokenizer = await loadTokenizer(dir);
  const promptIds =
    opts.chat !== undefined
      ? await tokenizer.encodeChat([{ role: 'user', content: opts.chat }], { addGenerationPrompt: true, enableThinking: false })
      : await tokenizer.encode(opts.prompt ?? '', { addSpecialTokens: true });
  checkPromptsFitContext([promptIds.length], opts.maxNewTokens, (await loadArchConfig(dir)).maxPositionEmbeddings);
  if (opts.adapter !== undefined) await checkAdapterFits(opts.adapter, { dir, arch: await loadArchConfig(dir) });
  const eosTokenIds = await stopTokenIds(tokenizer, (await loadGenerationDefaults(dir)).eosTokenIds);
  const model = await loadRunModel(dir, opts);
  try {
    if (opts.adapter !== undefined) await model.loadAdapter(opts.adapter);
    const generate = { maxNewTokens: opts.maxNewTokens, minNewTokens: opts.minNewTokens, eosTokenIds, temperature: opts.temperature, topK: opts.topK, topP: opts.topP, seed: opts.seed };
    const ids: number[] = [];
    if (onText) {
      const text = new TextStream(tokenizer);
      for await (const id of model.generateStream(promptIds, generate)) {
        ids.push(id);
        const piece = await text.push(id);
        if (piece) onText(piece);
      }
    } else {
      ids.push(...((await model.generate([promptIds], generate))[0] ?? []));
    }
    const text = await tokenizer.decode(ids, { skipSpecialTokens: true });
    return { promptIds, ids, text };
  } finally {
    await model.dispose();
  }
}

// openChat() (`sft chat`): a conversation with a model (optionally with a trained adapter) through
// its chat template. Each reply streams its text as the tokens are generated and stops at an EOS
// of the model or the template's end-of-turn token; leaving the stream early stops the engine,
// and the part written so far stays in the history as the assistant's turn.
import { z } from 'zod';
import { loadArchConfig } from '../config/hf-config.js';
import { loadGenerationDefaults } from '../config/generation.js';
import type { EngineOptions } from '../config/option-types.js';
import { numberIn, OPTION_RANGES } from '../config/option-ranges.js';
import { parseOptions } from '../config/parse-options.js';
import type { SameShape } from '../config/same-shape.js';
import { checkAdapterFits } from '../engine/adapter-fit.js';
import { samplingOptionFields, type SamplingOptions } from '../engine/sampling.js';
import { ErrorCode, SftError } from '../errors.js';
import { stopTokenIds } from '../eval/generation-task-stop-ids.js';
import { TextStream } from '../tokenize/text-stream.js';
import { loadTokenizer, type ChatMessage, type Tokenizer } from '../tokenize/tokenizer.js';
import type { Model } from './model.js';
import { resolveModelForRun } from './model-source.js';
import type { RunControl } from './progress.js';
import { loadRunModel } from './task-setup.js';

/** The longest reply by default, in new tokens. */
export const CHAT_MAX_NEW_TOKENS = 512;

/** openChat(options). */
export interface ChatOptions extends EngineOptions, SamplingOptions {
  /** Preset, Hub repo id (org/name), local checkpoint folder, a .gguf file, or 'demo'. */
  model: string;
  /** A PEFT adapter folder (e.g. a `sft train` --out) applied to the model. @default none: the base model */
  adapter?: string;
  /** A system turn that opens the conversation. @default none */
  system?: string;
  /** Most new tokens per reply (fewer when the context fills up). @default 512 */
  maxNewTokens?: number;
  /** EOS is suppressed until this many tokens of a reply were generated. @default 0 */
  minNewTokens?: number;
}

export const chatOptionsSchema = z
  .object({
    model: z.string().min(1),
    adapter: z.string().min(1).optional(),
    system: z.string().optional(),
    maxNewTokens: numberIn(OPTION_RANGES.maxNewTokens).default(CHAT_MAX_NEW_TOKENS),
    minNewTokens: numberIn(OPTION_RANGES.minNewTokens).default(0),
    device: z.enum(['cpu', 'cuda']).optional(),
    dtype: z.enum(['float32', 'bfloat16', 'float16']).optional(),
    quant: z.enum(['none', 'nf4', 'fp4']).optional(),
    ...samplingOptionFields,
  })
  .strict();
const chatSchemaMatches: SameShape<ChatOptions, z.input<typeof chatOptionsSchema>> = true;
void chatSchemaMatches;

export class ChatSession {
  readonly #history: ChatMessage[];
  #replies = 0;

  private constructor(
    private readonly model: Model,
    private readonly tokenizer: Tokenizer,
    private readonly options: z.output<typeof chatOptionsSchema>,
    private readonly eosTokenIds: number[],
    private readonly contextLength: number,
  ) {
    this.#history = options.system !== undefined ? [{ role: 'system', content: options.system }] : [];
  }

  /** Use openChat(). */
  static async open(options: ChatOptions, control: RunControl = {}): Promise<ChatSession> {
    const o = parseOptions(chatOptionsSchema, options, 'chat options');
    const { dir } = await resolveModelForRun(o.model, control);
    const tokenizer = await loadTokenizer(dir);
    if (!tokenizer.hasChatTemplate) {
      throw new SftError(`the tokenizer in ${dir} has no chat template, so it cannot hold a conversation; use sft generate --prompt TEXT`, ErrorCode.InvalidArgument);
    }
    const arch = await loadArchConfig(dir);
    if (o.adapter !== undefined) await checkAdapterFits(o.adapter, { dir, arch });
    const eosTokenIds = await stopTokenIds(tokenizer, (await loadGenerationDefaults(dir)).eosTokenIds);
    const model = await loadRunModel(dir, o);
    try {
      if (o.adapter !== undefined) await model.loadAdapter(o.adapter);
    } catch (err) {
      await model.dispose();
      throw err;
    }
    return new ChatSession(model, tokenizer, o, eosTokenIds, arch.maxPositionEmbeddings);
  }

  /** The conversation so far (system turn, then user and assistant turns). */
  get history(): readonly ChatMessage[] {
    return this.#history;
  }

  /** Forgets every turn but the system one. */
  reset(): void {
    this.#history.splice(this.options.system !== undefined ? 1 : 0);
  }

  /**
   * Adds the user's turn and streams the reply's text as it grows. The reply (or the part of it
   * written before the loop was left) joins the history when the stream ends.
   */
  async *reply(user: string): AsyncGenerator<string, void, undefined> {
    this.#history.push({ role: 'user', content: user });
    const ids = await this.tokenizer.encodeChat(this.#history, { addGenerationPrompt: true, enableThinking: false });
    const room = this.contextLength - ids.length;
    if (room < 1) {
      this.#history.pop();
      throw new SftError(`the conversation is ${ids.length} tokens, the model's whole context (${this.contextLength}); start over (/reset)`, ErrorCode.InvalidArgument);
    }
    const o = this.options;
    const text = new TextStream(this.tokenizer);
    try {
      const stream = this.model.generateStream(ids, {
        maxNewTokens: Math.min(o.maxNewTokens, room),
        minNewTokens: Math.min(o.minNewTokens, room),
        eosTokenIds: this.eosTokenIds,
        temperature: o.temperature,
        topK: o.topK,
        topP: o.topP,
        // Each reply its own draws, the same for the same seed and conversation.
        seed: (o.seed ?? 0) + this.#replies,
      });
      for await (const id of stream) {
        const piece = await text.push(id);
        if (piece) yield piece;
      }
    } finally {
      this.#replies += 1;
      this.#history.push({ role: 'assistant', content: text.text });
    }
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

/** Loads the model (and adapter) for a conversation; dispose() the session when done. */
export function openChat(options: ChatOptions, control: RunControl = {}): Promise<ChatSession> {
  return ChatSession.open(options, control);
}

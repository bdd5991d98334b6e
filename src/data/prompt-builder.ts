// Text + label -> token ids, the same way for training and for evaluation.
//
// The prompt is the instruction template around the input text, optionally wrapped in the
// model's chat template as a user turn (Qwen3: thinking off). When a prompt would not fit
// maxSeqLen, only the input text is cut (at a token boundary); the instruction, the template
// and the answer are never cut.
//
// The response is found from the chat template's roles, not from marker strings: we render
// the conversation up to the assistant's turn (generation prompt) and the conversation with
// the answer, and require the first to be a prefix of the second. The response runs from the
// answer through the first end-of-turn token the template writes after it (Qwen3's <|im_end|>,
// Llama's <|eot_id|>: any of the model's EOS ids or the tokenizer's eos_token) and is trained
// on, so the model learns to stop; what a template writes after that (a newline, or a fresh
// assistant header in some Llama 3 templates) is not part of the answer. Without a chat
// template the response is the answer plus the tokenizer's EOS.
//
// Prompt and response are tokenized separately, because at evaluation time the model sees the
// prompt's ids alone and generates from there; training must condition on those same ids.
import type { TokenizedExample } from './collate.js';
import { promptResponseExample } from './collate.js';
import { ErrorCode, SftError } from '../errors.js';
import type { Tokenizer } from '../tokenize/tokenizer.js';

/** An instruction template split around its single input placeholder. */
export interface PromptTemplateParts {
  prefix: string;
  suffix: string;
}

export interface PromptBuilderOptions {
  /** Wrap the instruction in the model's chat template as a user turn. */
  chat: boolean;
  /** Longest example (prompt + response) in tokens; the input text is cut to fit. */
  maxSeqLen: number;
  /** Ids that end a turn besides the tokenizer's eos_token (the model's generation_config EOS ids). */
  endTokenIds?: readonly number[];
}

export interface BuiltPrompt {
  ids: number[];
  /** Input-text tokens dropped to fit maxSeqLen (0 when it fit). */
  cutTokens: number;
}

const PROMPT_BATCH = 512;

export class PromptBuilder {
  private readonly responses = new Map<string, Promise<number[]>>();

  private constructor(
    private readonly tokenizer: Tokenizer,
    private readonly template: PromptTemplateParts,
    private readonly options: PromptBuilderOptions,
    private readonly emptyPromptLength: number,
  ) {}

  static async create(tokenizer: Tokenizer, template: PromptTemplateParts, options: PromptBuilderOptions): Promise<PromptBuilder> {
    if (!Number.isInteger(options.maxSeqLen) || options.maxSeqLen < 8) {
      throw new SftError(`max-seq-len must be an integer >= 8, got ${options.maxSeqLen}`, ErrorCode.InvalidArgument);
    }
    if (options.chat && !tokenizer.hasChatTemplate) {
      throw new SftError(
        `--chat needs a chat template, but the tokenizer in ${tokenizer.dir} has none; drop --chat to use the plain instruction template`,
        ErrorCode.InvalidArgument,
      );
    }
    const builder = new PromptBuilder(tokenizer, template, options, 0);
    const [empty = []] = await builder.encodePrompts(['']);
    return new PromptBuilder(tokenizer, template, options, empty.length);
  }

  /** The rendered prompt text for an input (what the model reads), before tokenization. */
  promptText(text: string): string {
    const instruction = `${this.template.prefix}${text}${this.template.suffix}`;
    if (!this.options.chat) return instruction;
    return this.tokenizer.applyChatTemplate([{ role: 'user', content: instruction }], { addGenerationPrompt: true, enableThinking: false });
  }

  /**
   * Prompt ids for an input text, leaving room for `reserve` tokens after it (the response
   * when training, the new tokens when generating).
   */
  async prompt(text: string, reserve: number): Promise<BuiltPrompt> {
    return (await this.prompts([text], reserve))[0] as BuiltPrompt;
  }

  /**
   * prompt() for many texts, tokenized in batches (the tokenizer spreads a batch over its
   * threads); only the texts that do not fit go through the cut.
   */
  async prompts(texts: readonly string[], reserve: number): Promise<BuiltPrompt[]> {
    const budget = this.options.maxSeqLen - reserve - this.emptyPromptLength;
    if (budget < 1) {
      throw new SftError(
        `max-seq-len ${this.options.maxSeqLen} leaves no room for the input text: the template alone takes ${this.emptyPromptLength} tokens and ${reserve} are reserved for the answer`,
        ErrorCode.InvalidArgument,
      );
    }
    const out: BuiltPrompt[] = [];
    for (let start = 0; start < texts.length; start += PROMPT_BATCH) {
      const chunk = texts.slice(start, start + PROMPT_BATCH);
      const built: BuiltPrompt[] = (await this.encodePrompts(chunk)).map((ids) => ({ ids, cutTokens: 0 }));
      const long = chunk.map((_, i) => i).filter((i) => (built[i] as BuiltPrompt).ids.length + reserve > this.options.maxSeqLen);
      if (long.length > 0) {
        const cut = await this.cutToFit(long.map((i) => chunk[i] as string), reserve, budget);
        long.forEach((i, j) => (built[i] = cut[j] as BuiltPrompt));
      }
      out.push(...built);
    }
    return out;
  }

  /**
   * Cuts each text at a token boundary so its prompt fits. Decoding a cut and re-encoding it
   * inside the template can merge differently at the edges, so a prompt still too long is cut
   * again by its overshoot until it fits.
   */
  private async cutToFit(texts: readonly string[], reserve: number, budget: number): Promise<BuiltPrompt[]> {
    const textIds = await this.tokenizer.encodeBatch(texts, { addSpecialTokens: false });
    const keep = textIds.map((ids) => Math.min(budget, ids.length));
    const result = new Array<BuiltPrompt>(texts.length);
    let pending = texts.map((_, i) => i);
    while (pending.length > 0) {
      const cuts = await this.tokenizer.decodeBatch(pending.map((i) => (textIds[i] as number[]).slice(0, keep[i])));
      const encoded = await this.encodePrompts(cuts);
      const next: number[] = [];
      pending.forEach((i, j) => {
        const ids = encoded[j] as number[];
        const over = ids.length + reserve - this.options.maxSeqLen;
        if (over <= 0 || keep[i] === 0) {
          result[i] = { ids, cutTokens: (textIds[i] as number[]).length - (keep[i] as number) };
        } else {
          keep[i] = Math.max(0, (keep[i] as number) - over);
          next.push(i);
        }
      });
      pending = next;
    }
    return result;
  }

  /** example() for many (text, answer) pairs, in input order. */
  async examples(items: readonly { text: string; answer: string }[]): Promise<(TokenizedExample & { cutTokens: number })[]> {
    const built = new Array<TokenizedExample & { cutTokens: number }>(items.length);
    const byAnswer = new Map<string, number[]>(); // one reserve (the response length) per answer
    items.forEach((item, i) => {
      const group = byAnswer.get(item.answer);
      if (group) group.push(i);
      else byAnswer.set(item.answer, [i]);
    });
    for (const [answer, indices] of byAnswer) {
      const response = await this.response(answer);
      const prompts = await this.prompts(indices.map((i) => (items[i] as { text: string }).text), response.length);
      indices.forEach((i, j) => {
        const p = prompts[j] as BuiltPrompt;
        built[i] = { ...promptResponseExample(p.ids, response), cutTokens: p.cutTokens };
      });
    }
    return built;
  }

  /** Response ids for an answer: what the model must write after the prompt, end-of-turn included. */
  response(answer: string): Promise<number[]> {
    let ids = this.responses.get(answer);
    if (ids === undefined) {
      ids = this.buildResponse(answer);
      this.responses.set(answer, ids);
    }
    return ids;
  }

  private async buildResponse(answer: string): Promise<number[]> {
    if (!this.options.chat) {
      const ids = await this.tokenizer.encode(answer, { addSpecialTokens: false });
      const eos = this.tokenizer.eosTokenId;
      if (eos === null) {
        throw new SftError(`the tokenizer in ${this.tokenizer.dir} has no eos_token, so a trained model could not learn to stop`, ErrorCode.TokenizerInvalid);
      }
      return [...ids, eos];
    }
    const marker = 'x';
    const user = [{ role: 'user', content: marker }];
    const promptPart = this.tokenizer.applyChatTemplate(user, { addGenerationPrompt: true, enableThinking: false });
    const full = this.tokenizer.applyChatTemplate([...user, { role: 'assistant', content: answer }], { enableThinking: false });
    if (!full.startsWith(promptPart)) {
      throw new SftError(
        `the chat template of ${this.tokenizer.dir} does not render the assistant's turn as a continuation of its generation prompt, so the response cannot be separated from the prompt; train without --chat`,
        ErrorCode.ChatTemplate,
      );
    }
    const ids = await this.tokenizer.encode(full.slice(promptPart.length), { addSpecialTokens: false });
    const answerLength = (await this.tokenizer.encode(answer, { addSpecialTokens: false })).length;
    const ends = new Set([...(this.options.endTokenIds ?? []), ...(this.tokenizer.eosTokenId === null ? [] : [this.tokenizer.eosTokenId])]);
    const end = ids.findIndex((id, i) => i >= answerLength && ends.has(id));
    if (end === -1) {
      throw new SftError(
        `the chat template of ${this.tokenizer.dir} writes no end-of-turn token (eos ${[...ends].join(', ')}) after the assistant's answer, so a trained model could not learn to stop`,
        ErrorCode.ChatTemplate,
      );
    }
    return ids.slice(0, end + 1);
  }

  /** A training example: prompt (masked out of the loss) + response, cut to fit maxSeqLen. */
  async example(text: string, answer: string): Promise<TokenizedExample & { cutTokens: number }> {
    const response = await this.response(answer);
    const prompt = await this.prompt(text, response.length);
    return { ...promptResponseExample(prompt.ids, response), cutTokens: prompt.cutTokens };
  }

  private async encodePrompts(texts: readonly string[]): Promise<number[][]> {
    // A chat template writes BOS itself; a plain prompt gets the tokenizer's special tokens,
    // but not a trailing EOS (tokenizers that append one would end every prompt there).
    const all = await this.tokenizer.encodeBatch(texts.map((t) => this.promptText(t)), { addSpecialTokens: !this.options.chat });
    if (!this.options.chat && this.tokenizer.addsEosToken) {
      for (const ids of all) if (ids.at(-1) === this.tokenizer.eosTokenId) ids.pop();
    }
    return all;
  }
}

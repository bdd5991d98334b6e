// InstructionExamples -> token ids and labels, the same way for training, evaluation prompts and
// `sft train --preview`. The loss covers the response and nothing else:
//
// - a plain template (--template alpaca or a file): the prompt is the template up to {output},
//   tokenized with the tokenizer's special tokens (BOS where the model wants one); the response
//   is {output} and what follows it, tokenized without special tokens, plus the EOS token. Prompt
//   and response are tokenized apart, as the label path (prompt-builder.ts) does, because at
//   evaluation time the model sees the prompt's ids alone. A plain template renders one exchange:
//   a multi-turn conversation needs --chat.
// - --chat: the whole conversation rendered with the model's chat template (no BOS added: the
//   template writes it) and tokenized as one text, as transformers' apply_chat_template does
//   (with a template as well, a single-turn row's user turn is the template's prompt and the
//   assistant's the template's response, as --chat wraps label prompts);
//   every assistant turn, its end-of-turn token included, is trained on
//   (tokenize/assistant-spans.ts). A span edge is mapped to the token where tokenizing the text
//   before it stops matching the whole text's ids, so the ids are exactly the whole text's.
//
// An example longer than maxSeqLen is skipped with its length and the limit as the reason: the
// response cannot be cut without teaching the model to stop mid-answer, and cutting a prompt of
// several turns has no single right place.
import { ErrorCode, SftError } from '../errors.js';
import type { SkippedRow } from '../eval/report-types.js';
import { renderWithAssistantSpans } from '../tokenize/assistant-spans.js';
import type { ChatMessage, Tokenizer } from '../tokenize/tokenizer.js';
import { IGNORE_INDEX, promptResponseExample, type TokenizedExample } from './collate.js';
import { assistantTurnCount, type InstructionExample, type Turn } from './instruction-example.js';
import type { InstructionTemplate } from './instruction-template.js';

export interface InstructionBuilderOptions {
  /** Render with the model's chat template (every assistant turn trained); else `template`. */
  chat: boolean;
  /** The plain template (required when chat is false; with chat, it writes single-turn rows' two turns). */
  template?: InstructionTemplate | undefined;
  /** Longest example in tokens; longer ones are skipped. */
  maxSeqLen: number;
  /** Ids that end a turn besides the tokenizer's eos_token (the model's generation_config EOS ids). */
  endTokenIds?: readonly number[];
}

export interface BuiltInstruction extends TokenizedExample {
  file: string;
  row: number;
}

export interface BuiltInstructions {
  examples: BuiltInstruction[];
  skipped: SkippedRow[];
}

const ENCODE_BATCH = 256;
/** Conversations rendered and tokenized per batch (each brings 1 + 2 x its assistant turns texts). */
const CHAT_BATCH = 64;

export class InstructionBuilder {
  private constructor(
    private readonly tokenizer: Tokenizer,
    private readonly options: InstructionBuilderOptions,
    private readonly endTokens: string[],
    private readonly eosId: number,
  ) {}

  static create(tokenizer: Tokenizer, options: InstructionBuilderOptions): InstructionBuilder {
    if (options.chat && !tokenizer.hasChatTemplate) {
      throw new SftError(`--chat needs a chat template, but the tokenizer in ${tokenizer.dir} has none; drop --chat to use a plain template (alpaca by default)`, ErrorCode.InvalidArgument);
    }
    if (!options.chat && options.template === undefined) throw new SftError('InstructionBuilder: a plain template is needed without --chat', ErrorCode.InvalidArgument);
    const eosId = tokenizer.eosTokenId;
    if (eosId === null) {
      throw new SftError(`the tokenizer in ${tokenizer.dir} has no eos_token, so a trained model could not learn to stop`, ErrorCode.TokenizerInvalid);
    }
    const endIds = [...new Set([eosId, ...(options.endTokenIds ?? [])])];
    const endTokens = endIds.map((id) => tokenizer.idToToken(id)).filter((t): t is string => t !== null);
    return new InstructionBuilder(tokenizer, options, endTokens, eosId);
  }

  /** The text the model reads before its (last) answer: what generation starts from at evaluation. */
  promptText(example: InstructionExample): string {
    if (this.options.chat) {
      const turns = this.chatTurns(example);
      if ('reason' in turns) throw new SftError(`${example.file} row ${example.row}: ${turns.reason}`, ErrorCode.InvalidArgument);
      return this.tokenizer.applyChatTemplate(chatMessages(turns.slice(0, -1)), { addGenerationPrompt: true, enableThinking: false });
    }
    const parts = this.plainParts(example);
    if ('reason' in parts) throw new SftError(`${example.file} row ${example.row}: ${parts.reason}`, ErrorCode.InvalidArgument);
    return parts.prompt;
  }

  /** Prompt ids of examples (promptText tokenized as the training ids begin), in order. */
  async promptIds(examples: readonly InstructionExample[]): Promise<number[][]> {
    return this.encodeAll(examples.map((e) => this.promptText(e)), !this.options.chat);
  }

  /** Tokenized examples with their labels, in input order; too-long or unrenderable ones in `skipped`. */
  async build(examples: readonly InstructionExample[]): Promise<BuiltInstructions> {
    const built = this.options.chat ? await this.buildChat(examples) : await this.buildPlain(examples);
    const out: BuiltInstructions = { examples: [], skipped: [] };
    built.forEach((result, i) => {
      const { file, row } = examples[i] as InstructionExample;
      if ('reason' in result) out.skipped.push({ file, row, reason: result.reason });
      else if (result.ids.length > this.options.maxSeqLen) {
        out.skipped.push({ file, row, reason: `${result.ids.length} tokens, more than max-seq-len ${this.options.maxSeqLen}` });
      } else out.examples.push({ file, row, ...result });
    });
    return out;
  }

  private plainParts(example: InstructionExample): { prompt: string; response: string } | { reason: string } {
    const turns = assistantTurnCount(example);
    if (turns > 1) return { reason: `a conversation of ${turns} assistant turns needs --chat; a plain template renders one exchange` };
    return (this.options.template as InstructionTemplate).render(example.fields);
  }

  /** The turns the chat template renders: the example's, or with a template the two it writes. */
  private chatTurns(example: InstructionExample): Turn[] | { reason: string } {
    if (this.options.template === undefined) return example.turns;
    const turns = assistantTurnCount(example);
    if (turns > 1) return { reason: `a conversation of ${turns} assistant turns cannot go through --template (a template writes one exchange); drop --template to train every turn with --chat` };
    const parts = (this.options.template as InstructionTemplate).render(example.fields);
    const system = example.turns[0]?.role === 'system' ? [example.turns[0]] : [];
    return [...system, { role: 'user', content: parts.prompt }, { role: 'assistant', content: parts.response }];
  }

  private async buildPlain(examples: readonly InstructionExample[]): Promise<(TokenizedExample | { reason: string })[]> {
    const parts = examples.map((e) => this.plainParts(e));
    const ok = parts.filter((p): p is { prompt: string; response: string } => !('reason' in p));
    const prompts = await this.encodeAll(ok.map((p) => p.prompt), true);
    const responses = await this.encodeAll(ok.map((p) => p.response), false);
    let k = 0;
    return parts.map((p) => {
      if ('reason' in p) return p;
      const j = k++;
      return promptResponseExample(prompts[j] as number[], [...(responses[j] as number[]), this.eosId]);
    });
  }

  private async buildChat(examples: readonly InstructionExample[]): Promise<(TokenizedExample | { reason: string })[]> {
    const out: (TokenizedExample | { reason: string })[] = [];
    for (let first = 0; first < examples.length; first += CHAT_BATCH) {
      // Each conversation: its text, then the text before each span edge (start and end of every assistant turn).
      // A conversation the template refuses (raise_exception, no end-of-turn token) is a skipped row with the template's message.
      const rendered = examples.slice(first, first + CHAT_BATCH).map((e) => {
        const turns = this.chatTurns(e);
        if ('reason' in turns) return turns;
        try {
          return renderWithAssistantSpans(this.tokenizer, chatMessages(turns), this.endTokens);
        } catch (err) {
          if (err instanceof SftError && err.code === ErrorCode.ChatTemplate) return { reason: err.message };
          throw err;
        }
      });
      const texts = rendered.flatMap((r) => ('reason' in r ? [] : [r.text, ...r.assistant.flatMap((s) => [r.text.slice(0, s.start), r.text.slice(0, s.end)])]));
      const encoded = await this.tokenizer.encodeBatch(texts, { addSpecialTokens: false });
      let k = 0;
      for (const r of rendered) {
        if ('reason' in r) {
          out.push(r);
          continue;
        }
        const { assistant } = r;
        const ids = encoded[k++] as number[];
        const labels = ids.map(() => IGNORE_INDEX);
        for (let s = 0; s < assistant.length; s++) {
          const start = matchingLength(encoded[k++] as number[], ids);
          const end = matchingLength(encoded[k++] as number[], ids);
          for (let t = start; t < end; t++) labels[t] = ids[t] as number;
        }
        out.push({ ids, labels });
      }
    }
    return out;
  }

  /** Encodes texts in batches; a plain prompt gets special tokens but never a trailing EOS. */
  private async encodeAll(texts: readonly string[], addSpecialTokens: boolean): Promise<number[][]> {
    const all: number[][] = [];
    for (let start = 0; start < texts.length; start += ENCODE_BATCH) {
      all.push(...(await this.tokenizer.encodeBatch(texts.slice(start, start + ENCODE_BATCH), { addSpecialTokens })));
    }
    if (addSpecialTokens && this.tokenizer.addsEosToken) for (const ids of all) if (ids.at(-1) === this.eosId) ids.pop();
    return all;
  }
}

/** How many leading ids of `prefix` equal those of `whole` (the token index of a text edge). */
function matchingLength(prefix: readonly number[], whole: readonly number[]): number {
  let n = 0;
  while (n < prefix.length && prefix[n] === whole[n]) n++;
  return n;
}

function chatMessages(turns: readonly Turn[]): ChatMessage[] {
  return turns.map((t) => ({ role: t.role, content: t.content }));
}

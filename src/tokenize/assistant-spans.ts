// Where the assistant turns of a conversation sit in its chat-template rendering, found from the
// template's roles rather than from marker strings, so that the loss can cover every assistant
// turn and nothing else (trl's assistant-only loss, without needing {% generation %} tags in the
// template).
//
// For assistant turn i the conversation before it, rendered alone, must be a prefix of the whole
// rendering (a template that renders history differently once more turns follow cannot be
// split). The turn's header is what the generation prompt adds to that prefix; the turn's trained
// text starts after the header and runs through the first end-of-turn token after it (Qwen's
// <|im_end|>, Llama's <|eot_id|>, Gemma's <end_of_turn>), so the model learns to stop. Two
// headers are tried in order, the first that the whole rendering continues with wins: the generation
// prompt with thinking off (Qwen3 writes an empty <think></think> block into it and into the last
// assistant turn: that block is prompt, as at generation time) and the plain one (earlier Qwen3
// turns carry no block). What follows the last end-of-turn token (a newline, or the stray
// assistant header some Llama 3 templates always append) is not part of the conversation.
import { ErrorCode, SftError } from '../errors.js';
import type { ChatMessage } from './chat-template.js';
import type { Tokenizer } from './tokenizer.js';

/** A [start, end) range of characters of the rendered conversation. */
export interface TextSpan {
  start: number;
  end: number;
}

export interface RenderedConversation {
  /** The rendering, up to the last assistant turn's end-of-turn token included. */
  text: string;
  /** One span per assistant turn, in order: its text and its end-of-turn token. */
  assistant: TextSpan[];
}

/** Options every rendering here uses (Qwen3: thinking off, as the prompt builder renders prompts). */
const RENDER = { enableThinking: false } as const;

function templateError(tokenizer: Tokenizer, what: string): SftError {
  return new SftError(`the chat template of ${tokenizer.dir} ${what}, so the assistant's turns cannot be separated from the rest; train without --chat`, ErrorCode.ChatTemplate);
}

/**
 * Renders `turns` with the model's chat template and finds each assistant turn's span.
 * `endTokens` are the texts of the tokens that end a turn (the model's EOS tokens).
 */
export function renderWithAssistantSpans(tokenizer: Tokenizer, turns: readonly ChatMessage[], endTokens: readonly string[]): RenderedConversation {
  const whole = tokenizer.applyChatTemplate(turns, RENDER);
  const assistant: TextSpan[] = [];
  turns.forEach((turn, i) => {
    if (turn.role !== 'assistant') return;
    const before = turns.slice(0, i);
    const history = tokenizer.applyChatTemplate(before, RENDER);
    if (!whole.startsWith(history)) {
      throw templateError(tokenizer, `renders the turns before assistant turn ${assistant.length + 1} differently once later turns follow`);
    }
    // The thinking-off header first; the plain one is rendered only when the turn does not continue with it.
    let header: string | undefined;
    for (const options of [{ ...RENDER, addGenerationPrompt: true }, { addGenerationPrompt: true }]) {
      const prompt = tokenizer.applyChatTemplate(before, options);
      if (prompt.startsWith(history) && whole.startsWith(prompt.slice(history.length), history.length)) {
        header = prompt.slice(history.length);
        break;
      }
    }
    if (header === undefined) {
      throw templateError(tokenizer, `does not continue the turns before assistant turn ${assistant.length + 1} with its generation prompt`);
    }
    const start = history.length + header.length;
    let end = -1;
    for (const token of endTokens) {
      const at = whole.indexOf(token, start);
      if (at !== -1 && (end === -1 || at + token.length < end)) end = at + token.length;
    }
    if (end === -1) {
      throw templateError(tokenizer, `writes no end-of-turn token (${endTokens.join(', ') || 'none known'}) after assistant turn ${assistant.length + 1}`);
    }
    assistant.push({ start, end });
  });
  const last = assistant.at(-1);
  return { text: last === undefined ? whole : whole.slice(0, last.end), assistant };
}

// The token ids a generation stops on: every EOS id the checkpoint declares (generation_config
// .json, else config.json), the tokenizer's eos_token, and the end-of-turn token the chat
// template writes after an assistant answer (Qwen's <|im_end|>, Llama 3's <|eot_id|>, Gemma's
// <end_of_turn>), which a base model's generation config often leaves out.
import type { Tokenizer } from '../tokenize/tokenizer.js';

/** The first special token the chat template writes after an assistant answer, or null (no template, or none written). */
export async function chatEndOfTurnId(tokenizer: Tokenizer): Promise<number | null> {
  if (!tokenizer.hasChatTemplate) return null;
  const answer = 'The answer.';
  let text: string;
  try {
    text = tokenizer.applyChatTemplate([{ role: 'user', content: 'A question?' }, { role: 'assistant', content: answer }]);
  } catch {
    return null; // a template that refuses a plain two-turn exchange names no end-of-turn token here
  }
  const at = text.lastIndexOf(answer);
  if (at === -1) return null;
  const after = await tokenizer.encode(text.slice(at + answer.length), { addSpecialTokens: false });
  for (const id of after) {
    // A special token disappears when special tokens are skipped.
    if ((await tokenizer.decode([id], { skipSpecialTokens: true })) === '' && (await tokenizer.decode([id])) !== '') return id;
  }
  return null;
}

/** modelEos, then the tokenizer's eos and the chat template's end-of-turn token when they are others. */
export async function stopTokenIds(tokenizer: Tokenizer, modelEos: readonly number[]): Promise<number[]> {
  const ids = [...modelEos];
  if (tokenizer.eosTokenId !== null) ids.push(tokenizer.eosTokenId);
  const endOfTurn = await chatEndOfTurnId(tokenizer);
  if (endOfTurn !== null) ids.push(endOfTurn);
  return [...new Set(ids)];
}

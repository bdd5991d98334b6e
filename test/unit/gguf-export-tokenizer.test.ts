// The exporter's tokenizer metadata (tokenizer-to-gguf.ts) read back by the importer
// (tokenizer-from-gguf.ts) gives the same token ids as the original tokenizer, and for the real
// GGUF files (SmolLM2: byte-level BPE; Gemma 3: SentencePiece-style) an export of the imported
// tokenizer carries the original file's vocabulary, token types, special ids, flags and chat
// template, and imports to the very same tokenizer.json.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MetaEntry } from '../../src/gguf/export/metadata.js';
import { tokenizerMetadata } from '../../src/gguf/export/tokenizer-to-gguf.js';
import { readGguf, type GgufValue } from '../../src/gguf/reader.js';
import { tokenizerFilesFromGguf } from '../../src/gguf/tokenizer-from-gguf.js';
import { PRE_TOKENIZER_SPLITS } from '../../src/gguf/tokenizer-byte-level.js';
import { loadTokenizer } from '../../src/tokenize/tokenizer.js';
import { GGUF_MODEL_DIR, NEED, skipWithout } from '../helpers/skip.js';

const work = mkdtempSync(join(tmpdir(), 'nq-gguf-export-tok-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const TEXTS = ['Hello world', ' the movie was   wonderful!\n\nIt is 2024; 12345 ok?', 'ünïcödé — 日本語 🤖', '<|im_start|>user\nhi<|im_end|>'];

/** Metadata entries as reader.ts returns a file's metadata. */
function asMetadata(entries: readonly MetaEntry[]): Record<string, GgufValue> {
  return Object.fromEntries(entries.map(([k, v]) => [k, v.type === 'array' ? Array.from(v.value as ArrayLike<GgufValue>) : v.type === 'f32' ? Math.fround(v.value) : v.value]));
}

function exportOf(dir: string, vocabRows: number): MetaEntry[] {
  const read = (f: string) => (existsSync(join(dir, f)) ? (JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>) : {});
  const config = read('tokenizer_config.json');
  return tokenizerMetadata({
    tokenizerJson: read('tokenizer.json'),
    tokenizerConfig: config,
    modelIds: {},
    chatTemplate: typeof config.chat_template === 'string' ? config.chat_template : undefined,
    vocabRows,
    source: dir,
  });
}

function writeImported(metadata: Record<string, unknown>, name: string): string {
  const files = tokenizerFilesFromGguf(metadata);
  const dir = join(work, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(files.tokenizerJson));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(files.tokenizerConfig));
  return dir;
}

describe.each([
  ['tiny ChatML byte-level BPE', join(import.meta.dirname, '..', 'fixtures', 'tokenizers', 'tiny-chatml'), 320],
  ['the demo model\'s byte-level BPE', join(import.meta.dirname, '..', '..', 'assets', 'demo', 'model'), 1024],
])('%s: exported and imported back', (_label, dir, rows) => {
  it('encodes every text to the same ids, with the same special tokens and chat template', async () => {
    const entries = exportOf(dir, rows + 3); // 3 [PADn] rows past the vocabulary, as llama.cpp pads
    const md = asMetadata(entries);
    expect((md['tokenizer.ggml.tokens'] as string[]).slice(-3)).toEqual([`[PAD${rows}]`, `[PAD${rows + 1}]`, `[PAD${rows + 2}]`]);
    expect((md['tokenizer.ggml.token_type'] as number[]).slice(-3)).toEqual([5, 5, 5]);
    const back = writeImported(md, `${rows}`);
    const original = await loadTokenizer(dir);
    const imported = await loadTokenizer(back);
    for (const text of TEXTS) {
      const ids = await original.encode(text);
      expect(ids.length, text).toBeGreaterThan(1);
      expect(await imported.encode(text), text).toEqual(ids);
    }
    const cfg = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    expect(md['tokenizer.chat_template']).toBe(cfg.chat_template);
    expect(md['tokenizer.ggml.eos_token_id']).toBe((md['tokenizer.ggml.tokens'] as string[]).indexOf(cfg.eos_token as string));
  });
});

describe.each(['smollm2-135m-instruct-q4_1.gguf', 'gemma-3-270m-q4_k_m.gguf'])('real file %s: import, export, import', (file) => {
  const path = join(GGUF_MODEL_DIR, file);
  const present = !skipWithout(existsSync(path), `tokenizer export of ${file}`, NEED.ggufModels);
  it.skipIf(!present)("the export carries the file's tokenizer and imports to the same tokenizer files", async () => {
    const original = (await readGguf(path)).metadata;
    const first = tokenizerFilesFromGguf(original);
    const config = first.tokenizerConfig;
    const md = asMetadata(
      tokenizerMetadata({
        tokenizerJson: first.tokenizerJson,
        tokenizerConfig: config,
        modelIds: {},
        chatTemplate: typeof config.chat_template === 'string' ? config.chat_template : undefined,
        vocabRows: (original['tokenizer.ggml.tokens'] as string[]).length,
        source: file,
      }),
    );
    const sentencePiece = original['tokenizer.ggml.model'] === 'llama';
    // SentencePiece user-defined whitespace pieces ("  ") live in tokenizer.json's vocabulary spelled "▁▁".
    const spelled = (tokens: unknown) => (sentencePiece ? (tokens as string[]).map((t) => t.replaceAll(' ', '\u2581')) : tokens);
    expect(spelled(md['tokenizer.ggml.tokens'])).toEqual(spelled(original['tokenizer.ggml.tokens']));
    for (const key of ['tokenizer.ggml.model', 'tokenizer.ggml.bos_token_id', 'tokenizer.ggml.eos_token_id', 'tokenizer.ggml.add_bos_token', 'tokenizer.chat_template']) {
      expect(md[key], key).toEqual(original[key]);
    }
    if (!sentencePiece) {
      expect(md['tokenizer.ggml.token_type']).toEqual(original['tokenizer.ggml.token_type']);
      expect(md['tokenizer.ggml.merges']).toEqual(original['tokenizer.ggml.merges']);
    }
    const again = tokenizerFilesFromGguf({ ...md, 'general.architecture': original['general.architecture'] }, { modelMaxLength: config.model_max_length as number });
    expect(JSON.stringify(again.tokenizerJson) === JSON.stringify(first.tokenizerJson), 'tokenizer.json').toBe(true);
    expect(again.tokenizerConfig).toEqual(config);
  });
});

describe('a SentencePiece-style tokenizer.json (BPE with byte fallback, Metaspace, BOS by the post-processor)', () => {
  it('exports as a "llama" vocabulary (BYTE and CONTROL types, scores by merge rank) that imports to the same ids', async () => {
    const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
    for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
    for (const p of ['\u2581', ...'abcdefghijklmnopqrstuvwxyz', 'he', '\u2581t', '\u2581the', 'in', '\u2581a', 'an', '\u2581an']) vocab[p] = Object.keys(vocab).length;
    const merges = [['h', 'e'], ['\u2581', 't'], ['\u2581t', 'he'], ['i', 'n'], ['\u2581', 'a'], ['a', 'n'], ['\u2581a', 'n']];
    const special = (id: number) => ({ id, content: Object.keys(vocab)[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    const tokenizerJson = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [special(0), special(1), special(2)],
      normalizer: null,
      pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: false },
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
        special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
      },
      decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '\u2581' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
      model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges },
    };
    const tokenizerConfig = { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', tokenizer_class: 'LlamaTokenizerFast' };
    const dir = join(work, 'spm');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
    const rows = Object.keys(vocab).length;
    const md = asMetadata(tokenizerMetadata({ tokenizerJson, tokenizerConfig, modelIds: {}, chatTemplate: undefined, vocabRows: rows, source: dir }));
    expect(md['tokenizer.ggml.model']).toBe('llama');
    const types = md['tokenizer.ggml.token_type'] as number[];
    expect([types[0], types[1], types[3], types[3 + 255], types[259]]).toEqual([3, 3, 6, 6, 1]);
    const scores = md['tokenizer.ggml.scores'] as number[];
    expect(scores[vocab['he']!]).toBeGreaterThan(scores[vocab['\u2581the']!]!); // merged earlier, scored higher
    expect([md['tokenizer.ggml.add_bos_token'], md['tokenizer.ggml.add_space_prefix'], md['tokenizer.ggml.bos_token_id'], md['tokenizer.ggml.unknown_token_id']]).toEqual([true, true, 1, 0]);
    const back = writeImported({ ...md, 'general.architecture': 'llama' }, 'spm-imported');
    const original = await loadTokenizer(dir);
    const imported = await loadTokenizer(back);
    for (const text of [...TEXTS, 'the thin ant', '  leading spaces']) {
      const ids = await original.encode(text);
      expect(ids[0], text).toBe(1);
      expect(await imported.encode(text), text).toEqual(ids);
    }
  });
});

describe('tokenizer.ggml.pre and refusals', () => {
  const dir = join(import.meta.dirname, '..', 'fixtures', 'tokenizers', 'tiny-chatml');
  const base = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
  const pre = (tokenizerJson: Record<string, unknown>) =>
    asMetadata(tokenizerMetadata({ tokenizerJson, tokenizerConfig: {}, modelIds: {}, chatTemplate: undefined, vocabRows: 320, source: 'tokenizer.json' }))['tokenizer.ggml.pre'];
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false };

  it("names the split: GPT-2's ByteLevel 'gpt2', SmolLM's single digits 'smollm', a known regex by llama.cpp's name", () => {
    expect(pre(base)).toBe('gpt2');
    expect(pre({ ...base, pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel] } })).toBe('smollm');
    const split = (regex: string) => ({ type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false }, byteLevel] });
    expect(pre({ ...base, pre_tokenizer: split(PRE_TOKENIZER_SPLITS['llama-bpe']!) })).toBe('llama3');
    expect(pre({ ...base, pre_tokenizer: split(PRE_TOKENIZER_SPLITS.qwen2!) })).toBe('qwen2');
  });

  it('refuses an unknown split regex, a Unigram model and a vocabulary larger than the embedding, naming them', () => {
    const split = { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: '\\d+|\\w+' }, behavior: 'Isolated', invert: false }, byteLevel] };
    expect(() => pre({ ...base, pre_tokenizer: split })).toThrow(expect.objectContaining({ code: 'GGUF_UNSUPPORTED', message: expect.stringContaining('\\\\d+|\\\\w+') }));
    expect(() => pre({ ...base, model: { type: 'Unigram', vocab: [] } })).toThrow(expect.objectContaining({ code: 'GGUF_UNSUPPORTED', message: expect.stringContaining('Unigram') }));
    expect(() => tokenizerMetadata({ tokenizerJson: base, tokenizerConfig: {}, modelIds: {}, chatTemplate: undefined, vocabRows: 100, source: 'tokenizer.json' })).toThrow(/320 tokens but the embedding only 100 rows/);
  });
});

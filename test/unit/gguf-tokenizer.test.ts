// src/gguf/tokenizer-from-gguf.ts against transformers' own GGUF tokenizer conversion.
// test/fixtures/gguf-tokenizer/<case>.json were written by
// scripts/reference/gguf_tokenizer_reference.py from the real GGUF files that
// scripts/gguf/fetch-models.sh fetches ($NQ_GGUF_DIR or ~/.cache/node-qlora/gguf); this test reads
// the metadata from the same files with readGguf (reader.ts) and skips a case whose file is missing.
// Edited cases apply the fixture's "edit" to the metadata, as the Python side did before converting.

import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SftError } from '../../src/errors.js';
import { NEED, skipWithout } from '../helpers/skip.js';
import { PRE_TOKENIZER_SPLITS } from '../../src/gguf/tokenizer-byte-level.js';
import { tokenizerFilesFromGguf, type GgufTokenizerFiles } from '../../src/gguf/tokenizer-from-gguf.js';
import { readGguf, type GgufValue as GgufMetadataValue } from '../../src/gguf/reader.js';

/** The key/values of a GGUF file, through the one GGUF reader. */
const readGgufMetadata = async (path: string): Promise<Record<string, GgufMetadataValue>> => (await readGguf(path)).metadata;
import { mergesFromVocab } from '../../src/gguf/tokenizer-merges.js';
import { loadTokenizer, type ChatMessage, type Tokenizer } from '../../src/tokenize/tokenizer.js';

interface Edit {
  architecture?: string;
  truncate?: number;
  tokens?: Record<string, string>;
  token_types?: Record<string, number>;
  set?: Record<string, string | number | boolean>;
  remove?: string[];
}
interface ArraySummary {
  length: number;
  head: unknown[];
  tail: unknown[];
  sha256?: string;
  sha256_f32?: string;
  sha256_i64?: string;
}
interface Fixture {
  case: string;
  file: string;
  edit: Edit | null;
  versions: Record<string, string>;
  metadata_summary: Record<string, unknown> | null;
  tokenizer_class: string;
  vocab_size_with_added: number;
  special_tokens: Record<string, string | number | null>;
  add_bos_token: boolean;
  add_eos_token: boolean;
  chat_template: string | null;
  pipeline: {
    model: Record<string, unknown>;
    normalizer: unknown;
    pre_tokenizer: unknown;
    post_processor: unknown;
    decoder: unknown;
    vocab: { size: number; sha256: string; head: [string, number][] };
    merges: { count: number; sha256: string; head: [string, string][]; tail: [string, string][] } | null;
    added_tokens: { count: number; sha256: string; non_special: [number, string][]; head: unknown[] };
  };
  texts: { text: string; ids: number[]; ids_no_special: number[]; decoded: string; decoded_skip_special: string }[];
  chats: { name: string; messages: ChatMessage[]; add_generation_prompt: boolean; text: string; ids: number[] }[];
}

const ROOT = join(import.meta.dirname, '..', '..');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'gguf-tokenizer');
const REFERENCE_SCRIPT = join(ROOT, 'scripts', 'reference', 'gguf_tokenizer_reference.py');
const GGUF_DIR = process.env.NQ_GGUF_DIR || join(homedir(), '.cache', 'node-qlora', 'gguf');

const readJson = (name: string): unknown => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));
/** One case per file, but splits.json (transformers' table of split regexes). */
const fixtures: Fixture[] = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.json') && f !== 'splits.json')
  .sort()
  .map((f) => readJson(f) as Fixture);
const present = (f: Fixture) => existsSync(join(GGUF_DIR, f.file));
const missingFiles = [...new Set(fixtures.filter((f) => !present(f)).map((f) => f.file))];
skipWithout(missingFiles.length === 0, `GGUF tokenizer cases of ${missingFiles.join(', ')}`, NEED.ggufModels);

/** Each file's metadata is read once and shared; edits copy what they change. */
const metadataCache = new Map<string, Promise<Record<string, GgufMetadataValue>>>();
const metadataOf = (file: string) => {
  let p = metadataCache.get(file);
  if (p === undefined) {
    p = readGgufMetadata(join(GGUF_DIR, file));
    metadataCache.set(file, p);
  }
  return p;
};

/** The reference script's apply_edit, step for step. */
function applyEdit(source: Record<string, GgufMetadataValue>, edit: Edit | null): Record<string, GgufMetadataValue> {
  if (edit === null) return source;
  let md: Record<string, GgufMetadataValue> = { ...source };
  if (edit.architecture !== undefined) {
    const old = md['general.architecture'] as string;
    const renamed: Record<string, GgufMetadataValue> = {};
    for (const [k, v] of Object.entries(md)) renamed[k.startsWith(`${old}.`) ? edit.architecture + k.slice(old.length) : k] = v;
    renamed['general.architecture'] = edit.architecture;
    md = renamed;
  }
  if (edit.truncate !== undefined) {
    for (const key of ['tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type']) {
      if (key in md) md[key] = (md[key] as GgufMetadataValue[]).slice(0, edit.truncate);
    }
  }
  for (const [key, changes] of [
    ['tokenizer.ggml.tokens', edit.tokens],
    ['tokenizer.ggml.token_type', edit.token_types],
  ] as const) {
    if (changes === undefined) continue;
    const values = [...(md[key] as GgufMetadataValue[])];
    for (const [index, value] of Object.entries(changes)) values[Number(index)] = value;
    md[key] = values;
  }
  for (const [key, value] of Object.entries(edit.set ?? {})) md[key] = value;
  for (const key of edit.remove ?? []) delete md[key];
  return md;
}

/** Length-prefixed UTF-8, as the reference script's sha256_strings. */
function sha256Strings(values: Iterable<string>): string {
  const h = createHash('sha256');
  for (const v of values) {
    const b = Buffer.from(v, 'utf8');
    h.update(`${b.length}:`);
    h.update(b);
  }
  return h.digest('hex');
}

interface Built {
  fixture: Fixture;
  files: GgufTokenizerFiles;
  buildMs: number;
  dir: string;
  tokenizer: Tokenizer;
}

const built = new Map<string, Promise<Built>>();
const tmpRoot = mkdtemp(join(tmpdir(), 'nq-gguf-tok-'));
afterAll(async () => {
  await rm(await tmpRoot, { recursive: true, force: true });
});

/** Builds (once per case) the files, writes them, and loads them with our loadTokenizer. */
function build(fixture: Fixture): Promise<Built> {
  let p = built.get(fixture.case);
  if (p === undefined) {
    p = (async () => {
      const metadata = applyEdit(await metadataOf(fixture.file), fixture.edit);
      const start = performance.now();
      const files = tokenizerFilesFromGguf(metadata);
      const buildMs = performance.now() - start;
      const dir = join(await tmpRoot, fixture.case);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir);
      await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(files.tokenizerJson));
      await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(files.tokenizerConfig, null, 2));
      // A config.json as the GGUF importer writes it: AutoTokenizer picks its class from model_type.
      const arch = metadata['general.architecture'] as string;
      await writeFile(join(dir, 'config.json'), JSON.stringify({ model_type: arch === 'gemma3' ? 'gemma3_text' : arch }));
      return { fixture, files, buildMs, dir, tokenizer: await loadTokenizer(dir) };
    })();
    built.set(fixture.case, p);
  }
  return p;
}

for (const fixture of fixtures) {
  describe.skipIf(!present(fixture))(`${fixture.case} (${fixture.file}${fixture.edit ? ', edited' : ''})`, () => {
    let b: Built;
    beforeAll(async () => {
      b = await build(fixture);
    });

    if (fixture.metadata_summary !== null) {
      it('readGgufMetadata reads the tokenizer metadata as gguf.GGUFReader does', async () => {
        const md = await metadataOf(fixture.file);
        for (const [key, want] of Object.entries(fixture.metadata_summary!)) {
          const got = md[key];
          if (want === null || typeof want !== 'object') {
            // float32 scalars are widened the same way on both sides
            expect(got, key).toEqual(want);
            continue;
          }
          const summary = want as ArraySummary;
          expect(Array.isArray(got), key).toBe(true);
          const values = got as GgufMetadataValue[];
          expect(values.length, key).toBe(summary.length);
          expect(values.slice(0, 5), key).toEqual(summary.head);
          expect(values.slice(-5), key).toEqual(summary.tail);
          if (summary.sha256 !== undefined) expect(sha256Strings(values as string[]), key).toBe(summary.sha256);
          if (summary.sha256_f32 !== undefined) {
            const bytes = Buffer.from(Float32Array.from(values as number[]).buffer);
            expect(createHash('sha256').update(bytes).digest('hex'), key).toBe(summary.sha256_f32);
          }
          if (summary.sha256_i64 !== undefined) {
            const bytes = Buffer.from(BigInt64Array.from((values as number[]).map((v) => BigInt(v))).buffer);
            expect(createHash('sha256').update(bytes).digest('hex'), key).toBe(summary.sha256_i64);
          }
        }
      });
    }

    it('builds the pipeline transformers builds (model, normalizer, pre-tokenizer, post-processor, decoder)', () => {
      const json = b.files.tokenizerJson;
      const { vocab: _v, merges: _m, ...model } = json.model as Record<string, unknown>;
      expect(model).toEqual(fixture.pipeline.model);
      expect(json.normalizer).toEqual(fixture.pipeline.normalizer);
      expect(json.pre_tokenizer).toEqual(fixture.pipeline.pre_tokenizer);
      expect(json.post_processor).toEqual(fixture.pipeline.post_processor);
      expect(json.decoder).toEqual(fixture.pipeline.decoder);
    });

    it('has the same vocabulary, merges (same order) and added tokens', () => {
      const model = b.files.tokenizerJson.model as { vocab: Record<string, number>; merges: [string, string][] };
      const byId = Object.entries(model.vocab).sort((x, y) => x[1] - y[1]);
      expect(byId.length).toBe(fixture.pipeline.vocab.size);
      expect(byId.slice(0, 5)).toEqual(fixture.pipeline.vocab.head);
      expect(sha256Strings(byId.map(([t, i]) => `${i}\t${t}`))).toBe(fixture.pipeline.vocab.sha256);

      const merges = fixture.pipeline.merges!;
      expect(model.merges.length).toBe(merges.count);
      expect(model.merges.slice(0, 20)).toEqual(merges.head);
      expect(model.merges.slice(-5)).toEqual(merges.tail);
      expect(sha256Strings(model.merges.map(([a, c]) => `${a} ${c}`))).toBe(merges.sha256);

      const added = b.files.tokenizerJson.added_tokens as { id: number; content: string; special: boolean }[];
      expect(added.filter((t) => !t.special).map((t) => [t.id, t.content]).slice(0, 40)).toEqual(
        fixture.pipeline.added_tokens.non_special,
      );
      expect(added.length).toBe(fixture.pipeline.added_tokens.count);
      expect(sha256Strings(added.map((t) => `${t.id}\t${t.content}\t${t.special ? 1 : 0}`))).toBe(
        fixture.pipeline.added_tokens.sha256,
      );
    });

    it('encodes every text to the reference ids, with and without special tokens', async () => {
      for (const t of fixture.texts) {
        expect(await b.tokenizer.encode(t.text), JSON.stringify(t.text)).toEqual(t.ids);
        expect(await b.tokenizer.encode(t.text, { addSpecialTokens: false }), JSON.stringify(t.text)).toEqual(
          t.ids_no_special,
        );
      }
    });

    it('decodes the ids back to the reference texts', async () => {
      for (const t of fixture.texts) {
        expect(await b.tokenizer.decode(t.ids), JSON.stringify(t.text)).toBe(t.decoded);
        expect(await b.tokenizer.decode(t.ids, { skipSpecialTokens: true }), JSON.stringify(t.text)).toBe(
          t.decoded_skip_special,
        );
      }
    });

    it('names the same special tokens and adds BOS/EOS as transformers does', () => {
      const s = fixture.special_tokens;
      const tok = b.tokenizer;
      expect([tok.bosToken, tok.eosToken, tok.unkToken, tok.padToken]).toEqual([
        s.bos_token, s.eos_token, s.unk_token, s.pad_token,
      ]);
      expect([tok.bosTokenId, tok.eosTokenId, tok.unkTokenId, tok.padTokenId]).toEqual([
        s.bos_token_id, s.eos_token_id, s.unk_token_id, s.pad_token_id,
      ]);
      expect(tok.specialTokens.mask_token ?? null).toBe(s.mask_token);
      expect(tok.vocabSize).toBe(fixture.vocab_size_with_added);
      expect(tok.addsBosToken).toBe(fixture.add_bos_token);
      expect(tok.addsEosToken).toBe(fixture.add_eos_token);
      const config = b.files.tokenizerConfig;
      expect([config.add_bos_token, config.add_eos_token]).toEqual([fixture.add_bos_token, fixture.add_eos_token]);
      expect(config.chat_template ?? null).toBe(fixture.chat_template);
      expect(Object.keys(config.added_tokens_decoder as object).length).toBe(fixture.pipeline.added_tokens.count);
    });

    if (fixture.chats.length > 0) {
      it('renders and encodes conversations with the file\'s chat template as transformers does', async () => {
        for (const c of fixture.chats) {
          const options = { addGenerationPrompt: c.add_generation_prompt };
          expect(b.tokenizer.applyChatTemplate(c.messages, options), c.name).toBe(c.text);
          expect(await b.tokenizer.encodeChat(c.messages, options), c.name).toEqual(c.ids);
        }
      });
    }
  });
}

const gemma = fixtures.find((f) => f.case === 'gemma3');
describe.skipIf(gemma === undefined || !present(gemma))('performance', () => {
  it('builds the 262k-token Gemma 3 tokenizer (merges rebuilt) within a few seconds', async () => {
    const b = await build(gemma!);
    expect((b.files.tokenizerJson.model as { merges: unknown[] }).merges.length).toBe(514906);
    // A few seconds on a loaded 2-core machine; about one second alone.
    expect(b.buildMs).toBeLessThan(8000);
  });

  it('reads the 6.5 MB of Gemma 3 metadata within a second or two', async () => {
    const start = performance.now();
    const md = await readGgufMetadata(join(GGUF_DIR, gemma!.file));
    expect((md['tokenizer.ggml.tokens'] as string[]).length).toBe(262144);
    expect(performance.now() - start).toBeLessThan(4000);
  });
});

// Python sees the same ids from our files: the raw tokenizers library, PreTrainedTokenizerFast
// (tokenizer_file=...) and AutoTokenizer.from_pretrained(dir) with our tokenizer_config.json.
const python = (() => {
  const probe = spawnSync('python3', ['-c', 'import transformers, tokenizers'], { encoding: 'utf8' });
  return probe.status === 0 ? 'python3' : undefined;
})();
const presentFixtures = fixtures.filter(present);

describe.skipIf(skipWithout(python !== undefined, 'Python loads the generated tokenizer files', NEED.pythonReference) || presentFixtures.length === 0)('Python loads the generated files', () => {
  it('gives the reference ids through tokenizers, PreTrainedTokenizerFast and AutoTokenizer', async () => {
    const all = await Promise.all(presentFixtures.map(build));
    const request = { cases: all.map((b) => ({ dir: b.dir, texts: b.fixture.texts.map((t) => t.text) })) };
    const stdout = await new Promise<string>((resolve, reject) => {
      const child = execFile(python!, [REFERENCE_SCRIPT, 'check'], { maxBuffer: 64 << 20 }, (error, out, err) =>
        error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out),
      );
      child.stdin!.end(JSON.stringify(request));
    });
    const { results } = JSON.parse(stdout) as {
      results: {
        dir: string;
        auto_class: string;
        auto_special_tokens: Record<string, string | null>;
        tokenizers: number[][][];
        fast: number[][][];
        auto: number[][][];
      }[];
    };
    results.forEach((r, i) => {
      const f = all[i]!.fixture;
      const want = [f.texts.map((t) => t.ids), f.texts.map((t) => t.ids_no_special)];
      expect(r.tokenizers, `${f.case}: tokenizers`).toEqual(want);
      expect(r.fast, `${f.case}: PreTrainedTokenizerFast`).toEqual(want);
      // With model_type qwen2 in config.json, AutoTokenizer ignores tokenizer_class and rebuilds the
      // pipeline as Qwen2Tokenizer, which adds an NFC normalizer that transformers' GGUF conversion
      // (our reference) lacks: the two agree on text already in NFC.
      const keep = f.texts.map((t) => r.auto_class !== 'Qwen2Tokenizer' || t.text === t.text.normalize('NFC'));
      const kept = (lists: number[][][]) => lists.map((ids) => ids.filter((_, i) => keep[i]));
      expect(kept(r.auto), `${f.case}: AutoTokenizer (${r.auto_class})`).toEqual(kept(want));
      const s = f.special_tokens;
      expect(r.auto_special_tokens, f.case).toEqual({
        bos_token: s.bos_token, eos_token: s.eos_token, unk_token: s.unk_token, pad_token: s.pad_token,
      });
    });
  }, 300_000);
});

describe('tokenizerFilesFromGguf on small metadata', () => {
  // A byte-level vocabulary small enough to follow by hand.
  const tiny = (): Record<string, unknown> => ({
    'general.architecture': 'llama',
    'llama.context_length': 2048,
    'tokenizer.ggml.model': 'gpt2',
    'tokenizer.ggml.pre': 'qwen2',
    'tokenizer.ggml.tokens': ['<|endoftext|>', 'a', 'b', 'ab', 'Ġ', 'Ġab', '<think>', ' b'],
    'tokenizer.ggml.token_type': [3, 1, 1, 1, 1, 1, 4, 1],
    'tokenizer.ggml.merges': ['a b', 'Ġ ab'],
    'tokenizer.ggml.bos_token_id': 0,
    'tokenizer.ggml.eos_token_id': 0,
  });

  it('spells non-alphabet tokens through their bytes, adds control and user-defined tokens', () => {
    const { tokenizerJson, tokenizerConfig } = tokenizerFilesFromGguf(tiny());
    const model = tokenizerJson.model as { vocab: Record<string, number>; merges: string[][] };
    expect(model.vocab['Ġb']).toBe(7); // the space byte is spelled "Ġ"; "é" (U+00E9) would stay as it is
    expect(model.merges).toEqual([['a', 'b'], ['Ġ', 'ab']]);
    expect(tokenizerJson.added_tokens).toEqual([
      { id: 0, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      { id: 6, content: '<think>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: false },
    ]);
    expect(tokenizerConfig).toMatchObject({
      bos_token: '<|endoftext|>',
      eos_token: '<|endoftext|>',
      add_bos_token: false,
      add_eos_token: false,
      model_max_length: 2048,
    });
    expect(tokenizerConfig).not.toHaveProperty('chat_template');
    expect(tokenizerConfig).not.toHaveProperty('pad_token');
  });

  it('takes model_max_length from the options first', () => {
    expect(tokenizerFilesFromGguf(tiny(), { modelMaxLength: 512 }).tokenizerConfig.model_max_length).toBe(512);
    const md = tiny();
    delete md['llama.context_length'];
    expect(tokenizerFilesFromGguf(md).tokenizerConfig).not.toHaveProperty('model_max_length');
    expect(() => tokenizerFilesFromGguf(md, { modelMaxLength: 0 })).toThrow('Expected a positive integer for modelMaxLength');
  });

  it('keeps a token named "__proto__" in the vocabulary', () => {
    const md = tiny();
    (md['tokenizer.ggml.tokens'] as string[])[1] = '__proto__';
    const json = JSON.parse(JSON.stringify(tokenizerFilesFromGguf(md).tokenizerJson)) as { model: { vocab: object } };
    expect(Object.entries(json.model.vocab)).toContainEqual(['__proto__', 1]);
  });

  const expectError = (md: Record<string, unknown>, code: string, fragment: string) => {
    let error: unknown;
    try {
      tokenizerFilesFromGguf(md);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SftError);
    expect((error as SftError).code).toBe(code);
    expect((error as SftError).message).toContain(fragment);
  };

  it('refuses tokenizer types it cannot convert', () => {
    expectError({ ...tiny(), 'tokenizer.ggml.model': 't5' }, 'GGUF_UNSUPPORTED', '"t5"');
  });

  it('says which key is missing or malformed', () => {
    const { 'tokenizer.ggml.model': _model, ...noModel } = tiny();
    expectError(noModel, 'GGUF_INVALID', 'tokenizer.ggml.model is missing');
    const { 'tokenizer.ggml.merges': _merges, ...noMerges } = tiny();
    expectError(noMerges, 'GGUF_INVALID', 'tokenizer.ggml.merges');
    expectError({ ...tiny(), 'tokenizer.ggml.tokens': ['a', 3] }, 'GGUF_INVALID', 'tokenizer.ggml.tokens[1]');
    expectError({ ...tiny(), 'tokenizer.ggml.bos_token_id': 99 }, 'GGUF_INVALID', 'bos_token_id is 99');
    expectError({ ...tiny(), 'tokenizer.ggml.eos_token_id': -1 }, 'GGUF_INVALID', 'eos_token_id');
    expectError({ ...tiny(), 'tokenizer.ggml.merges': ['a b c'] }, 'GGUF_INVALID', 'tokenizer.ggml.merges[0]');
    expectError(
      { ...tiny(), 'tokenizer.ggml.model': 'llama', 'tokenizer.ggml.merges': undefined },
      'GGUF_INVALID',
      'tokenizer.ggml.scores',
    );
  });

  it('knows the `pre` names transformers knows, with the same regexes', () => {
    expect(PRE_TOKENIZER_SPLITS).toEqual((readJson('splits.json') as { splits: Record<string, string> }).splits);
    // Names are looked up as own keys: "constructor" is no family.
    const md = { ...tiny(), 'tokenizer.ggml.pre': 'constructor' };
    expect((tokenizerFilesFromGguf(md).tokenizerJson.pre_tokenizer as { type: string }).type).toBe('ByteLevel');
  });
});

describe('mergesFromVocab', () => {
  it('orders by priority, then longer left piece, then longer right piece, then vocabulary order', () => {
    const vocab = new Map([['a', 0], ['b', 1], ['c', 2], ['ab', 3], ['bc', 4], ['abc', 5], ['ca', 6]]);
    const priority = [0, 0, 0, 3, 3, 1, 3];
    expect(mergesFromVocab(vocab, (id) => priority[id]!)).toEqual([
      ['a', 'b'], ['b', 'c'], ['c', 'a'], // priority 3, in vocabulary order
      ['ab', 'c'], ['a', 'bc'], // priority 1: the longer left piece first
    ]);
  });

  it('splits between code points, never inside a surrogate pair', () => {
    const vocab = new Map([['😀', 0], ['x', 1], ['😀x', 2]]);
    expect(mergesFromVocab(vocab, (id) => -id)).toEqual([['😀', 'x']]);
  });
});

describe('GGUF metadata (reader.ts)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nq-gguf-meta-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A GGUF v3 header with the given key/values, written by hand. */
  function gguf(kvs: [string, number, Buffer][], version = 3): Buffer {
    const parts: Buffer[] = [Buffer.from('GGUF'), u32(version), u64(0n), u64(BigInt(kvs.length))];
    for (const [key, type, value] of kvs) parts.push(str(key), u32(type), value);
    return Buffer.concat(parts);
  }
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    return b;
  };
  const u64 = (v: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(v);
    return b;
  };
  const str = (s: string) => Buffer.concat([u64(BigInt(Buffer.byteLength(s))), Buffer.from(s)]);

  it('reads every value type, arrays of arrays, and u64 beyond 2^53 as bigint', async () => {
    const f32 = Buffer.alloc(4);
    f32.writeFloatLE(-1.5);
    const f64 = Buffer.alloc(8);
    f64.writeDoubleLE(0.1);
    const i64 = Buffer.alloc(8);
    i64.writeBigInt64LE(-5n);
    const path = join(dir, 'types.gguf');
    await writeFile(
      path,
      gguf([
        ['u8', 0, Buffer.from([200])],
        ['i8', 1, Buffer.from([0xff])],
        ['u16', 2, Buffer.from([0x34, 0x12])],
        ['i16', 3, Buffer.from([0xfe, 0xff])],
        ['u32', 4, u32(4000000000)],
        ['i32', 5, Buffer.from([0xfd, 0xff, 0xff, 0xff])],
        ['f32', 6, f32],
        ['bool', 7, Buffer.from([1])],
        ['str', 8, str('héllo ▁')],
        ['arr', 9, Buffer.concat([u32(8), u64(2n), str('a'), str('')])],
        ['nested', 9, Buffer.concat([u32(9), u64(1n), u32(4), u64(2n), u32(1), u32(2)])],
        ['u64', 10, u64(2n ** 60n)],
        ['u64small', 10, u64(7n)],
        ['i64', 11, i64],
        ['f64', 12, f64],
      ]),
    );
    expect(await readGgufMetadata(path)).toEqual({
      u8: 200, i8: -1, u16: 0x1234, i16: -2, u32: 4000000000, i32: -3, f32: -1.5, bool: true,
      str: 'héllo ▁', arr: ['a', ''], nested: [[1, 2]], u64: 2n ** 60n, u64small: 7, i64: -5, f64: 0.1,
    });
  });

  it('refuses what is not GGUF v2/v3, or ends inside the metadata', async () => {
    const cases: [string, Buffer, string][] = [
      ['magic.gguf', Buffer.from('not a gguf file at all, longer than a header'), 'not "GGUF"'],
      ['v1.gguf', gguf([], 1), 'version 1'],
      ['short.gguf', gguf([['s', 8, str('abcdef')]]).subarray(0, 40), 'the file ends at 40'],
      ['type.gguf', gguf([['x', 13, Buffer.alloc(8)]]), 'unknown value type 13'],
      ['count.gguf', gguf([['a', 9, Buffer.concat([u32(4), u64(1n << 40n)])]]), 'larger than the file'],
    ];
    for (const [name, bytes, fragment] of cases) {
      const path = join(dir, name);
      await writeFile(path, bytes);
      const error = await readGgufMetadata(path).catch((e: unknown) => e);
      expect(error, name).toBeInstanceOf(SftError);
      expect((error as SftError).code, name).toBe('GGUF_INVALID');
      expect((error as SftError).message, name).toContain(fragment);
    }
    const missing = await readGgufMetadata(join(dir, 'nope.gguf')).catch((e: unknown) => e);
    expect((missing as SftError).code).toBe('FILE_NOT_FOUND');
  });
});

// `sft import` and `--model FILE.gguf` run as a user would (the built CLI, dist/): import the
// real SmolLM2 GGUF (scripts/gguf/fetch-models.sh), generate from the folder (greedy tokens equal
// transformers' on the GGUF file), generate straight from the .gguf (imported once into
// $NQ_CACHE_DIR, reused after), and the refusal of an unsupported file. Skips visibly without the file.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SFT_BIN, sft } from '../helpers/cli.js';
import { NEED, skipWithout } from '../helpers/skip.js';

const GGUF_DIR = process.env.NQ_GGUF_DIR || join(homedir(), '.cache', 'node-qlora', 'gguf');
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'gguf');
const ref = JSON.parse(readFileSync(join(FIXTURES, 'smollm2-reference.json'), 'utf8')) as {
  file: string;
  greedy_chat: { prompt_ids: number[]; new_ids: number[]; text: string };
};
const gguf = join(GGUF_DIR, ref.file);
const present = !skipWithout(existsSync(gguf), `sft import of ${ref.file}`, NEED.ggufModels);
const work = mkdtempSync(join(tmpdir(), 'import-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('sft import', () => {
  it('the CLI is built (npm run build)', () => {
    expect(existsSync(SFT_BIN)).toBe(true);
  });

  it.skipIf(!present)(`--gguf ${ref.file} --out DIR, then sft generate --model DIR --chat Hello gives transformers' greedy tokens`, async () => {
    const out = join(work, 'smollm2');
    const imported = await sft(['import', '--gguf', gguf, '--out', out, '--dtype', 'float32', '--json']);
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    const result = JSON.parse(imported.stdout) as { outDir: string; architecture: string; modelType: string; tensors: number; dtype: string };
    expect(result).toMatchObject({ outDir: out, architecture: 'llama', modelType: 'llama', tensors: 272, dtype: 'float32' });
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) expect(existsSync(join(out, f)), f).toBe(true);

    const gen = await sft(['generate', '--model', out, '--chat', 'Hello', '--max-new-tokens', '8', '--device', 'cpu', '--json']);
    expect(gen.code, gen.stderr).toBe(0);
    const { ids, text } = JSON.parse(gen.stdout) as { ids: number[]; text: string };
    expect(ids).toEqual(ref.greedy_chat.new_ids);
    expect(text).toBe(ref.greedy_chat.text);
  });

  it.skipIf(!present)('prints progress and a summary without --json', async () => {
    const res = await sft(['import', '--gguf', gguf, '--out', join(work, 'plain')]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^wrote .*plain: llama \(GGUF llama\), 272 tensors in bfloat16, \d+\.\d MiB\n$/);
    expect(res.stderr).toMatch(/import \[#+\] 272\/272 tensors/);
  });

  it.skipIf(!present)('sft generate --model FILE.gguf imports once into $NQ_CACHE_DIR and reuses the import', async () => {
    const cache = join(work, 'cache');
    process.env.NQ_CACHE_DIR = cache; // the CLI child inherits it
    try {
      const first = await sft(['generate', '--model', gguf, '--chat', 'Hello', '--max-new-tokens', '4', '--device', 'cpu', '--json']);
      expect(first.code, first.stderr).toBe(0);
      const imports = readdirSync(join(cache, 'gguf-import'));
      expect(imports).toHaveLength(1);
      expect(imports[0]).toMatch(/^smollm2-135m-instruct-q4_1-\d+-\d+-bfloat16-v1$/);
      const firstOut = JSON.parse(first.stdout) as { ids: number[] };
      expect(firstOut.ids.length).toBeGreaterThan(0);

      const second = await sft(['generate', '--model', gguf, '--chat', 'Hello', '--max-new-tokens', '4', '--device', 'cpu', '--json']);
      expect(second.code, second.stderr).toBe(0);
      expect(JSON.parse(second.stdout)).toEqual(firstOut);
      expect(readdirSync(join(cache, 'gguf-import'))).toEqual(imports); // reused, no partial folders left
    } finally {
      delete process.env.NQ_CACHE_DIR;
    }
  });

  it('refuses an unsupported architecture, naming it and the supported ones', async () => {
    const res = await sft(['import', '--gguf', join(FIXTURES, 'reader.gguf'), '--out', join(work, 'bad')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/GGUF architecture "testarch" is not supported; supported: llama, qwen2, qwen3, gemma, gemma2, gemma3 \[GGUF_UNSUPPORTED\]/);
    expect(existsSync(join(work, 'bad', 'config.json'))).toBe(false);
  });

  it('rejects a bad --dtype before reading anything', async () => {
    const res = await sft(['import', '--gguf', 'nothing.gguf', '--out', join(work, 'x'), '--dtype', 'int8']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/Expected one of float32, bfloat16, float16 for --dtype but received 'int8'/);
  });
});

// `sft merge` and `sft export` run as a user would (the built CLI, dist/): a tiny Qwen3 base with
// a tokenizer and a trained adapter is merged into a bfloat16 folder and exported, adapter
// merged, as a bf16 GGUF; `sft generate --model FILE.gguf` (imported into $NQ_CACHE_DIR) gives
// the merged folder's greedy tokens. Bad flags are refused before any work, naming the flag.
import { copyFileSync, cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sft, SFT_BIN } from '../helpers/cli.js';
import { MODEL_FIXTURES } from '../helpers/fixtures.js';

const ADAPTER = join(import.meta.dirname, '..', 'fixtures', 'lora', 'qwen3', 'adapter_trained');
const TOKENIZER = join(import.meta.dirname, '..', 'fixtures', 'tokenizers', 'tiny-chatml');
const work = mkdtempSync(join(tmpdir(), 'merge-export-cli-'));
process.env.NQ_CACHE_DIR = join(work, 'cache'); // the children's GGUF import cache
afterAll(() => rmSync(work, { recursive: true, force: true }));
const base = join(work, 'base');
cpSync(join(MODEL_FIXTURES, 'qwen3'), base, { recursive: true });
for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(TOKENIZER, f), join(base, f));

async function greedy(model: string): Promise<number[]> {
  const r = await sft(['generate', '--model', model, '--prompt', 'the movie was', '--max-new-tokens', '8', '--min-new-tokens', '8', '--device', 'cpu', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { ids: number[] }).ids;
}

describe('sft merge and sft export', () => {
  it('the CLI is built (npm run build)', () => {
    expect(existsSync(SFT_BIN)).toBe(true);
  });

  it('merge -> bf16 folder; export --adapter --quant bf16 -> GGUF; generate from the .gguf gives the merged tokens', async () => {
    const merged = join(work, 'merged');
    const m = await sft(['merge', '--model', base, '--adapter', ADAPTER, '--out', merged, '--device', 'cpu', '--json']);
    expect(m.code, m.stderr).toBe(0);
    expect(JSON.parse(m.stdout)).toMatchObject({ outDir: merged, dtype: 'bfloat16' });
    for (const f of ['model.safetensors', 'config.json', 'generation_config.json', 'tokenizer.json']) expect(existsSync(join(merged, f)), f).toBe(true);

    const file = join(work, 'tiny.gguf');
    const e = await sft(['export', '--model', base, '--adapter', ADAPTER, '--format', 'gguf', '--quant', 'bf16', '--out', file, '--device', 'cpu']);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/^wrote .*tiny\.gguf: GGUF qwen3 bf16, \d+ tensors \(.*BF16.*\)/);
    expect(e.stderr).toMatch(/export: writing/); // progress on stderr

    expect(await greedy(file)).toEqual(await greedy(merged));
  });

  it('refuses a bad --quant and --dtype before any work, naming them', async () => {
    const q = await sft(['export', '--model', base, '--quant', 'q3_k', '--out', join(work, 'x.gguf')]);
    expect(q.code).toBe(1);
    expect(q.stderr).toMatch(/--quant.*q3_k/);
    const d = await sft(['merge', '--model', base, '--adapter', ADAPTER, '--out', join(work, 'y'), '--dtype', 'int8']);
    expect(d.stderr).toMatch(/--dtype.*int8/);
  });
});

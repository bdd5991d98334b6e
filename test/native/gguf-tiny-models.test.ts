// Tiny GGUF files written the way llama.cpp writes them (scripts/reference/gguf_tiny_models.py:
// qwen2, qwen3, gemma2, gemma3 with linear rope scaling, llama with Llama 3.1 rope_freqs and an
// untied head), converted with our planner and writer (float32 and bfloat16) and run by our
// engine: the logits are the ORIGINAL transformers model's, i.e. the conversion undid
// everything llama.cpp's converter did (names, Q/K permute, Gemma +1 norms, config values that
// the metadata only implies).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/api/model.js';
import { planConversion, writeConfigs, writeWeights, type OutputDtype } from '../../src/gguf/convert.js';
import { readGguf } from '../../src/gguf/reader.js';

const TINY = join(import.meta.dirname, '..', 'fixtures', 'gguf', 'tiny');
const cases = readdirSync(TINY).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, ''));
const work = mkdtempSync(join(tmpdir(), 'gguf-tiny-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface TinyReference {
  ids: number[];
  logits: number[];
  shape: [number, number];
  scale: number;
}

async function logitsOf(name: string, dtype: OutputDtype, maxShardBytes?: number): Promise<Float32Array> {
  const out = join(work, `${name}-${dtype}`);
  const plan = await planConversion(await readGguf(join(TINY, `${name}.gguf`)), dtype);
  const written = await writeWeights(plan, out, maxShardBytes !== undefined ? { maxShardBytes } : {});
  if (maxShardBytes !== undefined) expect(written.files.length).toBeGreaterThan(2); // shards + index
  await writeConfigs(plan, out);
  const ref = JSON.parse(readFileSync(join(TINY, `${name}.json`), 'utf8')) as TinyReference;
  const model = await loadModel(out, { device: 'cpu', dtype: 'float32' });
  try {
    return (await model.logits([ref.ids])).data;
  } finally {
    await model.dispose();
  }
}

describe.each(cases)('%s converted from GGUF runs like the original model', (name) => {
  const ref = JSON.parse(readFileSync(join(TINY, `${name}.json`), 'utf8')) as TinyReference;
  const maxDiff = (got: Float32Array) => ref.logits.reduce((m, v, i) => Math.max(m, Math.abs(v - got[i]!)), 0);

  it('float32 (sharded: every tensor its own file): logits within 1e-4 of the logit scale', async () => {
    const got = await logitsOf(name, 'float32', 1);
    expect(got.length).toBe(ref.shape[0] * ref.shape[1]);
    expect(maxDiff(got)).toBeLessThanOrEqual(1e-4 * ref.scale);
  });

  it('bfloat16: logits within bf16 rounding of the weights (2e-2 of the scale)', async () => {
    const got = await logitsOf(name, 'bfloat16');
    expect(maxDiff(got)).toBeLessThanOrEqual(2e-2 * ref.scale);
  });
});

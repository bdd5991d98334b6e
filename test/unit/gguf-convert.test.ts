// The conversion plan of tiny GGUF files written the way llama.cpp writes them
// (scripts/reference/gguf_tiny_models.py) against the original transformers models: the
// config.json we derive from the metadata normalizes to the same ArchConfig as the original
// model's config; names and fixes; refusals of unsupported architectures and tensor types.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { archConfigFromHf } from '../../src/config/hf-config.js';
import { hfTensor, archSpec, llama3RopeFactors, shortestFloat32, SUPPORTED_GGUF_ARCHS } from '../../src/gguf/arch.js';
import { planConversion } from '../../src/gguf/convert.js';
import { readGguf } from '../../src/gguf/reader.js';

const TINY = join(import.meta.dirname, '..', 'fixtures', 'gguf', 'tiny');
const cases = readdirSync(TINY).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, ''));

interface TinyReference {
  arch: string;
  config: Record<string, unknown>;
}

describe('conversion plan of llama.cpp-style files', () => {
  it('covers llama, qwen2, qwen3, gemma2, gemma3', () => {
    const archs = cases.map((c) => (JSON.parse(readFileSync(join(TINY, `${c}.json`), 'utf8')) as TinyReference).arch);
    expect(archs.sort()).toEqual(['gemma2', 'gemma3', 'llama', 'qwen2', 'qwen3']);
  });

  it.each(cases)('%s: config.json describes the original model (same ArchConfig)', async (name) => {
    const ref = JSON.parse(readFileSync(join(TINY, `${name}.json`), 'utf8')) as TinyReference;
    const plan = await planConversion(await readGguf(join(TINY, `${name}.gguf`)), 'bfloat16');
    const ours = archConfigFromHf(plan.config, `${name} (ours)`);
    const original = archConfigFromHf(ref.config, `${name} (original)`);
    expect(ours).toEqual(original);
    expect(plan.config.torch_dtype).toBe('bfloat16');
    expect(plan.generationConfig).toEqual({ bos_token_id: 1, eos_token_id: 2, pad_token_id: 0 });
  });

  it('llama: Q and K are unpermuted with their own head counts, rope_freqs feeds the config only', async () => {
    const plan = await planConversion(await readGguf(join(TINY, 'llama3-untied.gguf')), 'float32');
    const fixes = Object.fromEntries(plan.tensors.map((t) => [t.hfName, t.fix]));
    expect(fixes['model.layers.0.self_attn.q_proj.weight']).toEqual({ kind: 'unpermute', heads: 4 });
    expect(fixes['model.layers.0.self_attn.k_proj.weight']).toEqual({ kind: 'unpermute', heads: 2 });
    expect(fixes['model.layers.0.self_attn.v_proj.weight']).toEqual({ kind: 'none' });
    expect(plan.tensors.some((t) => t.source.name === 'rope_freqs.weight')).toBe(false);
    expect(plan.config.rope_scaling).toEqual({ rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 });
    expect(plan.tensors.some((t) => t.hfName === 'lm_head.weight')).toBe(true);
    expect(plan.config.tie_word_embeddings).toBe(false);
  });

  it('gemma: every norm weight (q/k norms too) gets -1, nothing else', async () => {
    const plan = await planConversion(await readGguf(join(TINY, 'gemma3-linear-rope.gguf')), 'float32');
    const shifted = plan.tensors.filter((t) => t.fix.kind === 'subtract-one').map((t) => t.hfName.replace(/layers\.\d+/, 'layers.N'));
    expect([...new Set(shifted)].sort()).toEqual([
      'model.layers.N.input_layernorm.weight',
      'model.layers.N.post_attention_layernorm.weight',
      'model.layers.N.post_feedforward_layernorm.weight',
      'model.layers.N.pre_feedforward_layernorm.weight',
      'model.layers.N.self_attn.k_norm.weight',
      'model.layers.N.self_attn.q_norm.weight',
      'model.norm.weight',
    ]);
    expect(plan.tensors.every((t) => t.fix.kind !== 'unpermute')).toBe(true);
  });

  it('refuses an unknown architecture naming the supported ones', async () => {
    const file = await readGguf(join(TINY, 'qwen2-tied.gguf'));
    file.metadata['general.architecture'] = 'mamba';
    await expect(planConversion(file, 'bfloat16')).rejects.toMatchObject({
      code: 'GGUF_UNSUPPORTED',
      message: expect.stringContaining(`GGUF architecture "mamba" is not supported; supported: ${SUPPORTED_GGUF_ARCHS.join(', ')}`),
    });
  });

  it('refuses tensor types it cannot dequantize, naming the tensor, its type and the supported types', async () => {
    const file = await readGguf(join(TINY, 'qwen2-tied.gguf'));
    file.tensors[3]!.type = 23; // IQ4_XS
    await expect(planConversion(file, 'bfloat16')).rejects.toThrow(
      new RegExp(`1 tensor\\(s\\) use types we cannot dequantize: ${file.tensors[3]!.name.replace(/\./g, '\\.')} \\(IQ4_XS\\); supported types: F32, F16, BF16, Q4_0`),
    );
  });

  it('refuses a tensor it has no name for', () => {
    const spec = archSpec({ path: 'x.gguf', metadata: { 'general.architecture': 'llama' } });
    expect(() => hfTensor(spec, { name: 'blk.0.ffn_gate_exps.weight' }, { q: 4, kv: 4 })).toThrow(/tensor blk\.0\.ffn_gate_exps\.weight has no Hugging Face counterpart for GGUF architecture llama/);
  });
});

describe('metadata values', () => {
  it('shortestFloat32 gives the decimal a config.json would hold', () => {
    expect(shortestFloat32(Math.fround(1e-5))).toBe(1e-5);
    expect(shortestFloat32(Math.fround(1e-6))).toBe(1e-6);
    expect(shortestFloat32(Math.fround(0.1))).toBe(0.1);
    expect(shortestFloat32(500000)).toBe(500000);
    expect(shortestFloat32(0.1)).toBe(0.1); // not a float32 value: unchanged
  });

  it('llama3 rope factors follow llama.cpp (1 at high frequencies, factor at low ones)', () => {
    const f = llama3RopeFactors(128, 500000, 32, 1, 4, 8192);
    expect(f).toHaveLength(64);
    expect(f[0]).toBe(1);
    expect(f[63]).toBe(32);
    for (let i = 1; i < f.length; i++) expect(f[i]!).toBeGreaterThanOrEqual(f[i - 1]!);
  });
});

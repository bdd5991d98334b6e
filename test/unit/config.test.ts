// src/config against transformers: every fixture config.json (Hub spelling and transformers-5
// spelling) must normalize to what scripts/reference/make_config_fixtures.py recorded from
// transformers' config classes and the models they build, including the rope frequencies.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArchConfig, RopeConfig } from '../../src/config/arch.js';
import { FAMILIES } from '../../src/config/arch.js';
import { archConfigFromHf, loadArchConfig } from '../../src/config/hf-config.js';
import { loadGenerationDefaults } from '../../src/config/generation.js';
import { SftError } from '../../src/errors.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/configs', import.meta.url));

interface ExpectedRope {
  rope_parameters: Record<string, unknown>;
  inv_freq: number[];
  attention_scaling: number;
  long_inv_freq?: number[];
  long_attention_scaling?: number;
}
interface Expected {
  model_type: string;
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  max_position_embeddings: number;
  rms_norm_eps: number;
  activation_class: string;
  embed_scale: number;
  norm_offset: number;
  q_norm: boolean;
  sandwich_norms: boolean;
  fused_qkv: boolean;
  fused_gate_up: boolean;
  qkv_bias: boolean;
  o_bias: boolean;
  mlp_bias: boolean;
  final_logit_softcapping: number | null;
  tie_word_embeddings: boolean;
  layers: { layer_type: string; sliding_window: number | null; scaling: number; attn_logit_softcapping: number | null }[];
  rope: Record<string, ExpectedRope>;
  weights: { globals: Record<string, number[]>; layer_prefix: string; layer0: Record<string, number[]> };
}

const expected = JSON.parse(readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')) as Record<string, Expected>;
const readFixture = (name: string): unknown => JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8'));
const normalize = (name: string): ArchConfig => archConfigFromHf(readFixture(name), name);

const ACTIVATION_OF_CLASS: Record<string, ArchConfig['hiddenAct']> = {
  SiLUActivation: 'silu',
  GELUTanh: 'gelu_tanh',
  GELUActivation: 'gelu',
};

/** Relative closeness, for values transformers computed in float32. */
function expectClose(actual: number, want: number, rel: number, what: string): void {
  const tol = rel * Math.max(Math.abs(want), Number.MIN_VALUE);
  expect(Math.abs(actual - want), `${what}: ${actual} vs ${want}`).toBeLessThanOrEqual(tol);
}

/**
 * An independent (test-side) evaluation of inv_freq from a RopeConfig, written from the rope
 * type definitions, in float64. `long` picks longrope's long factors.
 */
function invFreq(rope: RopeConfig, long = false): number[] {
  const out: number[] = [];
  for (let i = 0; i < rope.rotaryDim / 2; i++) {
    let f = 1 / rope.theta ** ((2 * i) / rope.rotaryDim);
    if (rope.type === 'linear') f /= rope.factor;
    if (rope.type === 'llama3') {
      const lowWavelen = rope.originalMaxPositionEmbeddings / rope.lowFreqFactor;
      const highWavelen = rope.originalMaxPositionEmbeddings / rope.highFreqFactor;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen > lowWavelen) f /= rope.factor;
      else if (wavelen >= highWavelen) {
        const smooth = (rope.originalMaxPositionEmbeddings / wavelen - rope.lowFreqFactor) / (rope.highFreqFactor - rope.lowFreqFactor);
        f = (1 - smooth) * (f / rope.factor) + smooth * f;
      }
    }
    if (rope.type === 'longrope') f /= (long ? rope.longFactor : rope.shortFactor)[i]!;
    out.push(f);
  }
  return out;
}

function catchSft(fn: () => unknown): SftError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SftError);
    return err as SftError;
  }
  throw new Error('expected an SftError');
}

describe.each(Object.keys(expected))('fixture %s', (name) => {
  const exp = expected[name]!;
  const arch = normalize(name);

  it('has the dimensions transformers resolved', () => {
    expect(arch.family).toBe(exp.model_type);
    expect({
      vocab: arch.vocabSize,
      hidden: arch.hiddenSize,
      intermediate: arch.intermediateSize,
      layers: arch.numLayers,
      heads: arch.numHeads,
      kvHeads: arch.numKvHeads,
      headDim: arch.headDim,
      maxPos: arch.maxPositionEmbeddings,
      eps: arch.rmsNormEps,
    }).toEqual({
      vocab: exp.vocab_size,
      hidden: exp.hidden_size,
      intermediate: exp.intermediate_size,
      layers: exp.num_hidden_layers,
      heads: exp.num_attention_heads,
      kvHeads: exp.num_key_value_heads,
      headDim: exp.head_dim,
      maxPos: exp.max_position_embeddings,
      eps: exp.rms_norm_eps,
    });
  });

  it('has the switches of the model transformers built', () => {
    expect(arch.hiddenAct).toBe(ACTIVATION_OF_CLASS[exp.activation_class]);
    expect(arch.normWeightOffset).toBe(Math.round(exp.norm_offset));
    expect(arch.embedScale).toBe(exp.embed_scale);
    expect(arch.qkNorm).toBe(exp.q_norm);
    expect(arch.sandwichNorms).toBe(exp.sandwich_norms);
    expect(arch.fusedQkv).toBe(exp.fused_qkv);
    expect(arch.fusedGateUp).toBe(exp.fused_gate_up);
    expect(arch.qkvBias).toBe(exp.qkv_bias);
    expect(arch.oBias).toBe(exp.o_bias);
    expect(arch.mlpBias).toBe(exp.mlp_bias);
    expect(arch.tieWordEmbeddings).toBe(exp.tie_word_embeddings);
    expect(arch.finalLogitSoftcap).toBe(exp.final_logit_softcapping);
  });

  it('has per-layer window, scaling and softcap as the attention modules do', () => {
    expect(arch.layers).toHaveLength(exp.layers.length);
    expect(arch.layers.map((l) => l.slidingWindow)).toEqual(exp.layers.map((l) => l.sliding_window));
    for (const layer of exp.layers) {
      expectClose(arch.attnScale, layer.scaling, 1e-15, 'attnScale');
      expect(arch.attnLogitSoftcap).toBe(layer.attn_logit_softcapping);
    }
  });

  it('carries the rope parameters and reproduces inv_freq / attention scaling', () => {
    exp.layers.forEach((layer, i) => {
      const want = exp.rope[layer.layer_type]!;
      const rope = arch.layers[i]!.rope;
      const params = want.rope_parameters;
      expect(rope.type).toBe(params['rope_type']);
      expect(rope.theta).toBe(params['rope_theta']);
      if (rope.type === 'linear' || rope.type === 'llama3') expect(rope.factor).toBe(params['factor']);
      else expect(rope.factor).toBe(1);
      if (rope.type === 'llama3') {
        expect(rope.lowFreqFactor).toBe(params['low_freq_factor']);
        expect(rope.highFreqFactor).toBe(params['high_freq_factor']);
      }
      if (rope.type === 'llama3' || rope.type === 'longrope') {
        expect(rope.originalMaxPositionEmbeddings).toBe(params['original_max_position_embeddings']);
      }
      if (rope.type === 'longrope') {
        expect(rope.shortFactor).toEqual(params['short_factor']);
        expect(rope.longFactor).toEqual(params['long_factor']);
        expectClose(rope.attentionScaling, want.long_attention_scaling!, 1e-15, 'long attention scaling');
        invFreq(rope, true).forEach((f, k) => expectClose(f, want.long_inv_freq![k]!, 1e-6, `long inv_freq[${k}]`));
      }
      expect(rope.rotaryDim).toBe(2 * want.inv_freq.length);
      expectClose(rope.attentionScaling, want.attention_scaling, 1e-15, 'attention scaling');
      invFreq(rope).forEach((f, k) => expectClose(f, want.inv_freq[k]!, 1e-6, `${layer.layer_type} inv_freq[${k}]`));
    });
  });
});

describe('both spellings', () => {
  const v5Files = Object.keys(expected).filter((k) => k.startsWith('v5/'));

  it('covers several families', () => {
    expect(new Set(v5Files.map((f) => expected[f]!.model_type)).size).toBeGreaterThanOrEqual(5);
  });

  it.each(v5Files)('%s normalizes like its Hub original', (v5) => {
    expect(normalize(v5)).toEqual(normalize(v5.replace('v5/', 'hub/')));
  });
});

describe('gemma3 multimodal checkpoints', () => {
  const arch = normalize('hub/gemma-3-4b-it.json');

  it('takes text_config defaults from Gemma3TextConfig', () => {
    expect([arch.numHeads, arch.numKvHeads, arch.headDim, arch.vocabSize]).toEqual([8, 4, 256, 262_208]);
  });
});

describe('errors', () => {
  const llama = readFixture('hub/llama-3.2-1b-instruct.json') as Record<string, unknown>;

  it('unknown model_type lists the supported ones', () => {
    const err = catchSft(() => archConfigFromHf({ ...llama, model_type: 'gpt2' }, 'x/config.json'));
    expect(err.code).toBe('UNSUPPORTED_MODEL');
    expect(err.message).toContain('"gpt2"');
    expect(err.message).toContain('x/config.json');
    for (const family of FAMILIES) expect(err.message).toContain(family);
  });

  it('missing hidden_size names the key and the file', () => {
    const { hidden_size: _, ...rest } = llama;
    const err = catchSft(() => archConfigFromHf(rest, '/models/llama/config.json'));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('/models/llama/config.json');
    expect(err.message).toContain('"hidden_size"');
    expect(err.message).toContain('expected number but received nothing (the key is missing)');
  });

  it('a wrongly typed value names key path, expectation and value', () => {
    const gemma = readFixture('hub/gemma-3-4b-it.json') as { text_config: Record<string, unknown> };
    const bad = { ...gemma, text_config: { ...gemma.text_config, num_hidden_layers: '34' } };
    const err = catchSft(() => archConfigFromHf(bad, 'g/config.json'));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('"text_config.num_hidden_layers"');
    expect(err.message).toContain('expected number but received "34"');
  });

  it.each(['yarn', 'dynamic'])('unsupported rope type %s', (type) => {
    const err = catchSft(() => archConfigFromHf({ ...llama, rope_scaling: { rope_type: type, factor: 4 } }, 'c.json'));
    expect(err.code).toBe('UNSUPPORTED_MODEL');
    expect(err.message).toContain(`"${type}"`);
    expect(err.message).toContain('rope_scaling.rope_type');
    for (const t of ['default', 'linear', 'llama3', 'longrope']) expect(err.message).toContain(t);
  });

  it('gemma3 full-attention rope type in rope_parameters (transformers 5 spelling)', () => {
    const v5 = readFixture('v5/gemma-3-1b-it.json') as Record<string, unknown>;
    const bad = { ...v5, rope_parameters: { full_attention: { rope_type: 'yarn', factor: 8, rope_theta: 1e6 }, sliding_attention: { rope_type: 'default', rope_theta: 1e4 } } };
    const err = catchSft(() => archConfigFromHf(bad, 'c.json'));
    expect(err.code).toBe('UNSUPPORTED_MODEL');
    expect(err.message).toContain('rope_parameters.full_attention.rope_type');
  });

  it('longrope factors of the wrong length', () => {
    const phi = readFixture('hub/phi-4-mini-instruct.json') as { rope_scaling: Record<string, number[]> };
    const bad = { ...phi, rope_scaling: { ...phi.rope_scaling, short_factor: [1, 1, 1] } };
    const err = catchSft(() => archConfigFromHf(bad, 'phi/config.json'));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('rope_scaling.short_factor');
    expect(err.message).toContain('48 numbers');
  });

  it('layer_types of the wrong length', () => {
    const gemma = readFixture('hub/gemma-3-1b-it.json') as Record<string, unknown>;
    const err = catchSft(() => archConfigFromHf({ ...gemma, layer_types: ['full_attention'] }, 'c.json'));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('num_hidden_layers = 26');
  });

  it('a non-object config', () => {
    expect(catchSft(() => archConfigFromHf([1, 2], 'c.json')).code).toBe('CONFIG_INVALID');
  });
});

describe('defaults and null', () => {
  const mistral = readFixture('hub/mistral-7b-instruct-v0.3.json') as Record<string, unknown>;

  it('mistral sliding_window: absent = 4096 (class default), null = none', () => {
    const { sliding_window: _, ...absent } = mistral;
    expect(archConfigFromHf(absent).layers.every((l) => l.slidingWindow === 4096)).toBe(true);
    expect(archConfigFromHf(mistral).layers.every((l) => l.slidingWindow === null)).toBe(true);
  });

  it('gemma (v1) defaults to tied embeddings, llama does not', () => {
    const gemma = readFixture('hub/gemma-2b-it.json') as Record<string, unknown>;
    expect(archConfigFromHf(gemma).tieWordEmbeddings).toBe(true);
    const { tie_word_embeddings: _, ...llama } = readFixture('hub/llama-3.2-3b-instruct.json') as Record<string, unknown>;
    expect(archConfigFromHf(llama).tieWordEmbeddings).toBe(false);
  });

  it('qwen3 without head_dim uses its class default 128, llama derives hidden / heads', () => {
    const { head_dim: _q, ...qwen } = readFixture('hub/qwen3-1.7b.json') as Record<string, unknown>;
    expect(archConfigFromHf(qwen).headDim).toBe(128);
    const { head_dim: _l, ...llama } = readFixture('hub/llama-3.2-3b-instruct.json') as Record<string, unknown>;
    expect(archConfigFromHf(llama).headDim).toBe(3072 / 24);
  });
});

describe('files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sft-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function modelDir(name: string, files: Record<string, unknown>): Promise<string> {
    const d = path.join(dir, name);
    await mkdir(d, { recursive: true });
    for (const [file, content] of Object.entries(files)) await writeFile(path.join(d, file), JSON.stringify(content));
    return d;
  }

  it('loadArchConfig reads dir/config.json and names it in errors', async () => {
    const d = await modelDir('llama', { 'config.json': readFixture('hub/llama-3.2-1b-instruct.json') });
    expect(await loadArchConfig(d)).toEqual(normalize('hub/llama-3.2-1b-instruct.json'));
    const bad = await modelDir('bad', { 'config.json': { model_type: 'llama' } });
    await expect(loadArchConfig(bad)).rejects.toThrow(path.join(bad, 'config.json'));
  });

  it('loadArchConfig: FILE_NOT_FOUND names the path', async () => {
    const missing = path.join(dir, 'nowhere');
    await expect(loadArchConfig(missing)).rejects.toMatchObject({
      code: 'FILE_NOT_FOUND',
      message: expect.stringContaining(path.join(missing, 'config.json')),
    });
  });

  it('generation_config.json eos list wins, de-duplicated in order', async () => {
    const d = await modelDir('gen', {
      'config.json': { model_type: 'phi3', eos_token_id: 199999, bos_token_id: 1 },
      'generation_config.json': { eos_token_id: [200020, 199999, 200020], pad_token_id: 199999 },
    });
    expect(await loadGenerationDefaults(d)).toEqual({ eosTokenIds: [200020, 199999], bosTokenId: 1, padTokenId: 199999 });
  });

  it('falls back to config.json, then gemma3 text_config', async () => {
    const plain = await modelDir('plain', { 'config.json': { eos_token_id: 2, bos_token_id: 1 } });
    expect(await loadGenerationDefaults(plain)).toEqual({ eosTokenIds: [2], bosTokenId: 1 });
    const mm = await modelDir('mm', {
      'config.json': { model_type: 'gemma3', text_config: { eos_token_id: [1, 106], bos_token_id: 2, pad_token_id: 0 } },
    });
    expect(await loadGenerationDefaults(mm)).toEqual({ eosTokenIds: [1, 106], bosTokenId: 2, padTokenId: 0 });
  });

  it('rejects a malformed eos_token_id naming the file', async () => {
    const d = await modelDir('badgen', { 'config.json': {}, 'generation_config.json': { eos_token_id: 'x' } });
    await expect(loadGenerationDefaults(d)).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining(path.join(d, 'generation_config.json')),
    });
  });
});

// An adapter is checked against its base before the native load, and the message says which
// mismatch it is: a missing folder, target modules the model lacks, a different rank, or a
// different base model (layer sizes or layer count). peft's fixture adapters fit their bases;
// model.loadAdapter() goes through the same check.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadArchConfig } from '../../src/config/hf-config.js';
import { baseModelName, checkAdapterFits } from '../../src/engine/adapter-fit.js';
import { evaluate } from '../../src/api/evaluate.js';
import type { ProgressEvent } from '../../src/api/progress.js';
import { loadModel } from '../../src/engine/model.js';
import { MODEL_FIXTURES } from '../helpers/fixtures.js';

const LORA_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'lora');
const FAMILIES = ['llama', 'qwen3', 'phi3', 'gemma3_text', 'mistral'];

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-adapter-fit-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const base = async (family: string) => {
  const dir = join(MODEL_FIXTURES, family);
  return { dir, arch: await loadArchConfig(dir) };
};

/** A safetensors file holding zero-filled f32 tensors of these shapes. */
function safetensors(file: string, shapes: Record<string, number[]>): void {
  let offset = 0;
  const header: Record<string, unknown> = {};
  for (const [name, shape] of Object.entries(shapes)) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(file, Buffer.concat([length, json, Buffer.alloc(offset)]));
}

/** A copy of a fixture adapter folder, its config edited and (optionally) its weights replaced. */
function adapterFolder(name: string, from: string, config: Record<string, unknown> = {}, shapes?: Record<string, number[]>): string {
  const dir = join(work, name);
  cpSync(join(LORA_FIXTURES, from, 'adapter_init'), dir, { recursive: true });
  const file = join(dir, 'adapter_config.json');
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), ...config }));
  if (shapes) safetensors(join(dir, 'adapter_model.safetensors'), shapes);
  return dir;
}

const q = (layer: number, ab: 'A' | 'B') => `base_model.model.model.layers.${layer}.self_attn.q_proj.lora_${ab}.weight`;

describe('checkAdapterFits', () => {
  it.each(FAMILIES)('peft\'s %s adapters fit their base, which they name', async (family) => {
    for (const which of ['adapter_init', 'adapter_trained']) {
      const fit = await checkAdapterFits(join(LORA_FIXTURES, family, which), await base(family));
      expect(fit.spec.r).toBe(4);
      expect(fit.otherBaseName).toBe(false);
    }
  });

  it('a missing adapter folder says it is missing', async () => {
    const dir = join(work, 'no-such-adapter');
    await expect(checkAdapterFits(dir, await base('llama'))).rejects.toMatchObject({ code: 'FILE_NOT_FOUND', message: `adapter folder ${dir} does not exist` });
  });

  it('a file, or a folder without the adapter files, is not an adapter folder', async () => {
    const file = join(work, 'a-file');
    writeFileSync(file, 'x');
    await expect(checkAdapterFits(file, await base('llama'))).rejects.toMatchObject({ code: 'FILE_NOT_FOUND', message: expect.stringContaining('is a file, not an adapter folder') });
    const run = join(work, 'stopped-run');
    mkdirSync(join(run, 'checkpoints'), { recursive: true });
    await expect(checkAdapterFits(run, await base('llama'))).rejects.toMatchObject({
      code: 'FILE_NOT_FOUND',
      message: expect.stringMatching(/is not an adapter folder: it has no adapter_config.json; a training run that stopped before its end keeps its adapter in .*checkpoints\/step-N/),
    });
  });

  it('target modules the model lacks are named with the modules it has', async () => {
    await expect(checkAdapterFits(join(LORA_FIXTURES, 'phi3', 'adapter_init'), await base('llama'))).rejects.toMatchObject({
      code: 'ADAPTER_MISMATCH',
      message: expect.stringMatching(/targets modules qkv_proj that this llama model .* lacks \(its linear modules: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj\)\. The adapter was made for test\/fixtures\/models\/phi3/),
    });
  });

  it('an adapter made for another base model (other layer sizes) says so, not "rank"', async () => {
    // gemma3_text's fixture has head_dim 24: its q_proj has 96 outputs, llama's 64.
    const error = await checkAdapterFits(join(LORA_FIXTURES, 'gemma3_text', 'adapter_init'), await base('llama')).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ADAPTER_MISMATCH', message: expect.stringContaining('was made for a different base model') });
    expect((error as Error).message).toContain('The adapter was made for test/fixtures/models/gemma3_text');
    expect((error as Error).message).not.toContain('rank');
    const wide = adapterFolder('wide', 'llama', { layers_to_transform: [0] }, { [q(0, 'A')]: [4, 2048], [q(0, 'B')]: [64, 4] });
    await expect(checkAdapterFits(wide, await base('llama'))).rejects.toMatchObject({
      message: expect.stringContaining('its q_proj of layer 0 has 2048 inputs (base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight: [4, 2048]) where this model\'s has 64'),
    });
  });

  it('more layers than the model has is another base model', async () => {
    const deep = adapterFolder('deep', 'llama', { layers_to_transform: [27] });
    await expect(checkAdapterFits(deep, await base('llama'))).rejects.toMatchObject({ code: 'ADAPTER_MISMATCH', message: expect.stringContaining('different base model: it adapts layers up to 27') });
    const deepTensors = adapterFolder('deep-tensors', 'llama', { layers_to_transform: null }, { [q(5, 'A')]: [4, 64], [q(5, 'B')]: [64, 4] });
    await expect(checkAdapterFits(deepTensors, await base('llama'))).rejects.toMatchObject({ message: expect.stringContaining('it holds base_model.model.model.layers.5') });
  });

  it('a rank that differs between config and weights is named as a different rank', async () => {
    const dir = adapterFolder('rank', 'llama', { r: 8 });
    await expect(checkAdapterFits(dir, await base('llama'))).rejects.toMatchObject({
      code: 'ADAPTER_MISMATCH',
      message: expect.stringMatching(/has a different rank in its two files: adapter_config.json says r = 8 but adapter_model.safetensors holds .* \(rank 4\)/),
    });
  });

  it('a resumed run whose rank or targets differ from the checkpoint\'s says which', async () => {
    const dir = join(LORA_FIXTURES, 'llama', 'adapter_init');
    const spec = { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj'], layersToTransform: [1], useRslora: false };
    await expect(checkAdapterFits(dir, await base('llama'), spec)).resolves.toMatchObject({ spec: { r: 4 } });
    await expect(checkAdapterFits(dir, await base('llama'), { ...spec, r: 16 })).rejects.toMatchObject({ message: expect.stringContaining('has rank 4 but this run\'s adapter has rank 16 (--lora-r): a different rank') });
    await expect(checkAdapterFits(dir, await base('llama'), { ...spec, targets: ['q_proj'] })).rejects.toMatchObject({ message: expect.stringContaining('adapts k_proj,q_proj,v_proj but this run\'s adapter adapts q_proj') });
  });

  it('a truncated weights file is CHECKPOINT_INVALID naming it', async () => {
    const dir = adapterFolder('truncated', 'llama');
    writeFileSync(join(dir, 'adapter_model.safetensors'), Buffer.from([200, 0, 0, 0, 0, 0, 0, 0, 123]));
    await expect(checkAdapterFits(dir, await base('llama'))).rejects.toMatchObject({ code: 'CHECKPOINT_INVALID', message: expect.stringContaining('its header claims 200 bytes but the file holds 9') });
  });

  it('base names compare as repos: a hub cache snapshot is its repo', () => {
    expect(baseModelName('/root/.cache/huggingface/hub/models--unsloth--Qwen3-4B-unsloth-bnb-4bit/snapshots/abc123')).toBe('unsloth/qwen3-4b-unsloth-bnb-4bit');
    expect(baseModelName('test/fixtures/models/qwen3/')).toBe('qwen3');
  });
});

describe('the sizes the check expects are the engine\'s', () => {
  it.each([
    ['llama', ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']],
    ['gemma3_text', ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']],
    ['phi3', ['qkv_proj', 'o_proj', 'gate_up_proj', 'down_proj']],
  ] as const)('an adapter on every linear of %s, saved by the engine, fits its base and loads back', async (family, targets) => {
    const dir = join(work, `all-linears-${family}`);
    {
      await using model = await loadModel(join(MODEL_FIXTURES, family), { device: 'cpu' });
      await model.addLora({ r: 3, targets: [...targets] });
      await model.saveAdapter(dir);
    }
    const fit = await checkAdapterFits(dir, await base(family));
    expect(fit.spec.targets.sort()).toEqual([...targets].sort());
    await using again = await loadModel(join(MODEL_FIXTURES, family), { device: 'cpu' });
    await expect(again.loadAdapter(dir)).resolves.toMatchObject({ spec: { r: 3 } });
  });
});

describe('model.loadAdapter checks before the native load', () => {
  it('names the mismatch, and warns when an adapter that fits names another base', async () => {
    await using model = await loadModel(join(MODEL_FIXTURES, 'llama'), { device: 'cpu' });
    await expect(model.loadAdapter(join(LORA_FIXTURES, 'gemma3_text', 'adapter_init'))).rejects.toMatchObject({ code: 'ADAPTER_MISMATCH', message: expect.stringContaining('different base model') });
    await expect(model.loadAdapter(join(work, 'nowhere'))).rejects.toMatchObject({ code: 'FILE_NOT_FOUND', message: expect.stringContaining('does not exist') });
    expect(model.lora).toBeUndefined();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      // qwen3's fixture adapter has llama's sizes: it loads, with a warning naming both bases.
      await model.loadAdapter(join(LORA_FIXTURES, 'qwen3', 'adapter_init'));
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    expect(model.lora?.spec.r).toBe(4);
    expect(warnings.map((w) => [w.name, w.message])).toEqual([
      ['AdapterBaseWarning', expect.stringMatching(/names test\/fixtures\/models\/qwen3 as its base model; it is being loaded on .*models\/llama/)],
    ]);
  });
});

describe('evaluate() checks the adapter before any work', () => {
  it('a missing or mismatched adapter fails before the base pass runs', async () => {
    const events: ProgressEvent[] = [];
    const options = { model: 'demo', data: 'demo', template: 'demo', chat: true, labelMap: 'positive=positive,negative=negative', limit: 8, compare: true, device: 'cpu' as const };
    await expect(evaluate({ ...options, adapter: join(work, 'gone') }, { onProgress: (e) => events.push(e) })).rejects.toMatchObject({
      code: 'FILE_NOT_FOUND',
      message: `adapter folder ${join(work, 'gone')} does not exist`,
    });
    await expect(evaluate({ ...options, adapter: join(LORA_FIXTURES, 'gemma3_text', 'adapter_init') }, { onProgress: (e) => events.push(e) })).rejects.toMatchObject({
      code: 'ADAPTER_MISMATCH',
    });
    expect(events.filter((e) => e.phase === 'eval' || e.phase === 'data')).toEqual([]);
  });
});


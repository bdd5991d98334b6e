// PEFT adapter_config.json: what we write reads back to the same LoRA spec, and settings this
// engine cannot honour exactly are refused by name instead of being dropped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loraScaling, peftAdapterConfig, readPeftAdapterConfig, type LoraSpec } from '../../src/api/adapter-config.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nq-adapter-config-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, config: Record<string, unknown>): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

const spec: LoraSpec = { r: 16, alpha: 32, dropout: 0.05, targets: ['v_proj', 'q_proj', 'k_proj'], layersToTransform: [2, 3], useRslora: false };

describe('peft adapter_config.json', () => {
  it('round trips the spec (targets sorted as peft stores its set)', async () => {
    const { spec: back, baseModel } = await readPeftAdapterConfig(write('a.json', peftAdapterConfig(spec, 'unsloth/Qwen3-4B-unsloth-bnb-4bit')));
    expect(back).toEqual({ ...spec, targets: ['k_proj', 'q_proj', 'v_proj'] });
    expect(baseModel).toBe('unsloth/Qwen3-4B-unsloth-bnb-4bit');
  });

  it('scaling is alpha / r, or alpha / sqrt(r) with rsLoRA', () => {
    expect(loraScaling(spec)).toBe(2);
    expect(loraScaling({ ...spec, useRslora: true })).toBe(8);
  });

  it('reads a single layers_to_transform integer and defaults', async () => {
    const { spec: back } = await readPeftAdapterConfig(write('b.json', { peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['qkv_proj'], layers_to_transform: 1 }));
    expect(back).toEqual({ r: 4, alpha: 8, dropout: 0, targets: ['qkv_proj'], layersToTransform: [1], useRslora: false });
  });

  it.each([
    ['use_dora', { use_dora: true }],
    ['modules_to_save', { modules_to_save: ['score'] }],
    ['rank_pattern', { rank_pattern: { q_proj: 8 } }],
    ['bias', { bias: 'all' }],
    ['peft_type', { peft_type: 'IA3' }],
  ])('refuses %s it cannot honour, naming the key', async (key, extra) => {
    const file = write(`bad-${key}.json`, { ...peftAdapterConfig(spec, null), ...extra });
    await expect(readPeftAdapterConfig(file)).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining(key) });
  });

  it('refuses regex target_modules with a fix', async () => {
    const file = write('regex.json', { ...peftAdapterConfig(spec, null), target_modules: '.*attn.*' });
    await expect(readPeftAdapterConfig(file)).rejects.toMatchObject({ message: expect.stringContaining('list the module names') });
  });
});

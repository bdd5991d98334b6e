// Bad inputs to the engine end in an SftError with a specific code and a message naming the
// input at fault; never a crash. Uses copies of the llama fixture checkpoint.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, type Model } from '../../src/api/model.js';
import { SftError } from '../../src/errors.js';
import { native } from '../../src/native.js';
import { loadArchConfig } from '../../src/config/hf-config.js';
import { MODEL_FIXTURES } from '../helpers/fixtures.js';

const source = join(MODEL_FIXTURES, 'llama');
let work: string;

function copyFixture(name: string, editConfig?: (c: Record<string, unknown>) => void): string {
  const dir = join(work, name);
  cpSync(source, dir, { recursive: true });
  if (editConfig) {
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    editConfig(config);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  }
  return dir;
}

async function loadError(dir: string, options = {}): Promise<SftError> {
  try {
    const m = await loadModel(dir, options);
    await m.dispose();
  } catch (err) {
    expect(err).toBeInstanceOf(SftError);
    return err as SftError;
  }
  throw new Error(`loading ${dir} was expected to fail`);
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-model-errors-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('loading', () => {
  it('a weight whose shape disagrees with config.json: WEIGHT_SHAPE naming tensor and shapes', async () => {
    const config = JSON.parse(readFileSync(join(source, 'config.json'), 'utf8')) as { intermediate_size: number };
    const dir = copyFixture('bad-shape', (c) => {
      c.intermediate_size = config.intermediate_size * 2;
    });
    const err = await loadError(dir);
    expect(err.code).toBe('WEIGHT_SHAPE');
    expect(err.message).toMatch(/model\.layers\.0\.mlp\.gate_proj\.weight/);
    expect(err.message).toContain(String(config.intermediate_size * 2));
    expect(err.message).toContain(dir);
  });

  it('a missing weight: WEIGHT_MISSING naming it', async () => {
    const dir = copyFixture('missing');
    const file = join(dir, 'model.safetensors');
    const st = native().safetensors;
    const { tensors } = st.inspect(file);
    const kept: Record<string, { dtype: string; shape: number[]; data: Buffer }> = {};
    for (const t of tensors) if (t.name !== 'model.layers.1.self_attn.o_proj.weight') kept[t.name] = st.read(file, t.name);
    await st.write(file, kept as never);
    const err = await loadError(dir);
    expect(err.code).toBe('WEIGHT_MISSING');
    expect(err.message).toContain('model.layers.1.self_attn.o_proj.weight');
  });

  it('an unknown model_type: UNSUPPORTED_MODEL listing the supported ones', async () => {
    const dir = copyFixture('unknown-type', (c) => {
      c.model_type = 'falcon';
    });
    const err = await loadError(dir);
    expect(err.code).toBe('UNSUPPORTED_MODEL');
    expect(err.message).toContain('falcon');
    expect(err.message).toContain('qwen3');
  });

  it('a truncated safetensors file: its ST_ code and file name', async () => {
    const dir = copyFixture('truncated');
    const file = join(dir, 'model.safetensors');
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 100));
    const err = await loadError(dir);
    expect(err.code).toMatch(/^ST_/);
    expect(err.message).toContain('model.safetensors');
  });

  it('cuda on a build or machine without it: CUDA_UNAVAILABLE', async () => {
    const info = native().buildInfo();
    if (info.cudaBuilt && info.cudaAvailable) return; // this machine has CUDA: nothing to refuse
    const err = await loadError(source, { device: 'cuda' });
    expect(err.code).toBe('CUDA_UNAVAILABLE');
  });

  it('unknown options are refused by name', async () => {
    const err = await loadError(source, { device: 'tpu' });
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('device');
    const err2 = await loadError(source, { quant: 'int3' });
    expect(err2.message).toContain('quant');
  });
});

describe('a loaded model', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(source, { device: 'cpu' });
  });
  afterAll(async () => {
    await model.dispose();
  });

  it('rejects token ids outside the vocabulary, naming the position', async () => {
    const vocab = model.arch.vocabSize;
    await expect(model.logits([[1, vocab]])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('ids[0][1]') });
    await expect(model.generate([[1, 2], [-3]])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('rejects ragged logits input without a mask, and a mask of the wrong shape', async () => {
    await expect(model.logits([[1, 2, 3], [4]])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('attentionMask') });
    await expect(model.logits([[1, 2]], { attentionMask: [[1]] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('rejects an empty prompt', async () => {
    await expect(model.generate([[]])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('prompt 0') });
  });

  it('reports what it is', () => {
    const info = model.info();
    expect(info.family).toBe('llama');
    expect(info.device).toBe('cpu');
    expect(info.dtype).toBe('float32');
    expect(info.parameters).toBeGreaterThan(0);
    expect(info.parameterBytes).toBe(info.parameters * 4);
  });

  it('keeps the event loop free while it works', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const prompts = Array.from({ length: 8 }, (_, i) => [1 + i, 2, 3, 4, 5, 6, 7, 8]);
    let done = false;
    const pending = Promise.all(Array.from({ length: 20 }, () => model.generate(prompts, { maxNewTokens: 16, eosTokenIds: [] }))).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 5));
    const ticksWhileBusy = ticks;
    expect(done).toBe(false);
    await pending;
    clearInterval(timer);
    expect(ticksWhileBusy).toBeGreaterThan(0);
  });
});

describe('dispose', () => {
  it('is idempotent and later calls fail with DISPOSED', async () => {
    const model = await loadModel(source, { device: 'cpu' });
    await model.dispose();
    await model.dispose();
    await expect(model.generate([[1, 2]])).rejects.toMatchObject({ code: 'DISPOSED' });
    expect(() => model.info()).toThrow(SftError);
  });

  it('works with await using', async () => {
    let outside: Model | undefined;
    {
      await using model = await loadModel(source, { device: 'cpu' });
      outside = model;
      expect((await model.generate([[1, 2, 3]], { maxNewTokens: 2, eosTokenIds: [] }))[0]).toHaveLength(2);
    }
    await expect(outside.logits([[1]])).rejects.toMatchObject({ code: 'DISPOSED' });
  });
});

describe('the binding takes every quantization setting as an argument (their defaults are src/config/defaults.ts)', () => {
  const load = { device: 'cpu', dtype: 'float32', quant: 'nf4', doubleQuant: true, blocksize: 64, dequantizeStored: false } as const;

  it.each(['quant', 'doubleQuant', 'blocksize', 'dequantizeStored'] as const)('loadModel without %s rejects naming it', async (field) => {
    const arch = await loadArchConfig(source);
    const { [field]: _left, ...rest } = load;
    await expect(native().loadModel(source, arch, rest as never)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(new RegExp(`^${field}: expected .* but received undefined`)),
    });
  });

  it('the blocksize given reaches the quantizer', async () => {
    const arch = await loadArchConfig(source);
    await expect(native().loadModel(source, arch, { ...load, blocksize: 96 })).rejects.toMatchObject({ code: 'QUANT_INVALID', message: expect.stringContaining('96') });
    const handle = await native().loadModel(source, arch, { ...load, blocksize: 128 });
    expect(handle.info().quantizedLinears).toBeGreaterThan(0);
    await handle.dispose();
  });

  it.each(['blocksize', 'doubleQuant', 'device'] as const)('quantizeCheckpoint without %s rejects naming it', async (field) => {
    const options = { type: 'nf4', blocksize: 64, doubleQuant: true, device: 'cpu' } as const;
    const { [field]: _left, ...rest } = options;
    const names = ['model.layers.0.self_attn.q_proj.weight'];
    await expect(native().quantizeCheckpoint(source, join(work, `q-${field}.safetensors`), names, rest as never)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(new RegExp(`^${field}: expected .* but received undefined`)),
    });
  });
});

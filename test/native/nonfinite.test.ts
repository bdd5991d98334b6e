// NaN / Inf never pass silently (issue 14, numerics): a checkpoint or adapter holding one is
// refused on load naming the tensor and its file; generation from non-finite logits fails with
// NONFINITE_LOGITS instead of returning tokens; a training step whose loss or gradient norm is
// not finite stops the run (NONFINITE_LOSS / NONFINITE_GRAD_NORM, with the step, the lr and the
// last finite loss) or, with onNonfinite 'skip', drops that update and counts it.
// CPU fp32, copies of the tiny llama fixture.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, type Model } from '../../src/api/model.js';
import { collate, promptResponseExample, type Batch } from '../../src/data/collate.js';
import { packBatch } from '../../src/data/pack.js';
import { nativeHandle } from '../../src/engine/model.js';
import { native, type StTensorData } from '../../src/native.js';
import { createTrainer, readTrainerState, type StepLog } from '../../src/train/trainer.js';
import { BNB_FIXTURES, MODEL_FIXTURES } from '../helpers/fixtures.js';

const source = join(MODEL_FIXTURES, 'llama');
const st = () => native().safetensors;
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-nonfinite-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A copy of `dir` whose model.safetensors has `edit` applied to the float32 values of `name`. */
async function withEditedTensor(dir: string, copyName: string, file: string, name: string, edit: (values: Float32Array) => void): Promise<string> {
  const out = join(work, copyName);
  cpSync(dir, out, { recursive: true });
  const path = join(out, file);
  const tensors: Record<string, StTensorData> = {};
  for (const t of st().inspect(path).tensors) tensors[t.name] = st().read(path, t.name);
  const target = tensors[name]!;
  expect(target.dtype).toBe('F32');
  edit(new Float32Array(target.data.buffer, target.data.byteOffset, target.data.byteLength / 4));
  await st().write(path, tensors, { format: 'pt' });
  return out;
}

async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('expected a rejection');
}

describe('non-finite weights on load are named by tensor and file', () => {
  it('a NaN in a checkpoint weight: WEIGHT_NONFINITE naming the tensor, the file, the count and the first index', async () => {
    const name = 'model.layers.1.mlp.up_proj.weight';
    const dir = await withEditedTensor(source, 'nan-weight', 'model.safetensors', name, (v) => {
      v[70] = Number.NaN;
      v[99] = Number.POSITIVE_INFINITY;
    });
    const err = await rejection(loadModel(dir, { device: 'cpu' }));
    expect(err.code).toBe('WEIGHT_NONFINITE');
    expect(err.message).toContain(`"${name}"`);
    expect(err.message).toContain(join(dir, 'model.safetensors'));
    expect(err.message).toContain('2 non-finite values');
    expect(err.message).toContain('flat index 70');
  });

  it('a finite weight that overflows the dtype it is loaded in is blamed on the conversion', async () => {
    const name = 'model.norm.weight';
    const dir = await withEditedTensor(source, 'fp16-overflow', 'model.safetensors', name, (v) => {
      v[3] = 1e6; // finite in float32, beyond float16's 65504
    });
    const err = await rejection(loadModel(dir, { device: 'cpu', dtype: 'float16' }));
    expect(err.code).toBe('WEIGHT_NONFINITE');
    expect(err.message).toContain(`"${name}"`);
    expect(err.message).toMatch(/after conversion to Half: the stored values exceed its range/);
  });

  it('a 4-bit (bitsandbytes) weight whose nested absmax is NaN: WEIGHT_NONFINITE naming the weight\'s absmax', async () => {
    const name = 'model.layers.0.self_attn.q_proj.weight';
    const dir = await withEditedTensor(join(BNB_FIXTURES, 'llama_nf4'), 'nan-absmax', 'model.safetensors', `${name}.nested_absmax`, (v) => {
      v[0] = Number.NaN;
    });
    const err = await rejection(loadModel(dir, { device: 'cpu' }));
    expect(err.code).toBe('WEIGHT_NONFINITE');
    expect(err.message).toContain(`"${name}.absmax (with its .nested_absmax)"`);
    expect(err.message).toContain(join(dir, 'model.safetensors'));
  });

  it('an adapter file with a NaN: WEIGHT_NONFINITE naming the adapter tensor and file; the adapter is left unchanged', async () => {
    const adapter = join(work, 'adapter-good');
    {
      await using model = await loadModel(source, { device: 'cpu' });
      await model.addLora({ r: 4, alpha: 8, seed: 3, targets: ['q_proj', 'v_proj'] });
      await model.saveAdapter(adapter);
    }
    const name = 'base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight';
    const bad = await withEditedTensor(adapter, 'adapter-nan', 'adapter_model.safetensors', name, (v) => {
      v[5] = Number.NaN;
    });
    await using model = await loadModel(source, { device: 'cpu' });
    const err = await rejection(model.loadAdapter(bad));
    expect(err.code).toBe('WEIGHT_NONFINITE');
    expect(err.message).toContain(`"${name}"`);
    expect(err.message).toContain(join(bad, 'adapter_model.safetensors'));
  });
});

describe('generation from non-finite logits fails with NONFINITE_LOGITS', () => {
  it('a NaN adapter: rejects naming the prompts (before: an empty generation reported as success)', async () => {
    await using model = await loadModel(source, { device: 'cpu' });
    await model.addLora({ r: 4, alpha: 8, seed: 3, targets: ['q_proj', 'v_proj'] });
    const good = await model.generate([[1, 5, 9], [1, 7]], { maxNewTokens: 6 });
    expect(good.map((r) => r.length).every((n) => n > 0)).toBe(true);
    const handle = nativeHandle(model);
    const tensors = await handle.loraTensors();
    const b = tensors['base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight']!;
    new Float32Array(b.data.buffer, b.data.byteOffset, b.data.byteLength / 4).fill(Number.NaN);
    await handle.setLoraTensors(tensors);
    const err = await rejection(model.generate([[1, 5, 9], [1, 7]], { maxNewTokens: 6 }));
    expect(err.code).toBe('NONFINITE_LOGITS');
    expect(err.message).toContain('prompts 0, 1');
  });

  it('finite weights whose activations overflow (norm weight 3e38): NONFINITE_LOGITS, the load check passes them', async () => {
    const dir = await withEditedTensor(source, 'overflow-norm', 'model.safetensors', 'model.norm.weight', (v) => v.fill(3e38));
    await using model = await loadModel(dir, { device: 'cpu' });
    const err = await rejection(model.generate([[1, 5, 9]], { maxNewTokens: 4, minNewTokens: 2 }));
    expect(err.code).toBe('NONFINITE_LOGITS');
    expect(err.message).toContain('prompt 0');
  });
});

// An untied copy of the gemma fixture whose token POISON has a finite embedding (1e38) that
// Gemma's sqrt(hidden) embedding scale overflows to Inf, and RMSNorm turns into NaN: any
// micro-batch holding it has a NaN loss, the others train normally (one bad batch in a run).
const POISON = 50;
async function poisonedGemma(): Promise<string> {
  const out = join(work, 'gemma-poisoned');
  cpSync(join(MODEL_FIXTURES, 'gemma'), out, { recursive: true });
  const path = join(out, 'model.safetensors');
  const tensors: Record<string, StTensorData> = {};
  for (const t of st().inspect(path).tensors) tensors[t.name] = st().read(path, t.name);
  const embed = tensors['model.embed_tokens.weight']!;
  expect(embed.dtype).toBe('BF16');
  const bf16 = new Uint16Array(embed.data.buffer, embed.data.byteOffset, embed.data.byteLength / 2);
  const values = new Float32Array(new Uint32Array(Array.from(bf16, (u) => u << 16)).buffer);
  const f32 = (v: Float32Array): StTensorData => ({ dtype: 'F32', shape: embed.shape, data: Buffer.from(v.buffer) });
  tensors['lm_head.weight'] = f32(values.slice());
  const hidden = embed.shape[1]!;
  values.fill(1e38, POISON * hidden, (POISON + 1) * hidden);
  tensors['model.embed_tokens.weight'] = f32(values);
  await st().write(path, tensors, { format: 'pt' });
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(out, 'config.json'), JSON.stringify({ ...config, tie_word_embeddings: false }));
  return out;
}
function example(a: number, b: number) {
  return promptResponseExample([10 + a, 10 + b, 3], [((a + b) % 16) + 100, 2]);
}
function batch(poisoned: boolean, seed: number): Batch {
  const rows = [example(seed % 16, (seed * 7) % 16), example((seed * 3) % 16, (seed + 5) % 16)];
  if (poisoned) rows.push(promptResponseExample([POISON, 11, 3], [104, 2]));
  return collate(rows, 0);
}
const data = [batch(false, 1), batch(false, 2), batch(true, 3), batch(false, 4), batch(true, 5), batch(false, 6)];
const trainerOptions = { lr: 1e-2, schedule: 'constant', warmupSteps: 0, totalSteps: data.length, maxGradNorm: 1.0, gradientCheckpointing: false } as const;

describe('a training step with a NaN / Inf loss or gradient norm', () => {
  let poisoned: string;
  beforeAll(async () => {
    poisoned = await poisonedGemma();
  });

  async function freshModel(): Promise<Model> {
    const model = await loadModel(poisoned, { device: 'cpu' });
    await model.addLora({ r: 4, alpha: 8, seed: 7, targets: ['q_proj', 'v_proj'] });
    return model;
  }

  it("stop (the default): NONFINITE_LOSS at the step where it appears, with the lr and the last finite loss; the adapter keeps step 2's values", async () => {
    await using model = await freshModel();
    const trainer = createTrainer(model, trainerOptions);
    const logs: StepLog[] = [];
    for (const b of data.slice(0, 2)) logs.push(await trainer.step([b]));
    const before = await nativeHandle(model).loraTensors();
    const err = await rejection(trainer.step([data[2]!]));
    expect(err.code).toBe('NONFINITE_LOSS');
    expect(err.message).toContain('training step 3: the loss is NaN');
    expect(err.message).toContain('lr 1.00e-2');
    expect(err.message).toContain(`last finite loss ${logs[1]!.loss.toFixed(4)} at step 2`);
    expect(err.message).toContain('--on-nonfinite skip');
    expect(trainer.stepCount).toBe(2);
    expect(await nativeHandle(model).loraTensors()).toEqual(before);
  });

  it('skip: the poisoned steps are dropped and counted, the others train as if the poisoned batches were not there; a checkpoint with skips resumes', async () => {
    const logs: StepLog[] = [];
    const ckpt = join(work, 'skip-ckpt');
    {
      await using model = await freshModel();
      const trainer = createTrainer(model, { ...trainerOptions, onNonfinite: 'skip' });
      for (const b of data.slice(0, 4)) logs.push(await trainer.step([b]));
      await trainer.save(ckpt);
      for (const b of data.slice(4)) logs.push(await trainer.step([b]));
    }
    expect(logs.map((l) => l.skipped ?? false)).toEqual([false, false, true, false, true, false]);
    expect(logs.map((l) => l.skippedSteps ?? 0)).toEqual([0, 0, 1, 1, 2, 2]);
    expect(Number.isNaN(logs[2]!.loss)).toBe(true);
    for (const i of [0, 1, 3, 5]) expect(Number.isFinite(logs[i]!.loss)).toBe(true);
    // The clean steps equal a run that never saw the poisoned batches (constant lr; the
    // optimizer's step count, which drives bias correction, skips the dropped steps too).
    const cleanRun: number[] = [];
    {
      await using model = await freshModel();
      const trainer = createTrainer(model, trainerOptions);
      for (const b of [data[0]!, data[1]!, data[3]!, data[5]!]) cleanRun.push((await trainer.step([b])).loss);
    }
    expect([logs[0]!.loss, logs[1]!.loss, logs[3]!.loss, logs[5]!.loss]).toEqual(cleanRun);

    const state = await readTrainerState(ckpt);
    expect(state).toMatchObject({ step: 4, optimizerStep: 3, skippedSteps: 1 });
    await using model = await loadModel(poisoned, { device: 'cpu' });
    await model.loadAdapter(ckpt);
    const trainer = createTrainer(model, { ...trainerOptions, onNonfinite: 'skip' });
    await trainer.resume(ckpt);
    const resumed: StepLog[] = [];
    for (const b of data.slice(4)) resumed.push(await trainer.step([b]));
    expect(resumed.map((l) => l.skippedSteps)).toEqual([2, 2]);
    expect(resumed[1]!.loss).toBe(logs[5]!.loss);
  });

  it('a run stopped by a NaN resumes with skip (onNonfinite is not held against the checkpoint)', async () => {
    const ckpt = join(work, 'stop-ckpt');
    {
      await using model = await freshModel();
      const trainer = createTrainer(model, trainerOptions);
      for (const b of data.slice(0, 2)) await trainer.step([b]);
      await trainer.save(ckpt);
      await expect(trainer.step([data[2]!])).rejects.toMatchObject({ code: 'NONFINITE_LOSS' });
    }
    await using model = await loadModel(poisoned, { device: 'cpu' });
    await model.loadAdapter(ckpt);
    const trainer = createTrainer(model, { ...trainerOptions, onNonfinite: 'skip' });
    await trainer.resume(ckpt);
    expect((await trainer.step([data[2]!])).skipped).toBe(true);
    expect(Number.isFinite((await trainer.step([data[3]!])).loss)).toBe(true);
  });

  it('native optimizerStep: an Inf gradient norm with skipNonFinite leaves adapters and optimizer state unchanged; without it the update applies', async () => {
    await using model = await loadModel(source, { device: 'cpu' });
    await model.addLora({ r: 4, alpha: 8, seed: 7, targets: ['q_proj', 'v_proj'] });
    const handle = nativeHandle(model);
    const adamw = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 1 };
    const packed = packBatch(data[0]!);
    // A loss scale of 3e38 overflows the gradients while the loss itself stays finite.
    const r = await handle.trainStep(packed, { lossScale: 3e38, gradientCheckpointing: false });
    expect(Number.isFinite(r.lossSum)).toBe(true);
    const before = await handle.loraTensors();
    const skipped = await handle.optimizerStep({ ...adamw, skipNonFinite: true });
    expect(skipped.applied).toBe(false);
    expect(Number.isFinite(skipped.gradNorm)).toBe(false);
    expect(await handle.loraTensors()).toEqual(before);
    const grads = Object.values(await handle.gradients());
    expect(grads.every((g) => new Float32Array(g.data.buffer, g.data.byteOffset, g.data.byteLength / 4).every((x) => x === 0))).toBe(true);
    const stateFile = join(work, 'optimizer-after-skip.safetensors');
    expect(await handle.saveOptimizerState(stateFile)).toEqual({ step: 0 });

    await handle.trainStep(packed, { lossScale: 3e38, gradientCheckpointing: false });
    const applied = await handle.optimizerStep({ ...adamw, skipNonFinite: false });
    expect(applied.applied).toBe(true);
    expect(await handle.loraTensors()).not.toEqual(before);
    await expect(handle.optimizerStep({ ...adamw } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('skipNonFinite') });
  });
});

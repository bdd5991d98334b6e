// LoRA training in the native engine against transformers + peft (fixtures from
// scripts/reference/make_lora_fixtures.py, fp32 on CPU): the training forward's loss, every
// LoRA gradient (with and without gradient checkpointing, one batch or two micro-batches),
// clip_grad_norm_ + AdamW over two steps, exact resume from the optimizer-state file, and logits
// with a trained PEFT adapter loaded. The engine trains on packed (padding-free) batches; peft's
// numbers are those of the padded batch, so every comparison here is packed vs padded. Plus a
// 4-bit (bitsandbytes NF4) base that trains.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native, type NativeModelHandle, type StTensorData } from '../../src/native.js';
import { packBatch, type PackedBatch } from '../../src/data/pack.js';
import { loadArchConfig } from '../../src/config/hf-config.js';
import { BNB_FIXTURES, MODEL_FIXTURES } from '../helpers/fixtures.js';

const LORA_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'lora');
const work = mkdtempSync(join(tmpdir(), 'nq-lora-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A hand-made packed batch: one sequence per row, no padding. */
function packed(ids: number[][], labels: number[][]): PackedBatch {
  return { ids: Int32Array.from(ids.flat()), labels: Int32Array.from(labels.flat()), seqLens: Int32Array.from(ids.map((r) => r.length)) };
}

function seqLogits(model: NativeModelHandle, seq: number[]): Promise<{ shape: number[]; data: Float32Array }> {
  return model.logits(Int32Array.from(seq), [1, seq.length], null);
}

interface LoraReference {
  lora: {
    r: number;
    alpha: number;
    dropout: number;
    targets: string[];
    layers_to_transform: number[] | null;
    layers: number[];
    use_rslora: boolean;
    scaling: number;
  };
  param_names: string[];
  optimizer_param_order: string[];
  batch: { input_ids: number[][]; attention_mask: number[][]; labels: number[][] };
  loss_mean: number;
  loss_sum: number;
  tokens: number;
  max_grad_norm: number;
  grad_norm_before_clip: number;
  adamw: { lr: number; betas: [number, number]; eps: number; weight_decay: number };
  loss_after_step1: number;
  grad_norm_before_clip_step2: number;
  sequences: number[][];
}

type Record32 = Record<string, Float32Array>;

function floats(t: StTensorData): Float32Array {
  if (t.dtype !== 'F32') throw new Error(`expected F32, got ${t.dtype}`);
  const out = new Float32Array(t.data.byteLength / 4);
  new Uint8Array(out.buffer).set(t.data);
  return out;
}

function toFloats(record: Record<string, StTensorData>): Record32 {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, floats(v)]));
}

function readSafetensors(path: string): Record<string, StTensorData> {
  const st = native().safetensors;
  return Object.fromEntries(st.inspect(path).tensors.map((t) => [t.name, st.read(path, t.name)]));
}

/** Reference tensors under `prefix` ("grad.", "after_step1.", ...) keyed by the rest of the name. */
function referenceGroup(dir: string, prefix: string): Record32 {
  const all = readSafetensors(join(dir, 'reference.safetensors'));
  const out: Record32 = {};
  for (const [name, t] of Object.entries(all)) if (name.startsWith(prefix)) out[name.slice(prefix.length)] = floats(t);
  return out;
}

/** Largest |a - b| relative to the largest |b| of the tensor (NaN fails). */
function relDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= worst)) worst = d;
  }
  return worst / Math.max(scale, 1e-30);
}

function expectClose(got: Record32, expected: Record32, tol: number): void {
  expect(Object.keys(got).sort()).toEqual(Object.keys(expected).sort());
  for (const [name, ref] of Object.entries(expected)) {
    const d = relDiff(got[name]!, ref);
    if (!(d <= tol)) throw new Error(`${name}: relative difference ${d} > ${tol}`);
  }
}

/**
 * torch's clip_grad_norm_ + single-tensor AdamW step, element by element in float32 (Math.fround
 * after every op), from the engine's own gradients and moments: checks the optimizer's op order
 * independently of the gradients (one AdamW step amplifies relative gradient error on elements
 * whose gradient is near eps, so the fixture comparison alone needs a looser tolerance).
 */
function adamwStep(
  params: Record32,
  grads: Record32,
  m: Record32,
  v: Record32,
  step: number,
  o: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; maxGradNorm: number },
  gradNorm: number,
): Record32 {
  const f = Math.fround;
  const coef = o.maxGradNorm > 0 ? Math.min(f(f(1 / f(gradNorm + 1e-6)) * f(o.maxGradNorm)), 1) : 1;
  const bc1 = 1 - o.beta1 ** step;
  const bc2Sqrt = (1 - o.beta2 ** step) ** 0.5;
  const stepSize = o.lr / bc1;
  const out: Record32 = {};
  for (const name of Object.keys(params)) {
    const p = Float32Array.from(params[name]!);
    const g = grads[name]!.map((x) => f(x * f(coef)));
    const mm = Float32Array.from(m[name]!);
    const vv = Float32Array.from(v[name]!);
    for (let i = 0; i < p.length; i++) {
      if (o.weightDecay !== 0) p[i] = f(p[i]! * f(1 - o.lr * o.weightDecay));
      mm[i] = f(mm[i]! + f(f(1 - o.beta1) * f(g[i]! - mm[i]!)));
      vv[i] = f(f(vv[i]! * f(o.beta2)) + f(f(f(1 - o.beta2) * g[i]!) * g[i]!));
      const denom = f(f(f(Math.sqrt(vv[i]!)) / f(bc2Sqrt)) + f(o.eps));
      p[i] = f(p[i]! + f(f(-stepSize) * f(mm[i]! / denom)));
    }
    out[name] = p;
  }
  return out;
}

function stateGroup(tensors: Record<string, StTensorData>, prefix: string): Record32 {
  const out: Record32 = {};
  for (const [k, t] of Object.entries(tensors)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = floats(t);
  return out;
}

async function loadHandle(dir: string): Promise<NativeModelHandle> {
  return native().loadModel(dir, await loadArchConfig(dir), {
    device: 'cpu',
    dtype: 'float32',
    quant: 'none',
    doubleQuant: true,
    blocksize: 64,
    dequantizeStored: false,
  });
}

function loraCases(): string[] {
  if (!existsSync(LORA_FIXTURES)) return [];
  return readdirSync(LORA_FIXTURES, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(LORA_FIXTURES, d.name, 'reference.json')))
    .map((d) => d.name)
    .sort();
}

function batchRows(b: LoraReference['batch'], rows: number[]): LoraReference['batch'] {
  // Trim the trailing columns that are padding in every chosen row, as a collator would.
  const len = Math.max(...rows.map((r) => b.attention_mask[r]!.reduce((s, v) => s + v, 0)));
  return {
    input_ids: rows.map((r) => b.input_ids[r]!.slice(0, len)),
    attention_mask: rows.map((r) => b.attention_mask[r]!.slice(0, len)),
    labels: rows.map((r) => b.labels[r]!.slice(0, len)),
  };
}

const cases = loraCases();

describe('lora fixtures exist', () => {
  it('cover llama, qwen3, gemma3_text, mistral, phi3', () => {
    for (const c of ['llama', 'qwen3', 'gemma3_text', 'mistral', 'phi3']) expect(cases).toContain(c);
  });
});

describe.each(cases)('%s LoRA training matches transformers + peft (fp32, cpu)', (name) => {
  const dir = join(LORA_FIXTURES, name);
  const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as LoraReference;
  const init = readSafetensors(join(dir, 'adapter_init', 'adapter_model.safetensors'));
  const batch = packBatch({ ids: ref.batch.input_ids, attentionMask: ref.batch.attention_mask, labels: ref.batch.labels });
  const adamw = {
    lr: ref.adamw.lr,
    beta1: ref.adamw.betas[0],
    beta2: ref.adamw.betas[1],
    eps: ref.adamw.eps,
    weightDecay: ref.adamw.weight_decay,
    maxGradNorm: ref.max_grad_norm,
    skipNonFinite: false,
  };
  const loraOptions = {
    targets: ref.lora.targets,
    r: ref.lora.r,
    alpha: ref.lora.alpha,
    useRslora: ref.lora.use_rslora,
    dropout: ref.lora.dropout,
    layers: ref.lora.layers,
    seed: 7,
  };
  let model: NativeModelHandle;

  beforeAll(async () => {
    model = await loadHandle(join(MODEL_FIXTURES, name));
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it('adds adapters to the targeted modules, named and ordered as peft', async () => {
    const { modules, parameters } = await model.addLora(loraOptions);
    expect(modules.map((m) => `base_model.model.${m}.lora_A.weight`)).toEqual(
      ref.optimizer_param_order.filter((n) => n.endsWith('lora_A.weight')),
    );
    const tensors = await model.loraTensors();
    expect(Object.keys(tensors)).toEqual(ref.optimizer_param_order);
    expect(Object.keys(tensors).sort()).toEqual(ref.param_names);
    let count = 0;
    for (const [n, t] of Object.entries(tensors)) {
      expect(t.shape).toEqual(init[n]!.shape);
      count += t.shape.reduce((a, b) => a * b, 1);
      const v = floats(t);
      if (n.endsWith('lora_B.weight')) expect(v.every((x) => x === 0)).toBe(true);
      else {
        const bound = 1 / Math.sqrt(t.shape[1]!);
        expect(v.every((x) => Math.abs(x) <= bound)).toBe(true);
        expect(v.some((x) => x !== 0)).toBe(true);
      }
    }
    expect(parameters).toBe(count);
  });

  it('the packed batch gives peft\'s loss and gradients of the padded batch within 1e-5 (with and without gradient checkpointing)', async () => {
    expect(batch.ids.length).toBeLessThan(ref.batch.input_ids.flat().length); // the fixture pads: packing drops tokens
    await model.setLoraTensors(init);
    const got = await model.trainStep(batch, { lossScale: 1 / ref.tokens, gradientCheckpointing: false });
    expect(got.tokens).toBe(ref.tokens);
    expect(Math.abs(got.lossSum / got.tokens - ref.loss_mean)).toBeLessThanOrEqual(2e-6 * ref.loss_mean);
    const grads = toFloats(await model.gradients());
    expectClose(grads, referenceGroup(dir, 'grad.'), 1e-5);

    await model.zeroGrad();
    const ckpt = await model.trainStep(batch, { lossScale: 1 / ref.tokens, gradientCheckpointing: true });
    expect(ckpt).toEqual(got);
    const ckptGrads = toFloats(await model.gradients());
    expectClose(ckptGrads, grads, 1e-6);
    await model.zeroGrad();
  });

  it('two micro-batches scaled by the window\'s tokens accumulate the one-batch gradients', async () => {
    const whole = toFloats(await (async () => {
      await model.trainStep(batch, { lossScale: 1 / ref.tokens, gradientCheckpointing: false });
      const g = await model.gradients();
      await model.zeroGrad();
      return g;
    })());
    let tokens = 0;
    let lossSum = 0;
    for (const rows of [[0, 1], [2]]) {
      const b = batchRows(ref.batch, rows);
      const r = await model.trainStep(packBatch({ ids: b.input_ids, attentionMask: b.attention_mask, labels: b.labels }), { lossScale: 1 / ref.tokens, gradientCheckpointing: false });
      tokens += r.tokens;
      lossSum += r.lossSum;
    }
    expect(tokens).toBe(ref.tokens);
    expect(Math.abs(lossSum - ref.loss_sum)).toBeLessThanOrEqual(2e-6 * ref.loss_sum);
    expectClose(toFloats(await model.gradients()), whole, 1e-5);
    await model.zeroGrad();
  });

  it('clip + AdamW over two steps equal torch, and resume from optimizerState is exact', async () => {
    await model.setLoraTensors(init);
    await model.zeroGrad();
    const zeros = (r: Record32): Record32 => Object.fromEntries(Object.entries(r).map(([k, x]) => [k, new Float32Array(x.length)]));
    await model.trainStep(batch, { lossScale: 1 / ref.tokens, gradientCheckpointing: false });
    const params0 = toFloats(await model.loraTensors());
    const grads1 = toFloats(await model.gradients());
    const step1 = await model.optimizerStep(adamw);
    expect(Math.abs(step1.gradNorm - ref.grad_norm_before_clip)).toBeLessThanOrEqual(1e-5 * ref.grad_norm_before_clip);
    expectClose(toFloats(await model.gradients()), zeros(params0), 0); // zeroed after the step
    const params1 = await model.loraTensors();
    expectClose(toFloats(params1), adamwStep(params0, grads1, zeros(params0), zeros(params0), 1, adamw, step1.gradNorm), 1e-6);
    expectClose(toFloats(params1), referenceGroup(dir, 'after_step1.'), 2e-3);
    const stateFile = join(work, `${name}-optimizer-step1.safetensors`);
    expect(await model.saveOptimizerState(stateFile)).toEqual({ step: 1 });
    expect(native().safetensors.inspect(stateFile).metadata).toEqual({ step: '1' });
    const state1 = readSafetensors(stateFile);
    expect(Object.keys(state1)).toEqual([...ref.optimizer_param_order.map((n) => `exp_avg.${n}`), ...ref.optimizer_param_order.map((n) => `exp_avg_sq.${n}`)]);

    const r2 = await model.trainStep(batch, { lossScale: 1 / ref.tokens, gradientCheckpointing: false });
    expect(Math.abs(r2.lossSum / r2.tokens - ref.loss_after_step1)).toBeLessThanOrEqual(1e-5 * ref.loss_after_step1);
    const grads2 = toFloats(await model.gradients());
    const step2 = await model.optimizerStep(adamw);
    expect(Math.abs(step2.gradNorm - ref.grad_norm_before_clip_step2)).toBeLessThanOrEqual(1e-4 * ref.grad_norm_before_clip_step2);
    const params2 = toFloats(await model.loraTensors());
    const expected2 = adamwStep(toFloats(params1), grads2, stateGroup(state1, 'exp_avg.'), stateGroup(state1, 'exp_avg_sq.'), 2, adamw, step2.gradNorm);
    expectClose(params2, expected2, 1e-6);
    expectClose(params2, referenceGroup(dir, 'after_step2.'), 2e-3);
    expect(await model.saveOptimizerState(join(work, `${name}-optimizer-step2.safetensors`))).toEqual({ step: 2 });

    // A fresh model given the step-1 adapter and optimizer state takes the same step 2, bit for bit.
    const resumed = await loadHandle(join(MODEL_FIXTURES, name));
    try {
      await resumed.addLora(loraOptions);
      await resumed.setLoraTensors(params1);
      await resumed.loadOptimizerState(stateFile, { step: 1 });
      await resumed.trainStep(batch, { lossScale: 1 / ref.tokens, gradientCheckpointing: false });
      const again = await resumed.optimizerStep(adamw);
      expect(again.gradNorm).toBe(step2.gradNorm);
      expectClose(toFloats(await resumed.loraTensors()), params2, 0);
    } finally {
      await resumed.dispose();
    }
  });

  it('saveAdapter writes the bytes of the former JS path (loraTensors + safetensors.write); loadAdapterWeights reads them back', async () => {
    await model.setLoraTensors(init);
    const file = join(work, `${name}-adapter.safetensors`);
    await model.saveAdapter(file);
    const viaJs = join(work, `${name}-adapter-js.safetensors`);
    await native().safetensors.write(viaJs, await model.loraTensors(), { format: 'pt' });
    expect(readFileSync(file).equals(readFileSync(viaJs))).toBe(true);
    await model.setLoraTensors(readSafetensors(join(dir, 'adapter_trained', 'adapter_model.safetensors')));
    await model.loadAdapterWeights(file);
    expectClose(toFloats(await model.loraTensors()), toFloats(readSafetensors(file)), 0);
    await expect(model.loadAdapterWeights(join(work, 'absent.safetensors'))).rejects.toMatchObject({ code: 'ST_IO' });
  });

  it('logits with the trained peft adapter equal peft', async () => {
    await model.setLoraTensors(readSafetensors(join(dir, 'adapter_trained', 'adapter_model.safetensors')));
    const expected = referenceGroup(dir, 'logits_trained.');
    for (const [i, seq] of ref.sequences.entries()) {
      const got = await seqLogits(model, seq);
      expect(relDiff(got.data, expected[String(i)]!)).toBeLessThanOrEqual(1e-5);
    }
  });
});

describe('LoRA argument and tensor errors', () => {
  // Native holds no recipe defaults: every option is passed.
  const fixed = { useRslora: false, dropout: 0, seed: 3 };
  let model: NativeModelHandle;
  beforeAll(async () => {
    model = await loadHandle(join(MODEL_FIXTURES, 'llama'));
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it('training before addLora, unknown targets and bad layers are LORA_INVALID', async () => {
    await expect(model.trainStep(packed([[1, 2]], [[1, 2]]), { lossScale: 1, gradientCheckpointing: false })).rejects.toMatchObject({ code: 'LORA_INVALID' });
    await expect(model.addLora({ ...fixed, targets: ['qkv_proj'], r: 4, alpha: 8 })).rejects.toMatchObject({ code: 'LORA_INVALID' });
    await expect(model.addLora({ ...fixed, targets: ['lm_head'], r: 4, alpha: 8 })).rejects.toThrow(/lm_head/);
    await expect(model.addLora({ ...fixed, targets: ['q_proj'], r: 4, alpha: 8, layers: [5] })).rejects.toThrow(/layer index 5 is out of range/);
    await expect(model.addLora({ ...fixed, targets: ['q_proj'], r: 0, alpha: 8 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const { seed: _seed, ...noSeed } = fixed;
    await expect(model.addLora({ ...noSeed, targets: ['q_proj'], r: 4, alpha: 8 } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('seed') });
  });

  it('setLoraTensors names the unexpected, misshapen or missing tensor; nothing changes', async () => {
    await model.addLora({ ...fixed, targets: ['q_proj', 'v_proj'], r: 2, alpha: 4 });
    await expect(model.addLora({ ...fixed, targets: ['q_proj'], r: 2, alpha: 4 })).rejects.toThrow(/already has LoRA/);
    const before = await model.loraTensors();
    const wrongName = { ...before, 'base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight': before[Object.keys(before)[0]!]! };
    await expect(model.setLoraTensors(wrongName)).rejects.toThrow(/k_proj\.lora_A\.weight/);
    const first = Object.keys(before)[0]!;
    const wrongShape = { ...before, [first]: { dtype: 'F32' as const, shape: [1, 1], data: Buffer.alloc(4) } };
    await expect(model.setLoraTensors(wrongShape)).rejects.toMatchObject({ code: 'LORA_INVALID', message: expect.stringContaining(first) });
    const { [first]: _dropped, ...missing } = before;
    await expect(model.setLoraTensors(missing)).rejects.toThrow(new RegExp(`${first.replace(/\./g, '\\.')}' is missing`));
    expect(await model.loraTensors()).toEqual(before);
  });

  it('a packed batch is checked field by field: the promise rejects naming the field, never throws', async () => {
    const opts = { lossScale: 1, gradientCheckpointing: false };
    const vocab = (await loadArchConfig(join(MODEL_FIXTURES, 'llama'))).vocabSize;
    const bad = async (batch: unknown, pattern: RegExp): Promise<void> => {
      let pending: Promise<unknown> | undefined;
      expect(() => {
        pending = model.trainStep(batch as PackedBatch, opts);
      }).not.toThrow();
      await expect(pending).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(pattern) });
    };
    await bad({ ...packed([[1, 2]], [[1, vocab]]) }, new RegExp(`^labels\\[1\\]: .*\\[0, ${vocab}\\) or -100 but received ${vocab}`));
    await bad({ ...packed([[1, 2]], [[1, -5]]) }, /^labels\[1\]/);
    await bad({ ...packed([[vocab, 2]], [[1, 2]]) }, /^ids\[0\]/);
    await bad({ ...packed([[1, 2]], [[1, 2]]), labels: Int32Array.of(1) }, /^labels: expected one label per token id \(2\)/);
    await bad({ ...packed([[1, 2, 3]], [[1, 2, 3]]), seqLens: Int32Array.of(2, 2) }, /^seqLens: .*sum to 4 but ids holds 3/);
    await bad({ ...packed([[1, 2]], [[1, 2]]), seqLens: Int32Array.of(2, 0) }, /^seqLens\[1\]/);
    await bad({ ...packed([[1, 2]], [[1, 2]]), seqLens: new Int32Array(0) }, /^seqLens/);
    await bad({ ids: [1, 2], labels: Int32Array.of(1, 2), seqLens: Int32Array.of(2) }, /^ids: expected an Int32Array but received an array/);
    await bad({ ...packed([[1, 2]], [[1, 2]]), labels: Float64Array.of(1, 2) }, /^labels: expected an Int32Array but received a Float64Array/);
    await expect(model.trainStep(packed([[1, 2]], [[1, 2]]), { lossScale: 1 } as never)).rejects.toThrow(/^gradientCheckpointing/);
  });

  it('optimizerStep without gradients and a batch without targets', async () => {
    const opts = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 0, skipNonFinite: false };
    await expect(model.optimizerStep(opts)).rejects.toMatchObject({ code: 'NO_GRADIENTS' });
    const none = await model.trainStep(packed([[1, 2]], [[1, -100]]), { lossScale: 1, gradientCheckpointing: false });
    expect(none).toEqual({ lossSum: 0, tokens: 0 });
  });

  it('logits, generate, loadModel and the file methods reject bad arguments through the promise', async () => {
    const call = (fn: () => Promise<unknown>): Promise<unknown> => {
      let pending: Promise<unknown> | undefined;
      expect(() => {
        pending = fn();
      }).not.toThrow();
      return pending!;
    };
    await expect(call(() => model.logits(Int32Array.of(1, 2, 3), [2, 2], null))).rejects.toThrow(/^shape: \[2, 2\] needs 4 ids but received 3/);
    await expect(call(() => model.logits(Int32Array.of(1, 2), [1, 2], Uint8Array.of(1)))).rejects.toThrow(/^attentionMask: expected 2 entries/);
    await expect(call(() => model.logits(Int32Array.of(1, 2), [1, 2], Uint8Array.of(1, 2)))).rejects.toThrow(/^attentionMask\[1\]: expected 0 or 1/);
    await expect(call(() => model.logits([1, 2] as never, [1, 2], null))).rejects.toThrow(/^ids: expected an Int32Array/);
    const gen = { maxNewTokens: 1, minNewTokens: 0, eosTokenIds: new Int32Array(0), padTokenId: 0 };
    await expect(call(() => model.generate({ ids: Int32Array.of(1, 2), seqLens: Int32Array.of(3) }, gen))).rejects.toThrow(/^seqLens: .*sum to 3 but ids holds 2/);
    await expect(call(() => model.generate({ ids: Int32Array.of(1, 2), seqLens: Int32Array.of(2) }, { ...gen, eosTokenIds: [1] } as never))).rejects.toThrow(/^eosTokenIds: expected an Int32Array/);
    const { maxNewTokens: _m, ...noMax } = gen;
    await expect(call(() => model.generate({ ids: Int32Array.of(1, 2), seqLens: Int32Array.of(2) }, noMax as never))).rejects.toThrow(/^maxNewTokens/);
    const arch = await loadArchConfig(join(MODEL_FIXTURES, 'llama'));
    const load = { device: 'cpu', dtype: 'float32', quant: 'none', doubleQuant: true, blocksize: 64, dequantizeStored: false } as const;
    await expect(call(() => native().loadModel(42 as never, arch, load))).rejects.toThrow(/^loadModel dir: expected a string but received 42/);
    await expect(call(() => native().loadModel(MODEL_FIXTURES, arch, { ...load, device: 'tpu' as never }))).rejects.toThrow(/^device: expected 'cpu' or 'cuda'/);
    await expect(call(() => model.saveAdapter(7 as never))).rejects.toThrow(/^saveAdapter file: expected a string/);
    await expect(call(() => model.loadOptimizerState(join(work, 'x.safetensors'), {} as never))).rejects.toThrow(/^step: expected an integer >= 0 but received undefined/);
    const out = await model.generate({ ids: Int32Array.of(1, 2, 3, 4, 5), seqLens: Int32Array.of(2, 3) }, { ...gen, maxNewTokens: 2 });
    expect(out.ids).toBeInstanceOf(Int32Array);
    expect(Array.from(out.seqLens)).toEqual([2, 2]);
  });
});

describe('dropout and gradient checkpointing', () => {
  it('with dropout, a checkpointed step gives the same loss and gradients (masks replayed)', async () => {
    const dir = join(MODEL_FIXTURES, 'llama');
    const ref = JSON.parse(readFileSync(join(LORA_FIXTURES, 'llama', 'reference.json'), 'utf8')) as LoraReference;
    const init = readSafetensors(join(LORA_FIXTURES, 'llama', 'adapter_init', 'adapter_model.safetensors'));
    const batch = packBatch({ ids: ref.batch.input_ids, attentionMask: ref.batch.attention_mask, labels: ref.batch.labels });
    const results = [];
    for (const gradientCheckpointing of [false, true, false]) {
      const m = await loadHandle(dir);
      try {
        await m.addLora({ targets: ['q_proj', 'k_proj', 'v_proj'], r: 4, alpha: 8, useRslora: false, dropout: 0.3, layers: [0, 1], seed: 11 });
        const names = Object.keys(await m.loraTensors());
        const init2 = Object.fromEntries(names.map((n) => [n, init[n.replace('layers.0.', 'layers.1.')]!]));
        await m.setLoraTensors(init2);
        const r = await m.trainStep(batch, { lossScale: 1 / ref.tokens, gradientCheckpointing });
        results.push({ r, grads: toFloats(await m.gradients()) });
      } finally {
        await m.dispose();
      }
    }
    const [plain, ckpt, plainAgain] = results;
    expect(ckpt!.r).toEqual(plain!.r);
    expectClose(ckpt!.grads, plain!.grads, 1e-6);
    expectClose(plainAgain!.grads, plain!.grads, 0); // same seed, same masks
    // Dropout is active: the loss differs from the dropout-free reference.
    expect(Math.abs(plain!.r.lossSum - ref.loss_sum)).toBeGreaterThan(1e-3);
  });
});

describe('4-bit (bitsandbytes NF4) base', () => {
  it('trains: finite loss that decreases, checkpointing gives the same gradients', async () => {
    const dir = join(BNB_FIXTURES, 'llama_nf4');
    const model = await loadHandle(dir);
    try {
      expect(model.info().quantizedLinears).toBeGreaterThan(0);
      await model.addLora({ targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], r: 8, alpha: 16, useRslora: false, dropout: 0, seed: 1 });
      const ids = [
        [5, 17, 33, 9, 41, 8, 22, 60, 13, 7, 2, 0],
        [12, 3, 45, 28, 19, 50, 6, 31, 0, 0, 0, 0],
      ];
      const attentionMask = ids.map((row, b) => row.map((_, t) => (b === 0 || t < 8 ? 1 : 0)));
      const labels = ids.map((row, b) => row.map((v, t) => (attentionMask[b]![t] && t >= 2 ? v : -100)));
      const batch = packBatch({ ids, attentionMask, labels });
      const tokens = (await model.trainStep(batch, { lossScale: 0, gradientCheckpointing: false })).tokens;
      await model.zeroGrad();
      const opts = { lr: 2e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.0, maxGradNorm: 1.0, skipNonFinite: false };
      const losses: number[] = [];
      for (let step = 0; step < 6; step++) {
        const r = await model.trainStep(batch, { lossScale: 1 / tokens, gradientCheckpointing: step % 2 === 1 });
        if (step === 2) {
          const plain = toFloats(await model.gradients());
          await model.zeroGrad();
          await model.trainStep(batch, { lossScale: 1 / tokens, gradientCheckpointing: true });
          expectClose(toFloats(await model.gradients()), plain, 1e-6);
        }
        losses.push(r.lossSum / r.tokens);
        const { gradNorm } = await model.optimizerStep(opts);
        expect(Number.isFinite(gradNorm)).toBe(true);
      }
      for (const l of losses) expect(Number.isFinite(l)).toBe(true);
      expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! - 0.05);
    } finally {
      await model.dispose();
    }
  });
});

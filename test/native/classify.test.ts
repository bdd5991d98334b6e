// Sequence-classification mode against transformers + peft (test/fixtures/classify, written by
// scripts/reference/make_classify_fixtures.py): a peft SEQ_CLS adapter (LoRA on q/k/v of the
// layers after the first, the score head in modules_to_save) loads here with transformers'
// logits for left- and right-padded rows; one classification step gives transformers' loss and
// the gradients of every LoRA tensor and of the head (plain CE and CE mixed with SupCon); the
// adapter we save is peft's SEQ_CLS format and loads in peft with our logits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, nativeHandle, type Model } from '../../src/engine/model.js';
import { packClassifyBatch } from '../../src/engine/classify-batch.js';
import { createTrainer } from '../../src/train/trainer.js';
import { readSafetensorsShapes } from '../../src/engine/adapter-fit.js';
import type { StTensorData } from '../../src/native.js';
import { MODEL_FIXTURES, maxAbsDiff, readReferenceTensor } from '../helpers/fixtures.js';
import { NEED, skipWithout } from '../helpers/skip.js';

const CLASSIFY = join(import.meta.dirname, '..', 'fixtures', 'classify');
const PEFT_CLASSIFY = join(import.meta.dirname, '..', '..', 'scripts', 'reference', 'peft_classify_logits.py');
const python = spawnSync('python3', ['-c', 'import transformers, peft'], { encoding: 'utf8' });

interface ClassifyReference {
  num_labels: number;
  pad_token_id: number;
  rows: number[][];
  labels: number[];
  freeze: number;
  loss: { ce: number; supcon: number };
  supcon_weight: number;
  supcon_temperature: number;
  trainable: string[];
}

function padded(rows: number[][], pad: number, left: boolean): { ids: number[][]; attentionMask: number[][] } {
  const width = Math.max(...rows.map((r) => r.length));
  const fill = (r: number[], v: number) => Array<number>(width - r.length).fill(v);
  return {
    ids: rows.map((r) => (left ? [...fill(r, pad), ...r] : [...r, ...fill(r, pad)])),
    attentionMask: rows.map((r) => (left ? [...fill(r, 0), ...r.map(() => 1)] : [...r.map(() => 1), ...fill(r, 0)])),
  };
}

function f32(t: StTensorData): Float32Array {
  const out = new Float32Array(t.data.byteLength / 4);
  new Uint8Array(out.buffer).set(t.data);
  return out;
}

const scaleOf = (a: Float32Array) => a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-classify-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const FAMILIES = ['llama', 'qwen3', 'gemma2'];
const reference = (name: string) => JSON.parse(readFileSync(join(CLASSIFY, name, 'reference.json'), 'utf8')) as ClassifyReference;

/** The case's base with peft's adapter (LoRA + head) loaded. */
async function loadCase(name: string, ref: ClassifyReference): Promise<Model> {
  const model = await loadModel(join(MODEL_FIXTURES, name), { device: 'cpu', task: 'classify', numLabels: ref.num_labels });
  await model.loadAdapter(join(CLASSIFY, name, 'adapter_init'));
  return model;
}

describe.each(FAMILIES)('%s', (name) => {
  const ref = reference(name);
  const load = () => loadCase(name, ref);

  it("peft's SEQ_CLS adapter loads with transformers' logits, left- and right-padded; the frozen layers carry no adapter", async () => {
    await using model = await load();
    expect(model.lora?.spec.taskType).toBe('SEQ_CLS');
    expect(model.lora?.spec.layersToTransform).toEqual([1]);
    expect(model.lora?.modules.length).toBe(3);
    for (const m of model.lora?.modules ?? []) expect(m).toMatch(/layers\.1\./);
    for (const side of ['right', 'left'] as const) {
      const batch = padded(ref.rows, ref.pad_token_id, side === 'left');
      const got = await model.classifyLogits(batch.ids, { attentionMask: batch.attentionMask });
      const expected = readReferenceTensor(name, `logits_${side}`, CLASSIFY);
      expect(got.shape).toEqual([ref.rows.length, ref.num_labels]);
      expect(maxAbsDiff(got.data, 0, expected.data, 0, expected.data.length), side).toBeLessThanOrEqual(1e-4);
    }
  });

  it.each([
    ['ce', 0],
    ['supcon', 1],
  ] as const)("one %s step gives transformers' loss and the gradients of every LoRA tensor and of the head", async (objective, supcon) => {
    await using model = await load();
    const handle = nativeHandle(model);
    // Left padding in, padding-free step: the padding never reaches the engine.
    const batch = packClassifyBatch({ ...padded(ref.rows, ref.pad_token_id, true), labels: ref.labels }, ref.num_labels);
    const rows = ref.rows.length;
    const r = await handle.classifyStep(batch, {
      lossScale: 1 / rows,
      gradientCheckpointing: supcon === 1,
      rdropAlpha: 0,
      supconWeight: supcon ? ref.supcon_weight : 0,
      supconTemperature: ref.supcon_temperature,
    });
    expect(r.rows).toBe(rows);
    expect(r.lossSum / rows).toBeCloseTo(ref.loss[objective], 5);
    const grads = await handle.gradients();
    expect(Object.keys(grads).sort()).toEqual([...ref.trainable].sort());
    expect(Object.keys(grads)).toContain('base_model.model.score.weight');
    for (const key of ref.trainable) {
      const expected = readReferenceTensor(name, `${objective}.grad.${key}`, CLASSIFY).data;
      const got = f32(grads[key] as StTensorData);
      expect(scaleOf(expected), key).toBeGreaterThan(0);
      expect(maxAbsDiff(got, 0, expected, 0, expected.length), key).toBeLessThanOrEqual(1e-4 * scaleOf(expected));
    }
  });
});

it.skipIf(skipWithout(python.status === 0, 'peft SEQ_CLS interop', NEED.pythonReference))(
  'saveAdapter writes peft SEQ_CLS adapters that load in peft, and mergeAdapter checkpoints that load in transformers, with our logits (llama, qwen3, gemma2)',
  async () => {
    const jobs = [];
    const ours: Float32Array[] = [];
    for (const name of FAMILIES) {
      const ref = reference(name);
      await using model = await loadCase(name, ref);
      const out = join(work, name);
      await model.saveAdapter(out);
      const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
      expect(config).toMatchObject({ task_type: 'SEQ_CLS', modules_to_save: ['score'], layers_to_transform: [1] });
      expect((await readSafetensorsShapes(join(out, 'adapter_model.safetensors'))).get('base_model.model.score.weight')).toEqual([ref.num_labels, model.arch.hiddenSize]);
      const all = padded(ref.rows, ref.pad_token_id, false);
      ours.push((await model.classifyLogits(all.ids, { attentionMask: all.attentionMask })).data);
      jobs.push({ base: join(MODEL_FIXTURES, name), adapter: out, num_labels: ref.num_labels, rows: ref.rows });
      // The merged checkpoint (16-bit bases: the merged weights rounded to it) loads in
      // transformers as *ForSequenceClassification with the logits we compute from it.
      await model.mergeAdapter(join(work, `${name}-merged`));
      await using merged = await loadModel(join(work, `${name}-merged`), { device: 'cpu', task: 'classify', numLabels: ref.num_labels });
      ours.push((await merged.classifyLogits(all.ids, { attentionMask: all.attentionMask })).data);
      jobs.push({ base: join(work, `${name}-merged`), adapter: null, num_labels: ref.num_labels, rows: ref.rows });
    }
    const stdout = execFileSync('python3', [PEFT_CLASSIFY, JSON.stringify(jobs)], { encoding: 'utf8', timeout: 300_000 });
    const peftLogits = JSON.parse(stdout.trim().split('\n').pop() as string) as number[][][];
    jobs.forEach((job, i) => {
      const expected = Float32Array.from((peftLogits[i] as number[][]).flat());
      expect(maxAbsDiff(ours[i] as Float32Array, 0, expected, 0, expected.length), job.base).toBeLessThanOrEqual(1e-4);
    });
  },
  300_000,
);

describe('classification mode', () => {
  const llama = join(MODEL_FIXTURES, 'llama');
  const ref = reference('llama');

  it('the head is normal(0, initializer_range) from the seed: the same seed draws the same head, another seed another', async () => {
    const head = async (seed: number) => {
      await using model = await loadModel(llama, { device: 'cpu', task: 'classify', numLabels: 3, seed });
      await model.addLora({ freezeLayers: 1 });
      return f32((await nativeHandle(model).loraTensors())['base_model.model.score.weight'] as StTensorData);
    };
    const [a, b, c] = [await head(11), await head(11), await head(12)];
    expect(a.length).toBe(3 * 64);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    const mean = a.reduce((s, x) => s + x, 0) / a.length;
    const std = Math.sqrt(a.reduce((s, x) => s + (x - mean) ** 2, 0) / a.length);
    expect(std).toBeGreaterThan(0.016); // initializer_range 0.02; 192 draws
    expect(std).toBeLessThan(0.024);
    expect(Math.abs(mean)).toBeLessThan(0.005);
  });

  it('R-Drop without dropout is plain CE (two equal passes), and gradient checkpointing replays both passes\' dropout masks', async () => {
    const run = async (model: Model, options: { rdropAlpha: number; gradientCheckpointing: boolean }) => {
      const handle = nativeHandle(model);
      const batch = packClassifyBatch({ ids: ref.rows, labels: ref.labels }, 3);
      const r = await handle.classifyStep(batch, { lossScale: 1 / ref.rows.length, supconWeight: 0, supconTemperature: 0.07, ...options });
      return { loss: r.lossSum / ref.rows.length, grads: await handle.gradients() };
    };
    const step = async (options: { rdropAlpha: number; gradientCheckpointing: boolean }, dropout: number) => {
      await using model = await loadModel(llama, { device: 'cpu', task: 'classify', numLabels: 3 });
      await model.loadAdapter(join(CLASSIFY, 'llama', 'adapter_init'));
      if (dropout > 0) {
        // Same weights, now with dropout on the adapters' inputs.
        const tensors = await nativeHandle(model).loraTensors();
        await using again = await loadModel(llama, { device: 'cpu', task: 'classify', numLabels: 3 });
        await again.addLora({ r: 4, alpha: 8, dropout, freezeLayers: 1, seed: 5 });
        await nativeHandle(again).setLoraTensors(tensors);
        return await run(again, options);
      }
      return await run(model, options);
    };
    const plain = await step({ rdropAlpha: 0, gradientCheckpointing: false }, 0);
    const rdrop = await step({ rdropAlpha: 2, gradientCheckpointing: false }, 0);
    expect(plain.loss).toBeCloseTo(ref.loss.ce, 5);
    expect(rdrop.loss).toBeCloseTo(plain.loss, 6);
    for (const [key, g] of Object.entries(plain.grads)) {
      const a = f32(g);
      expect(maxAbsDiff(f32(rdrop.grads[key] as StTensorData), 0, a, 0, a.length), key).toBeLessThanOrEqual(1e-6 * Math.max(1, scaleOf(a)));
    }
    // With dropout the two passes differ (the loss is no longer plain CE), and the recomputed
    // backward of both passes draws the masks the kept one drew.
    const kept = await step({ rdropAlpha: 2, gradientCheckpointing: false }, 0.3);
    const recomputed = await step({ rdropAlpha: 2, gradientCheckpointing: true }, 0.3);
    expect(kept.loss).not.toBeCloseTo(plain.loss, 4);
    expect(recomputed.loss).toBe(kept.loss);
    for (const [key, g] of Object.entries(kept.grads)) {
      const a = f32(g);
      expect(maxAbsDiff(f32(recomputed.grads[key] as StTensorData), 0, a, 0, a.length), key).toBeLessThanOrEqual(1e-6 * Math.max(1, scaleOf(a)));
    }
  });

  it('a classifier trains through createTrainer, resumes from its checkpoint exactly, and merges into a *ForSequenceClassification checkpoint', async () => {
    const batches = [0, 1, 2].map((i) => ({ ...padded(ref.rows.slice(i, i + 2), 0, i === 1), labels: ref.labels.slice(i, i + 2) }));
    const options = { lr: 1e-2, warmupSteps: 0, totalSteps: 3, schedule: 'constant' as const, supconWeight: 0.2 };
    const losses: number[] = [];
    {
      await using model = await loadCase('llama', ref);
      const trainer = createTrainer(model, options);
      for (const b of batches) losses.push((await trainer.step([b])).loss);
    }
    expect(losses[2]).not.toBe(losses[0]);
    await using model = await loadCase('llama', ref);
    const first = createTrainer(model, options);
    for (const b of batches.slice(0, 2)) await first.step([b]);
    await first.save(join(work, 'checkpoint'));
    await using resumed = await loadCase('llama', ref);
    const second = createTrainer(resumed, options);
    await second.resume(join(work, 'checkpoint'));
    expect((await second.step([batches[2]!])).loss).toBe(losses[2]);

    const merged = join(work, 'merged');
    await resumed.mergeAdapter(merged);
    const config = JSON.parse(readFileSync(join(merged, 'config.json'), 'utf8')) as { architectures: string[]; num_labels: number };
    expect(config).toMatchObject({ architectures: ['LlamaForSequenceClassification'], num_labels: 3 });
    await using plain = await loadModel(merged, { device: 'cpu', task: 'classify', numLabels: 3, seed: 99 });
    const all = padded(ref.rows, 0, false);
    const a = await resumed.classifyLogits(all.ids, { attentionMask: all.attentionMask });
    const b = await plain.classifyLogits(all.ids, { attentionMask: all.attentionMask });
    expect(maxAbsDiff(a.data, 0, b.data, 0, a.data.length)).toBeLessThanOrEqual(1e-5);
  });

  it('refuses what does not fit, naming it', async () => {
    await using generate = await loadModel(llama, { device: 'cpu' });
    await expect(generate.classifyLogits([[1, 2]])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining("task: 'classify'") });
    await expect(generate.loadAdapter(join(CLASSIFY, 'llama', 'adapter_init'))).rejects.toMatchObject({
      code: 'ADAPTER_MISMATCH',
      message: expect.stringContaining('numLabels: 3'),
    });
    await using five = await loadModel(llama, { device: 'cpu', task: 'classify', numLabels: 5 });
    await expect(five.loadAdapter(join(CLASSIFY, 'llama', 'adapter_init'))).rejects.toMatchObject({ code: 'ADAPTER_MISMATCH', message: expect.stringContaining('numLabels 3') });
    await expect(five.classifyLogits([[1, 2], [0, 0]], { attentionMask: [[1, 1], [0, 0]] })).rejects.toMatchObject({ message: expect.stringContaining('row 1 has no token') });
    await expect(loadModel(llama, { device: 'cpu', task: 'classify' })).rejects.toMatchObject({ message: expect.stringContaining('numLabels') });
  });
});

#!/usr/bin/env node
// LoRA training on the GPU machine (docs/benchmarks.md, docs/gpu-validation.md):
//  1. the same tiny model (test/fixtures/models/llama, NF4 base, peft's initial adapter) trained
//     3 steps on CPU fp32 and on CUDA bf16: losses side by side;
//  2. a Qwen3-4B-shaped NF4 model (DIR from make_random_checkpoint.py), LoRA r16 on q/k/v,
//     batch 16 x 512 tokens: tokens/s and peak memory with and without gradient checkpointing.
// Usage: node scripts/bench/train-step.mjs DIR [OUT.json]
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cudaMemory, loadModel, resetCudaPeakMemory } from '../../dist/api/index.js';
import { collate } from '../../dist/data/collate.js';
import { createTrainer } from '../../dist/train/trainer.js';

const root = join(import.meta.dirname, '..', '..');
const dir = process.argv[2];
const GiB = 2 ** 30;
const results = { date: new Date().toISOString(), tiny: {}, qwen3_4b: [] };

// 1. tiny model, CPU fp32 vs CUDA bf16, NF4 base on both.
const lcg = (seed) => { let s = seed >>> 0; return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32); };
const rand = lcg(5);
const tinyBatches = Array.from({ length: 3 }, () => collate(Array.from({ length: 4 }, () => {
  const ids = Array.from({ length: 12 }, () => Math.floor(rand() * 300) + 1);
  return { ids, labels: ids.map((t, i) => (i < 4 ? -100 : t)) };
}), 0));
for (const [device, dtype] of [['cpu', 'float32'], ['cuda', 'bfloat16']]) {
  const model = await loadModel(join(root, 'test/fixtures/models/llama'), { device, dtype, quant: 'nf4' });
  await model.loadAdapter(join(root, 'test/fixtures/lora/llama/adapter_init'));
  const trainer = createTrainer(model, { lr: 1e-2, totalSteps: 3, schedule: 'constant', gradientCheckpointing: true });
  const losses = [];
  for (const b of tinyBatches) losses.push((await trainer.step([b])).loss);
  results.tiny[device] = losses;
  await model.dispose();
}
const rel = results.tiny.cpu.map((l, i) => Math.abs(results.tiny.cuda[i] - l) / Math.abs(l));
console.log('tiny llama, NF4 base, 3 steps: cpu fp32', results.tiny.cpu.map((x) => x.toFixed(4)).join(' '), '| cuda bf16', results.tiny.cuda.map((x) => x.toFixed(4)).join(' '), '| max rel diff', Math.max(...rel).toExponential(2));
results.tiny.maxRelDiff = Math.max(...rel);

// 2. Qwen3-4B shape.
if (dir) {
  const B = 16, T = 512;
  const r2 = lcg(9);
  const batch = collate(Array.from({ length: B }, () => {
    const ids = Array.from({ length: T }, () => Math.floor(r2() * 150000) + 10);
    return { ids, labels: ids.map((t, i) => (i < 64 ? -100 : t)) };
  }), 0);
  for (const gc of [true, false]) {
    const model = await loadModel(dir, { device: 'cuda', dtype: 'bfloat16', quant: 'nf4' });
    await model.addLora({ r: 16, alpha: 32, targets: ['q_proj', 'k_proj', 'v_proj'] });
    const trainer = createTrainer(model, { lr: 2e-5, totalSteps: 100, gradientCheckpointing: gc });
    try {
      for (let i = 0; i < 2; i++) await trainer.step([batch]);
      resetCudaPeakMemory();
      const t0 = performance.now();
      const steps = 5;
      for (let i = 0; i < steps; i++) await trainer.step([batch]);
      const seconds = (performance.now() - t0) / 1000;
      const row = { gradientCheckpointing: gc, tokensPerSecond: (steps * B * T) / seconds, peakGiB: cudaMemory().peakAllocated / GiB, secondsPerStep: seconds / steps };
      results.qwen3_4b.push(row);
      console.log(`qwen3-4b nf4 lora r16 qkv, batch ${B}x${T}, checkpointing ${gc}: ${row.tokensPerSecond.toFixed(0)} tokens/s, peak ${row.peakGiB.toFixed(1)} GiB, ${row.secondsPerStep.toFixed(2)} s/step`);
    } catch (err) {
      results.qwen3_4b.push({ gradientCheckpointing: gc, error: `${err.code}: ${err.message.split('\n')[0]}` });
      console.log(`qwen3-4b checkpointing ${gc}: ${err.code}: ${err.message.split('\n')[0]}`);
    }
    await model.dispose();
  }
}
if (process.argv[3]) writeFileSync(process.argv[3], JSON.stringify(results, null, 2));

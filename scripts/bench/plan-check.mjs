#!/usr/bin/env node
// The memory planner against measured peaks (issue 17 point 4, docs/benchmarks.md): for random
// checkpoints with the shapes of Qwen3-4B, Llama-3.2-1B and Qwen2-7B (make_random_checkpoint.py),
// NF4 base, bf16, LoRA r16 on q/k/v, rows of 512 / 2048 / 8192 tokens, with and without gradient
// checkpointing: a few training steps through createTrainer, the engine's own peak figure (the
// highest StepLog.peakMemoryGiB, the caching allocator's peak bytes of each step), next to
// api/plan.ts's estimate of the same step; and one generation batch (the KV cache path) next to
// the eval estimate. A row passes when the estimate is at least 90% of the measured peak
// (within 10% or above it).
//
// Usage (GPU machine, after the build): node scripts/bench/plan-check.mjs [SHAPE ...] [--out FILE.json]
//   SHAPE: qwen3-4b, llama-3.2-1b, qwen2-7b (default: all three); checkpoints are made once in
//   $NQ_BENCH_DIR (default /tmp/nq-bench)/model-<shape>. --cpu-smoke: runs the same code on the CPU
//   (qwen3-tiny, short rows, no measurement) to catch a broken script before the GPU run.
import { execFileSync } from 'node:child_process';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cudaMemory, loadModel, resetCudaPeakMemory } from '../../dist/api/index.js';
import { planSetup, stepInput } from '../../dist/api/plan.js';
import { estimateEvalMemory, estimateStepMemory } from '../../dist/config/memory-estimate.js';
import { collate } from '../../dist/data/collate.js';
import { createTrainer } from '../../dist/train/trainer.js';

const root = join(import.meta.dirname, '..', '..');
const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
const outFile = outIndex >= 0 ? args[outIndex + 1] : join(process.env.OUT ?? '/tmp', 'plan-check.json');
const smoke = args.includes('--cpu-smoke');
const shapes = args.filter((a, i) => !a.startsWith('--') && (outIndex < 0 || i !== outIndex + 1));
const SHAPES = smoke ? ['qwen3-tiny'] : shapes.length ? shapes : ['qwen3-4b', 'llama-3.2-1b', 'qwen2-7b'];
/** Rows of each micro-batch per sequence length: about 4k-8k tokens a step. */
const CASES = smoke
  ? [{ seqLen: 64, rows: 2 }]
  : [
      { seqLen: 512, rows: 8 },
      { seqLen: 2048, rows: 2 },
      { seqLen: 8192, rows: 1 },
    ];
const ENGINE = smoke ? { device: 'cpu', dtype: 'float32', quant: 'none' } : { device: 'cuda', dtype: 'bfloat16', quant: 'nf4' };
const LORA = { r: 16, alpha: 32, targets: ['q_proj', 'k_proj', 'v_proj'] };
const GiB = 2 ** 30;
const bench = process.env.NQ_BENCH_DIR ?? '/tmp/nq-bench';

const lcg = (seed) => { let s = seed >>> 0; return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32); };

function checkpoint(shape) {
  const dir = join(bench, `model-${shape}`);
  if (!existsSync(join(dir, 'config.json'))) {
    console.log(`making the random ${shape} checkpoint in ${dir}`);
    execFileSync('python3', [join(root, 'scripts/bench/make_random_checkpoint.py'), '--shape', shape, '--out', `${dir}.tmp`], { stdio: ['ignore', 'inherit', 'inherit'] });
    renameSync(`${dir}.tmp`, dir);
  }
  return dir;
}

function batchOf(rows, seqLen, vocab, seed) {
  const rand = lcg(seed);
  return collate(Array.from({ length: rows }, () => {
    const ids = Array.from({ length: seqLen }, () => 10 + Math.floor(rand() * (vocab - 20)));
    return { ids, labels: ids.map((t, i) => (i < Math.min(64, seqLen / 4) ? -100 : t)) }; // a prompt of 64 tokens, the rest trained
  }), 0);
}

const verdict = (estimate, measured) => (smoke ? 'n/a (cpu smoke run)' : estimate >= 0.9 * measured ? (estimate <= 1.1 * measured ? 'within 10%' : 'above') : 'BELOW');
const results = { date: new Date().toISOString(), lora: LORA, rows: [] };
let failures = 0;
const report = (row) => {
  results.rows.push(row);
  if (row.verdict === 'BELOW' || (!smoke && !(row.measuredGiB > 0))) failures++;
  console.log(
    `${row.shape.padEnd(13)} ${row.kind.padEnd(5)} seq ${String(row.seqLen).padStart(5)} x ${row.rows}${row.kind === 'train' ? ` ckpt ${row.checkpointing ? 'on ' : 'off'}` : '         '}` +
      `  estimate ${row.estimateGiB.toFixed(2).padStart(6)} GiB  measured ${row.measuredGiB.toFixed(2).padStart(6)} GiB  ratio ${(row.estimateGiB / row.measuredGiB).toFixed(3)}  ${row.verdict}`,
  );
};

for (const shape of SHAPES) {
  const dir = checkpoint(shape);
  const setup = await planSetup(dir, ENGINE);
  const model = await loadModel(dir, ENGINE);
  await model.addLora(LORA);
  const vocab = setup.arch.vocabSize;
  try {
    for (const { seqLen, rows } of CASES) {
      for (const checkpointing of [true, false]) {
        const trainer = createTrainer(model, { lr: 1e-5, totalSteps: 100, schedule: 'constant', gradientCheckpointing: checkpointing });
        const batch = batchOf(rows, seqLen, vocab, seqLen + rows);
        let measured = 0;
        for (let i = 0; i < 3; i++) measured = Math.max(measured, (await trainer.step([batch])).peakMemoryGiB ?? 0); // the first step allocates AdamW's state
        const input = { ...stepInput(setup, { loraR: LORA.r, loraTargets: LORA.targets, loraDropout: 0, freezeLayers: 0, gradientCheckpointing: checkpointing }, seqLen), microBatch: rows };
        const e = estimateStepMemory(input);
        report({ shape, kind: 'train', seqLen, rows, checkpointing, estimateGiB: e.totalBytes / GiB, measuredGiB: measured, verdict: verdict(e.totalBytes / GiB, measured), parts: e });
      }
      // Generation: prompts of seqLen - 32 tokens, 32 new tokens, the adapter on.
      const maxNewTokens = 32;
      const maxNew = Math.min(maxNewTokens, seqLen / 2);
      const prompts = batchOf(rows, seqLen - maxNew, vocab, 7 * seqLen).ids;
      if (!smoke) resetCudaPeakMemory();
      await model.generate(prompts, { maxNewTokens: maxNew, minNewTokens: maxNew });
      const measured = smoke ? 0 : cudaMemory().peakAllocated / GiB;
      const e = estimateEvalMemory({
        arch: setup.arch, device: setup.device, dtypeBytes: setup.dtype === 'float32' ? 4 : 2, quantized: setup.quantized, doubleQuant: true, batch: rows, promptLen: seqLen - maxNew, maxNewTokens: maxNew, loraR: LORA.r, targets: LORA.targets,
      });
      report({ shape, kind: 'eval', seqLen, rows, estimateGiB: e.totalBytes / GiB, measuredGiB: measured, verdict: verdict(e.totalBytes / GiB, measured), parts: e });
    }
  } finally {
    await model.dispose();
  }
}
writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
console.log(`${results.rows.length} rows, ${failures} below 90% of the measured peak; JSON in ${outFile}`);
process.exitCode = failures > 0 ? 1 : 0;

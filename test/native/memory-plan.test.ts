// The memory planner (config/memory-plan.ts over memory-estimate.ts's step and eval estimates):
// its weight figure equals what the engine reports holding for real checkpoints (16-bit and
// NF4, tied and untied heads), the picked micro-batch is the largest divisor of the step's rows
// whose estimate fits and the accumulation keeps the rows per step, checkpointing and 4-bit
// weights lower the estimate where the engine keeps less, and a budget too small for one row is
// refused with the figures. The estimates against measured CUDA peaks: scripts/bench/plan-check.mjs.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/api/model.js';
import { EVAL_DEFAULTS } from '../../src/config/defaults.js';
import { loadArchConfig } from '../../src/config/hf-config.js';
import { estimateEvalMemory, estimateStepMemory, type StepMemoryInput } from '../../src/config/memory-estimate.js';
import { memoryBudget, planEvalBatch, planTrainBatch } from '../../src/config/memory-plan.js';
import { MODEL_FIXTURES } from '../helpers/fixtures.js';

const GiB = 2 ** 30;

describe('weights', () => {
  it.each([
    ['qwen3', 'none'],
    ['llama_tied', 'none'],
    ['llama', 'nf4'],
    ['mistral', 'nf4'],
  ] as const)("%s (quant %s): the estimate's weights are the bytes the engine holds, up to the norms and biases", async (name, quant) => {
    const dir = join(MODEL_FIXTURES, name);
    const arch = await loadArchConfig(dir);
    const model = await loadModel(dir, { device: 'cpu', quant });
    try {
      const held = model.info().parameterBytes;
      const e = estimateStepMemory({ ...stepBase(arch), quantized: quant !== 'none', microBatch: 1 });
      // Norm weights (H per norm, head dims with q/k norms) and biases are not in the estimate: a few per cent of a tiny model at most.
      expect(e.weightBytes).toBeLessThanOrEqual(held);
      expect(e.weightBytes).toBeGreaterThan(0.9 * held);
    } finally {
      await model.dispose();
    }
  }, 60_000);
});

function stepBase(arch: Awaited<ReturnType<typeof loadArchConfig>>): Omit<StepMemoryInput, 'microBatch'> {
  return { arch, device: 'cpu', dtypeBytes: 4, quantized: false, doubleQuant: true, seqLen: 64, loraR: 8, targets: ['q_proj', 'k_proj', 'v_proj'], freezeLayers: 0, loraDropout: 0, gradientCheckpointing: true };
}

describe('planTrainBatch', () => {
  it('picks the largest micro-batch dividing the rows per step whose estimate fits, and the accumulation that keeps them', async () => {
    const arch = await loadArchConfig(join(MODEL_FIXTURES, 'qwen3'));
    const input = { ...stepBase(arch), device: 'cuda' as const, dtypeBytes: 2, quantized: true, seqLen: 4096 };
    const at = (m: number) => estimateStepMemory({ ...input, microBatch: m }).totalBytes;
    // A budget between the estimates of 4 and 8 rows (24 rows per step: divisors 24, 12, 8, 6, 4, ...).
    const usable = (at(4) + at(6)) / 2;
    const budget = { device: 'cuda' as const, freeBytes: usable + GiB, marginBytes: GiB, usableBytes: usable, source: 'test' };
    const plan = planTrainBatch(input, 24, 1, budget);
    expect(plan.microBatch).toBe(4);
    expect(plan.gradAccum).toBe(6);
    expect(plan.estimate.totalBytes).toBeLessThanOrEqual(usable);
    // Two ranks: each runs 12 rows a step.
    const two = planTrainBatch(input, 24, 2, budget);
    expect(two.microBatch * two.gradAccum * 2).toBe(24);
    expect(two.microBatch).toBe(4);
    expect(() => planTrainBatch(input, 24, 1, { ...budget, usableBytes: at(1) - 1 })).toThrow(/not even a micro-batch of 1 row of 4096 tokens fits: the step needs about .* GiB.*weights .*activations .*Lower --max-seq-len/);
  });

  it('checkpointing keeps one layer and the layer inputs (on CUDA in pinned host memory); without it every adapted layer', async () => {
    const arch = await loadArchConfig(join(MODEL_FIXTURES, 'llama'));
    const base = { ...stepBase(arch), microBatch: 2, seqLen: 1024 };
    const on = estimateStepMemory(base);
    const off = estimateStepMemory({ ...base, gradientCheckpointing: false });
    const frozen = estimateStepMemory({ ...base, gradientCheckpointing: false, freezeLayers: 1 });
    expect(off.activationBytes).toBeGreaterThan(on.activationBytes);
    expect(frozen.activationBytes).toBeCloseTo((off.activationBytes * (arch.numLayers - 1)) / arch.numLayers, 0);
    const cuda = estimateStepMemory({ ...base, device: 'cuda', dtypeBytes: 2 });
    expect(cuda.hostActivationBytes).toBe(arch.numLayers * 2 * 1024 * arch.hiddenSize * 2);
    expect(estimateStepMemory({ ...base, loraDropout: 0.1 }).activationBytes).toBeGreaterThan(on.activationBytes);
  });

  it('the free-memory margin: 10% on CPU, at least 1 GiB on CUDA; unknown free memory plans without a limit', () => {
    expect(memoryBudget('cpu', 10 * GiB).usableBytes).toBeCloseTo(9 * GiB, 0);
    expect(memoryBudget('cuda', 4 * GiB).usableBytes).toBe(3 * GiB);
    expect(memoryBudget('cuda', 100 * GiB).usableBytes).toBeCloseTo(90 * GiB, 0);
    expect(memoryBudget('cuda', undefined).usableBytes).toBe(Infinity);
  });
});

describe('planEvalBatch', () => {
  it('the largest batch whose KV cache and prefill fit (as a scan finds it), capped at the rows', async () => {
    const arch = await loadArchConfig(join(MODEL_FIXTURES, 'qwen2'));
    const input = { arch, device: 'cuda' as const, dtypeBytes: 2, quantized: true, doubleQuant: true, promptLen: 3000, maxNewTokens: 64, loraR: 16, targets: ['q_proj', 'v_proj'] };
    const at = (b: number) => estimateEvalMemory({ ...input, batch: b }).totalBytes;
    const usable = (at(37) + at(38)) / 2;
    const budget = { device: 'cuda' as const, freeBytes: usable, marginBytes: 0, usableBytes: usable, source: 'test' };
    expect(planEvalBatch(input, 1000, budget).batch).toBe(37);
    expect(planEvalBatch(input, 20, budget).batch).toBe(20);
    const kv = estimateEvalMemory({ ...input, batch: 2 }).kvCacheBytes;
    expect(kv).toBe(2 * arch.numLayers * 2 * 3064 * arch.numKvHeads * arch.headDim * 2);
  });

  it("with the free memory unknown, eval's default batch (at most the rows), not the largest the option allows", async () => {
    const arch = await loadArchConfig(join(MODEL_FIXTURES, 'qwen2'));
    const input = { arch, device: 'cuda' as const, dtypeBytes: 2, quantized: true, doubleQuant: true, promptLen: 2000, maxNewTokens: 48, loraR: 16, targets: ['q_proj', 'v_proj'] };
    const unknown = memoryBudget('cuda', undefined);
    expect(planEvalBatch(input, 65536, unknown).batch).toBe(EVAL_DEFAULTS.batchSize);
    expect(planEvalBatch(input, 3, unknown).batch).toBe(3);
  });
});

// The memory planner (sft plan, --batch-size auto): from memory-estimate.ts's per-part estimate
// and the free memory of the device, the largest micro-batch that fits with a stated margin, and
// the gradient accumulation that keeps the requested rows per optimizer step; for generation,
// the largest prompt batch. Pure: the caller reads the model's config and the free memory.
//
// Margin: on CUDA the larger of 1 GiB and 10% of the free memory stays unplanned (the CUDA
// context, cuBLAS workspaces and the caching allocator's rounding are not in the estimate); on
// the CPU 10% of the free memory.
import { ErrorCode, SftError } from '../errors.js';
import { EVAL_DEFAULTS } from './defaults.js';
import { estimateEvalMemory, estimateStepMemory, type EvalMemoryEstimate, type EvalMemoryInput, type StepMemoryEstimate, type StepMemoryInput } from './memory-estimate.js';

const GiB = 2 ** 30;

export interface MemoryBudget {
  device: 'cpu' | 'cuda';
  /** Free bytes as read (undefined: could not be read; nothing is refused then). */
  freeBytes: number | undefined;
  /** Bytes left unplanned. */
  marginBytes: number;
  /** What the plan may use: free - margin (Infinity when free is unknown). */
  usableBytes: number;
  /** Where the free figure comes from, for the printed plan. */
  source: string;
}

export function memoryBudget(device: 'cpu' | 'cuda', freeBytes: number | undefined): MemoryBudget {
  const source = device === 'cuda' ? 'nvidia-smi, first visible GPU' : 'system memory (MemAvailable, cgroup limit)';
  if (freeBytes === undefined) return { device, freeBytes, marginBytes: 0, usableBytes: Infinity, source: `${source}: not readable` };
  const marginBytes = device === 'cuda' ? Math.max(GiB, 0.1 * freeBytes) : 0.1 * freeBytes;
  return { device, freeBytes, marginBytes, usableBytes: Math.max(0, freeBytes - marginBytes), source };
}

export interface TrainBatchPlan {
  /** Rows per optimizer step (as asked). */
  batchSize: number;
  worldSize: number;
  microBatch: number;
  gradAccum: number;
  estimate: StepMemoryEstimate;
  /** The same micro-batch with gradient checkpointing switched the other way, for comparison. */
  other: StepMemoryEstimate;
  budget: MemoryBudget;
}

/** Micro-batch sizes that divide the rows one rank runs per step, largest first. */
function microBatchCandidates(batchSize: number, worldSize: number): number[] {
  const perRank = batchSize / worldSize;
  const out: number[] = [];
  for (let m = perRank; m >= 1; m--) if (Number.isInteger(perRank / m)) out.push(m);
  return out;
}

/**
 * The largest micro-batch (a divisor of batchSize / worldSize) whose step fits the budget, and
 * the accumulation that keeps batchSize rows per step. INVALID_ARGUMENT with the figures when
 * not even one row fits.
 */
export function planTrainBatch(input: Omit<StepMemoryInput, 'microBatch'>, batchSize: number, worldSize: number, budget: MemoryBudget): TrainBatchPlan {
  if (!Number.isInteger(batchSize / worldSize)) {
    throw new SftError(`--batch-size ${batchSize} must be a multiple of --world-size ${worldSize}`, ErrorCode.InvalidArgument);
  }
  const plan = (microBatch: number): TrainBatchPlan => ({
    batchSize,
    worldSize,
    microBatch,
    gradAccum: batchSize / (worldSize * microBatch),
    estimate: estimateStepMemory({ ...input, microBatch }),
    other: estimateStepMemory({ ...input, microBatch, gradientCheckpointing: !input.gradientCheckpointing }),
    budget,
  });
  for (const m of microBatchCandidates(batchSize, worldSize)) {
    const p = plan(m);
    if (p.estimate.totalBytes <= budget.usableBytes) return p;
  }
  const one = plan(1);
  throw new SftError(
    `not even a micro-batch of 1 row of ${input.seqLen} tokens fits: the step needs about ${gib(one.estimate.totalBytes)} and ${gib(budget.usableBytes)} is usable ` +
      `(${budget.freeBytes === undefined ? '?' : gib(budget.freeBytes)} free on ${budget.device} less a ${gib(budget.marginBytes)} margin). ${describeStep(one.estimate)}. ` +
      'Lower --max-seq-len or --lora-r, keep gradient checkpointing on, or use 4-bit weights (--quant nf4)',
    ErrorCode.InvalidArgument,
  );
}

export interface EvalBatchPlan {
  batch: number;
  estimate: EvalMemoryEstimate;
  budget: MemoryBudget;
}

/**
 * The largest generation batch (1..maxBatch) that fits the budget; INVALID_ARGUMENT when one
 * prompt does not. With the free memory unknown nothing bounds it, so the plan keeps eval's
 * default batch (at most maxBatch) rather than the largest the option allows.
 */
export function planEvalBatch(input: Omit<EvalMemoryInput, 'batch'>, maxBatch: number, budget: MemoryBudget): EvalBatchPlan {
  if (!Number.isFinite(budget.usableBytes)) {
    const batch = Math.min(maxBatch, EVAL_DEFAULTS.batchSize);
    return { batch, estimate: estimateEvalMemory({ ...input, batch }), budget };
  }
  const fits = (b: number) => estimateEvalMemory({ ...input, batch: b }).totalBytes <= budget.usableBytes;
  if (!fits(1)) {
    const e = estimateEvalMemory({ ...input, batch: 1 });
    throw new SftError(
      `not even one prompt of ${input.promptLen} tokens (+ ${input.maxNewTokens} new) fits: generation needs about ${gib(e.totalBytes)} and ${gib(budget.usableBytes)} is usable. ${describeEval(e)}`,
      ErrorCode.InvalidArgument,
    );
  }
  let lo = 1; // fits
  let hi = maxBatch + 1; // first size known not to fit (or beyond the range)
  if (fits(maxBatch)) lo = maxBatch;
  else {
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (fits(mid)) lo = mid;
      else hi = mid;
    }
  }
  return { batch: lo, estimate: estimateEvalMemory({ ...input, batch: lo }), budget };
}

export const gib = (bytes: number): string => (Number.isFinite(bytes) ? `${(bytes / GiB).toFixed(2)} GiB` : 'unlimited');

/** One line naming each part of a step's estimate. */
export function describeStep(e: StepMemoryEstimate): string {
  return (
    `weights ${gib(e.weightBytes)}, LoRA + gradients + AdamW ${gib(e.loraBytes)}, activations ${gib(e.activationBytes)}` +
    `${e.hostActivationBytes > 0 ? ` (+ ${gib(e.hostActivationBytes)} of layer inputs in pinned host memory)` : ''}, workspace ${gib(e.workspaceBytes)}, loss chunks ${gib(e.lossBytes)}`
  );
}

export function describeEval(e: EvalMemoryEstimate): string {
  return `weights ${gib(e.weightBytes)}, LoRA ${gib(e.loraBytes)}, KV cache ${gib(e.kvCacheBytes)}, prefill workspace ${gib(e.workspaceBytes)}, logits ${gib(e.logitsBytes)}`;
}

/** The plan as printed before training starts. */
export function formatTrainPlan(p: TrainBatchPlan, checkpointing: boolean): string[] {
  const b = p.budget;
  return [
    `memory plan (${b.device}): ${b.freeBytes === undefined ? 'free memory unknown' : `${gib(b.freeBytes)} free (${b.source}), ${gib(b.marginBytes)} margin, ${gib(b.usableBytes)} usable`}`,
    `  micro-batch ${p.microBatch} x grad-accum ${p.gradAccum}${p.worldSize > 1 ? ` x ${p.worldSize} ranks` : ''} = ${p.batchSize} rows per step`,
    `  step estimate ${gib(p.estimate.totalBytes)} with checkpointing ${checkpointing ? 'on' : 'off'}: ${describeStep(p.estimate)}`,
    `  with checkpointing ${checkpointing ? 'off' : 'on'}: ${gib(p.other.totalBytes)} (activations ${gib(p.other.activationBytes)})`,
  ];
}

export function formatEvalPlan(p: EvalBatchPlan): string[] {
  const b = p.budget;
  return [
    Number.isFinite(b.usableBytes)
      ? `generation plan (${b.device}): batch ${p.batch}, estimate ${gib(p.estimate.totalBytes)} of ${gib(b.usableBytes)} usable: ${describeEval(p.estimate)}`
      : `generation plan (${b.device}): batch ${p.batch} (free memory unknown: eval's default batch), estimate ${gib(p.estimate.totalBytes)}: ${describeEval(p.estimate)}`,
  ];
}

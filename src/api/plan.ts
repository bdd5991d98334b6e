// planMemory() (`sft plan`) and --batch-size auto: reads a model's config.json, works out the
// device, compute dtype and weight storage a run would use (the rules of loadModel's defaults),
// reads the free memory (GPU: nvidia-smi; CPU: system memory) and asks config/memory-plan.ts for
// the micro-batch, accumulation and generation batch that fit. No weights are loaded.
import { join } from 'node:path';
import { z } from 'zod';
import { DATA_DEFAULTS, DEFAULT_FUSED_LORA_TARGETS, DEFAULT_LORA_TARGETS, EVAL_DEFAULTS, LOOP_DEFAULTS, LORA_DEFAULTS, OPTIMIZER_DEFAULTS, QUANTIZE_DEFAULTS } from '../config/defaults.js';
import type { ArchConfig } from '../config/arch.js';
import { loadArchConfig, readJsonFile } from '../config/hf-config.js';
import { freeCpuBytes, freeGpuBytes, type StepMemoryInput } from '../config/memory-estimate.js';
import { formatEvalPlan, formatTrainPlan, memoryBudget, planEvalBatch, planTrainBatch, type EvalBatchPlan, type MemoryBudget, type TrainBatchPlan } from '../config/memory-plan.js';
import { numberIn, OPTION_RANGES as R } from '../config/option-ranges.js';
import { parseOptions } from '../config/parse-options.js';
import type { SameShape } from '../config/same-shape.js';
import { readPeftAdapterConfig } from '../engine/adapter-config.js';
import { native } from '../native.js';
import { resolveModelForRun } from './model-source.js';
import type { RunControl } from './progress.js';

const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj', 'qkv_proj', 'gate_up_proj'] as const;

export const planOptionsSchema = z
  .object({
    model: z.string().min(1),
    device: z.enum(['cpu', 'cuda']).optional(),
    dtype: z.enum(['float32', 'bfloat16', 'float16']).optional(),
    quant: z.enum(['none', 'nf4', 'fp4']).optional(),
    maxSeqLen: numberIn(R.maxSeqLen).default(DATA_DEFAULTS.maxSeqLen),
    batchSize: numberIn(R.batchSize).default(LOOP_DEFAULTS.batchSize),
    worldSize: numberIn(R.worldSize).default(LOOP_DEFAULTS.worldSize),
    loraR: numberIn(R.loraR).default(LORA_DEFAULTS.r),
    loraTargets: z.array(z.enum(LORA_TARGETS)).nonempty().optional(),
    loraDropout: z.number().min(0).lt(1).default(LORA_DEFAULTS.dropout),
    freezeLayers: z.number().int().min(0).default(0),
    gradientCheckpointing: z.boolean().default(OPTIMIZER_DEFAULTS.gradientCheckpointing),
    maxNewTokens: numberIn(R.maxNewTokens).default(EVAL_DEFAULTS.maxNewTokens),
  })
  .strict();

/** planMemory(options): what `sft plan` prints. */
export interface PlanOptions {
  /** Preset, Hub repo id, local checkpoint folder or 'demo' (only config.json is read). */
  model: string;
  /** @default cuda when available, else cpu */
  device?: 'cpu' | 'cuda';
  /** @default float32 on cpu, bfloat16 on cuda */
  dtype?: 'float32' | 'bfloat16' | 'float16';
  /** Base weight storage. @default nf4 on cuda, none on cpu (bnb-4bit checkpoints: 4-bit) */
  quant?: 'none' | 'nf4' | 'fp4';
  /** Tokens per row (every row is planned as this long). @default 2048 */
  maxSeqLen?: number;
  /** Rows per optimizer step (the effective batch the accumulation keeps). @default 16 */
  batchSize?: number;
  /** Data-parallel ranks (each runs batchSize / worldSize rows per step). @default 1 */
  worldSize?: number;
  /** @default 16 */
  loraR?: number;
  /** @default ['q_proj', 'k_proj', 'v_proj'] (Phi-3: ['qkv_proj']) */
  loraTargets?: (typeof LORA_TARGETS)[number][];
  /** Dropout masks are kept for backward when > 0. @default 0 */
  loraDropout?: number;
  /** Layers without adapters (nothing kept for them). @default 0 */
  freezeLayers?: number;
  /** @default true */
  gradientCheckpointing?: boolean;
  /** New tokens per prompt when generating (eval). @default 3 */
  maxNewTokens?: number;
}
const planSchemaMatches: SameShape<PlanOptions, z.input<typeof planOptionsSchema>> = true;
void planSchemaMatches;
type ResolvedPlanOptions = z.output<typeof planOptionsSchema>;

export interface MemoryPlan {
  model: string;
  family: string;
  device: 'cpu' | 'cuda';
  dtype: 'float32' | 'bfloat16' | 'float16';
  quantized: boolean;
  seqLen: number;
  budget: MemoryBudget;
  train: TrainBatchPlan;
  eval: EvalBatchPlan;
}

/** The device, dtype and weight storage a run with these options would use, and the free memory there. */
export interface PlanSetup {
  arch: ArchConfig;
  device: 'cpu' | 'cuda';
  dtype: 'float32' | 'bfloat16' | 'float16';
  quantized: boolean;
  budget: MemoryBudget;
}

export async function planSetup(modelDir: string, o: { device?: 'cpu' | 'cuda' | undefined; dtype?: 'float32' | 'bfloat16' | 'float16' | undefined; quant?: 'none' | 'nf4' | 'fp4' | undefined }): Promise<PlanSetup> {
  const info = native().buildInfo();
  const device = o.device ?? (info.cudaBuilt && info.cudaAvailable ? 'cuda' : 'cpu');
  const dtype = o.dtype ?? (device === 'cuda' ? 'bfloat16' : 'float32');
  const config = (await readJsonFile(`${modelDir}/config.json`)) as { quantization_config?: unknown };
  const quantized = (o.quant ?? (device === 'cuda' ? 'nf4' : 'none')) !== 'none' || config.quantization_config != null;
  const arch = await loadArchConfig(modelDir);
  return { arch, device, dtype, quantized, budget: memoryBudget(device, device === 'cuda' ? freeGpuBytes() : freeCpuBytes()) };
}

/** The step estimate's inputs for a run's options (microBatch chosen by the planner). */
export function stepInput(
  s: PlanSetup,
  o: { loraR: number; loraTargets?: readonly string[] | undefined; loraDropout: number; freezeLayers: number; gradientCheckpointing: boolean },
  seqLen: number,
): Omit<StepMemoryInput, 'microBatch'> {
  return {
    arch: s.arch,
    device: s.device,
    dtypeBytes: s.dtype === 'float32' ? 4 : 2,
    quantized: s.quantized,
    doubleQuant: QUANTIZE_DEFAULTS.doubleQuant,
    seqLen,
    loraR: o.loraR,
    targets: o.loraTargets ?? (s.arch.fusedQkv ? DEFAULT_FUSED_LORA_TARGETS : DEFAULT_LORA_TARGETS),
    freezeLayers: o.freezeLayers,
    loraDropout: o.loraDropout,
    gradientCheckpointing: o.gradientCheckpointing,
  };
}

/** The largest generation batch for prompts of promptLen tokens (eval --batch-size auto); at most maxBatch. */
export function evalBatchPlan(s: PlanSetup, o: { loraR: number; loraTargets?: readonly string[] | undefined; maxNewTokens: number }, promptLen: number, maxBatch: number): EvalBatchPlan {
  return planEvalBatch(
    {
      arch: s.arch,
      device: s.device,
      dtypeBytes: s.dtype === 'float32' ? 4 : 2,
      quantized: s.quantized,
      doubleQuant: QUANTIZE_DEFAULTS.doubleQuant,
      promptLen,
      maxNewTokens: o.maxNewTokens,
      loraR: o.loraR,
      targets: o.loraTargets ?? (s.arch.fusedQkv ? DEFAULT_FUSED_LORA_TARGETS : DEFAULT_LORA_TARGETS),
    },
    maxBatch,
    s.budget,
  );
}

/** What a run of `model` with these options needs: the training micro-batch and accumulation, and the generation batch. */
export async function planMemory(options: PlanOptions, control: RunControl = {}): Promise<MemoryPlan> {
  const o: ResolvedPlanOptions = parseOptions(planOptionsSchema, options, 'plan options');
  const { dir } = await resolveModelForRun(o.model, control);
  const s = await planSetup(dir, o);
  const promptLen = Math.max(1, o.maxSeqLen - o.maxNewTokens);
  return {
    model: o.model,
    family: s.arch.family,
    device: s.device,
    dtype: s.dtype,
    quantized: s.quantized,
    seqLen: o.maxSeqLen,
    budget: s.budget,
    train: planTrainBatch(stepInput(s, o, o.maxSeqLen), o.batchSize, o.worldSize, s.budget),
    eval: evalBatchPlan(s, o, promptLen, R.batchSize.max),
  };
}

/** train() with autoBatch: the plan for rows of seqLen tokens and the lines that report it. */
export async function autoTrainBatch(
  modelDir: string,
  o: Parameters<typeof planSetup>[1] & Parameters<typeof stepInput>[1] & { batchSize: number; worldSize: number },
  seqLen: number,
): Promise<TrainBatchPlan & { lines: string[] }> {
  const s = await planSetup(modelDir, o);
  const plan = planTrainBatch(stepInput(s, o, seqLen), o.batchSize, o.worldSize, s.budget);
  return { ...plan, lines: formatTrainPlan(plan, o.gradientCheckpointing) };
}

/** evaluate() with autoBatch: the generation batch for the longest prompt (at most one batch of all the prompts), reported through onProgress. */
export async function autoEvalBatch(
  modelDir: string,
  o: Parameters<typeof planSetup>[1] & { maxNewTokens: number; adapter?: string | undefined },
  prompts: readonly number[][],
  control: RunControl = {},
): Promise<number> {
  const s = await planSetup(modelDir, o);
  const spec = o.adapter !== undefined ? (await readPeftAdapterConfig(join(o.adapter, 'adapter_config.json'))).spec : undefined;
  const promptLen = prompts.reduce((n, p) => Math.max(n, p.length), 1);
  const plan = evalBatchPlan(s, { loraR: spec?.r ?? 0, loraTargets: spec?.targets, maxNewTokens: o.maxNewTokens }, promptLen, Math.max(1, prompts.length));
  control.onProgress?.({ phase: 'model', message: formatEvalPlan(plan).join('\n') });
  return plan.batch;
}

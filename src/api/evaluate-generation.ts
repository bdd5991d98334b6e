// evaluateGeneration() (sft eval --task generate): open-ended generation on held-out instruction
// rows (alpaca, ShareGPT, chat messages, prompt/completion), scored against each row's reference
// answer with ROUGE-1/2/L/Lsum and corpus BLEU. Prompts are rendered exactly as training renders
// them (the instruction template, or --chat's chat template) up to the answer; generation is
// greedy unless a temperature / top-k / top-p is given, and stops at any EOS id of the model and
// at the chat template's end-of-turn token. With --compare, the base model is scored first
// (before training), then the adapter (after).
import { z } from 'zod';
import { evalOptionsSchema } from '../config/run-options.js';
import type { EvalOptions } from '../config/option-types.js';
import { numberIn, OPTION_RANGES } from '../config/option-ranges.js';
import { parseOptions } from '../config/parse-options.js';
import type { SameShape } from '../config/same-shape.js';
import { loadArchConfig } from '../config/hf-config.js';
import { loadGenerationDefaults } from '../config/generation.js';
import { referenceResponse, type InstructionExample } from '../data/instruction-example.js';
import type { InstructionBuilder } from '../data/instruction-builder.js';
import { checkAdapterFits } from '../engine/adapter-fit.js';
import { describeDecoding, samplingOptionFields, type SamplingOptions } from '../engine/sampling.js';
import { ErrorCode, SftError } from '../errors.js';
import { GENERATION_METRICS, scoreGenerations, type GenerationMetric, type GenerationPredictionLine } from '../eval/generation-task.js';
import { generationReportMarkdown, type GenerationEvalReport } from '../eval/generation-task-report.js';
import { stopTokenIds } from '../eval/generation-task-stop-ids.js';
import type { SkippedRow } from '../eval/report-types.js';
import { checkOutputPath } from '../io/output-path.js';
import { loadInstructionData, loadTaskData, type DataOptions } from './dataset.js';
import { chooseSplit, writeReportFiles } from './evaluate.js';
import { autoEvalBatch } from './plan.js';
import { scoreBeforeAfter } from './score-states.js';
import { resolveModelForRun } from './model-source.js';
import type { RunControl } from './progress.js';
import { instructionSetup, loadRunModel } from './task-setup.js';

/** The open-ended task's new-token budget per row (the seed's experiment: 256). */
export const GENERATION_EVAL_MAX_NEW_TOKENS = 256;

/** evaluateGeneration(options): evaluate()'s options, with generation's budget, sampling and metrics. */
export interface GenerationEvalOptions extends Omit<EvalOptions, 'maxNewTokens'>, Omit<SamplingOptions, 'seed'> {
  /** New tokens generated per held-out row (fewer when an EOS comes first). @default 256 */
  maxNewTokens?: number;
  /** Scores computed against the reference answers. @default ['rouge', 'bleu'] (both) */
  metrics?: GenerationMetric[];
}

export const generationEvalOptionsSchema = z
  .object({
    ...evalOptionsSchema.shape,
    maxNewTokens: numberIn(OPTION_RANGES.maxNewTokens).default(GENERATION_EVAL_MAX_NEW_TOKENS),
    metrics: z.array(z.enum(GENERATION_METRICS)).nonempty().optional(),
    temperature: samplingOptionFields.temperature,
    topK: samplingOptionFields.topK,
    topP: samplingOptionFields.topP,
  })
  .strict()
  .refine((o) => !o.compare || o.adapter !== undefined, { message: 'needs an adapter to compare with', path: ['compare'] });
const generationEvalSchemaMatches: SameShape<GenerationEvalOptions, z.input<typeof generationEvalOptionsSchema>> = true;
void generationEvalSchemaMatches;

export interface GenerationEvalResult {
  report: GenerationEvalReport;
  predictions: GenerationPredictionLine[];
  /** Files written (with `out`). */
  files: string[];
}

/** Which task `sft eval` runs on this data: 'generate' for instruction rows, 'label' for text + label rows. */
export async function evalTaskOf(o: DataOptions): Promise<'label' | 'generate'> {
  return (await loadTaskData(o, 'eval')).kind === 'label' ? 'label' : 'generate';
}

/** Prompt ids of the rows the builder can render within the context; the others as skipped rows. */
async function generationPrompts(builder: InstructionBuilder, examples: readonly InstructionExample[], room: number) {
  const ok: InstructionExample[] = [];
  const skipped: SkippedRow[] = [];
  for (const e of examples) {
    try {
      builder.promptText(e);
      ok.push(e);
    } catch (err) {
      if (!(err instanceof SftError)) throw err;
      skipped.push({ file: e.file, row: e.row, reason: err.message });
    }
  }
  const ids = await builder.promptIds(ok);
  const kept: { example: InstructionExample; ids: number[] }[] = [];
  ok.forEach((example, i) => {
    const p = ids[i] as number[];
    if (p.length > room) skipped.push({ file: example.file, row: example.row, reason: `prompt of ${p.length} tokens leaves no room for the new tokens within the model's context` });
    else kept.push({ example, ids: p });
  });
  return { kept, skipped };
}

export async function evaluateGeneration(options: GenerationEvalOptions, control: RunControl = {}): Promise<GenerationEvalResult> {
  const o = parseOptions(generationEvalOptionsSchema, options, 'eval options');
  if (o.out !== undefined) checkOutputPath(o.out, 'folder');
  const { dir: modelDir } = await resolveModelForRun(o.model, control);
  const arch = await loadArchConfig(modelDir);
  if (o.adapter !== undefined) await checkAdapterFits(o.adapter, { dir: modelDir, arch });
  const data = await loadInstructionData(o, 'eval');
  const split = chooseSplit(o);
  const examples = split === 'all' ? [...data.train, ...data.val, ...data.test] : data[split];
  const { tokenizer, template, builder } = await instructionSetup(modelDir, o, control);
  const { kept, skipped } = await generationPrompts(builder, examples, arch.maxPositionEmbeddings - o.maxNewTokens);
  if (kept.length === 0) {
    throw new SftError(`no rows to evaluate in ${data.source} (split '${split}', ${data.skipped.length + skipped.length} rows skipped${skipped[0] ? `; the first: ${skipped[0].reason}` : ''})`, ErrorCode.InvalidArgument);
  }
  control.onProgress?.({ phase: 'data', message: `${kept.length} ${data.format} rows from ${data.source} (split ${split}; ${data.skipped.length + skipped.length} skipped)` });
  const metrics = o.metrics ?? [...GENERATION_METRICS];
  const sampling = { temperature: o.temperature, topK: o.topK, topP: o.topP, seed: o.seed };
  const eosTokenIds = await stopTokenIds(tokenizer, (await loadGenerationDefaults(modelDir)).eosTokenIds);
  const prompts = kept.map((k) => k.ids);
  // --batch-size auto: the largest generation batch for the longest prompt that fits (api/plan.ts).
  const batchSize = o.autoBatch ? await autoEvalBatch(modelDir, o, prompts, control) : o.batchSize;
  const model = await loadRunModel(modelDir, o);
  const allSkipped = [...data.skipped, ...skipped];
  const report: GenerationEvalReport = {
    kind: 'sft-eval-generate',
    model: o.model,
    modelDir,
    data: data.source,
    format: data.format,
    settings: {
      split,
      batchSize,
      maxNewTokens: o.maxNewTokens,
      decoding: describeDecoding(sampling),
      ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
      ...(o.topK !== undefined ? { topK: o.topK } : {}),
      ...(o.topP !== undefined ? { topP: o.topP } : {}),
      seed: o.seed,
      metrics,
      template: o.chat ? (template ? `${template.name} inside the chat template` : 'chat template') : template?.name,
      chat: o.chat,
      maxSeqLen: o.maxSeqLen,
      valSplit: o.valSplit,
      testSplit: o.testSplit,
      ...(o.limit !== undefined ? { limit: o.limit } : {}),
      device: model.info().device,
      stopTokenIds: eosTokenIds,
    },
    skipped_rows: allSkipped.length,
    skipped: allSkipped,
    created: new Date().toISOString(),
  };
  const rows = kept.map((k) => ({ file: k.example.file, row: k.example.row, reference: referenceResponse(k.example) }));
  const { predictions, ...states } = await scoreBeforeAfter(model, o, (which) =>
    scoreGenerations(model, tokenizer, prompts, rows, {
      batchSize,
      maxNewTokens: o.maxNewTokens,
      generate: { ...sampling, eosTokenIds },
      metrics,
      which,
      onBatch: (done, total) => control.onProgress?.({ phase: 'eval', which, done, total }),
      ...(control.signal ? { signal: control.signal } : {}),
    }),
  );
  Object.assign(report, states);
  const files = o.out ? await writeReportFiles(o.out, report, generationReportMarkdown(report), predictions) : [];
  return { report, predictions, files };
}

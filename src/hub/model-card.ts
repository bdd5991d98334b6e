// The README.md (model card) `sft push` uploads: the Hub's YAML metadata (base_model,
// library_name, pipeline_tag, tags) and what a reader of the repo looks for: the base model,
// the data, the training recipe and the before/after evaluation, taken from the run's own files
// (run.json, eval.json, adapter_config.json). Not for: reading those files (the caller does).
// Local paths are reduced to their last component: a card is public, the user's folders are not.
import { basename } from 'node:path';
import type { GenerationEvalReport } from '../eval/generation-task-report.js';
import type { GenerationMetrics } from '../eval/generation-task.js';
import type { EvalMetrics, EvalReport, RunRecord } from '../eval/report-types.js';
import { findPreset } from './presets.js';
import { isRepoId } from './repo-id.js';

export interface ModelCardInput {
  /** The repo the card is for, org/name. */
  repo: string;
  /** A PEFT adapter or a merged 16-bit checkpoint. */
  kind: 'adapter' | 'merged';
  /** adapter_config.json, when there is one. */
  adapterConfig?: Record<string, unknown>;
  run?: RunRecord;
  eval?: EvalReport;
  /** eval.json of a generation-task evaluation (instruction data: ROUGE / BLEU). */
  generationEval?: GenerationEvalReport;
}

/**
 * `model` as a Hub repo id: a preset's repo, or an org/name that resolved into the Hugging Face
 * cache (a relative folder such as runs/base also reads as org/name; its resolved folder tells).
 */
function hubRepoOf(model: unknown, resolvedDir?: string): string | undefined {
  if (typeof model !== 'string' || model === '') return undefined;
  const preset = findPreset(model);
  if (preset) return preset.repo;
  if (!isRepoId(model)) return undefined;
  return resolvedDir === undefined || resolvedDir.includes(`models--${model.replace('/', '--')}`) ? model : undefined;
}

/** The base model as a Hub repo id, else undefined. */
export function baseModelRepo(input: ModelCardInput): string | undefined {
  return (
    (input.run ? hubRepoOf(input.run.model.input, input.run.model.dir) : undefined) ??
    (input.eval ? hubRepoOf(input.eval.model, input.eval.modelDir) : undefined) ??
    (input.run || input.eval ? undefined : hubRepoOf(input.adapterConfig?.base_model_name_or_path))
  );
}

/** A base model that is not on the Hub, named without the user's folders. */
function baseModelLabel(input: ModelCardInput): string {
  const repo = baseModelRepo(input);
  if (repo) return `[${repo}](https://huggingface.co/${repo})`;
  const local = input.run?.model.input ?? input.eval?.model ?? (input.adapterConfig?.base_model_name_or_path as string | undefined);
  if (local === 'demo') return "node-qlora's bundled demo model";
  return local ? `a local checkpoint (\`${basename(local)}\`)` : 'not recorded';
}

const cell = (v: unknown): string => String(v).replace(/\|/g, '\\|').replace(/\n/g, ' ');
const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
const shownPath = (p: string): string => (p === 'demo' ? 'demo (bundled)' : basename(p));

function table(header: string[], rows: unknown[][]): string {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

function frontMatter(input: ModelCardInput): string {
  const base = baseModelRepo(input);
  const lines = ['---'];
  if (base) lines.push(`base_model: ${base}`);
  lines.push(`library_name: ${input.kind === 'adapter' ? 'peft' : 'transformers'}`);
  lines.push(`pipeline_tag: ${input.adapterConfig?.task_type === 'SEQ_CLS' ? 'text-classification' : 'text-generation'}`);
  lines.push('tags:');
  for (const tag of ['node-qlora', 'sft', input.kind === 'adapter' ? 'lora' : 'merged-lora', ...(base && input.kind === 'adapter' ? [`base_model:adapter:${base}`] : [])]) {
    lines.push(`- ${tag}`);
  }
  lines.push('---');
  return lines.join('\n');
}

function dataSection(run: RunRecord | undefined, report: EvalReport | undefined): string {
  if (!run && !report) return 'Not recorded (no run.json or eval.json next to the uploaded files).';
  const c = run?.config ?? report?.settings ?? {};
  const rows: unknown[][] = [];
  if (run) {
    rows.push(['source', shownPath(run.data.source)], ['rows (train / val / test)', `${run.data.train} / ${run.data.val} / ${run.data.test}`]);
    rows.push(['rows skipped', run.data.skipped_rows]);
  } else if (report) {
    rows.push(['source', shownPath(report.data)]);
  }
  for (const key of ['format', 'template', 'chat', 'labelMap', 'maxSeqLen', 'valSplit', 'testSplit', 'limit', 'seed']) {
    if (c[key] !== undefined) rows.push([key, key === 'template' && typeof c[key] === 'string' ? basename(c[key]) : c[key]]);
  }
  return table(['data', 'value'], rows);
}

/** The recipe's settings, in the order a reader compares them with another run's. */
const RECIPE_KEYS = [
  'task', 'quant', 'dtype', 'device', 'loraR', 'loraAlpha', 'loraDropout', 'loraTargets', 'useRslora', 'freezeLayers', 'lr', 'schedule', 'warmupSteps',
  'weightDecay', 'beta1', 'beta2', 'eps', 'maxGradNorm', 'batchSize', 'gradAccum', 'microBatch', 'epochs', 'maxSteps', 'totalSteps', 'gradientCheckpointing',
  'worldSize',
];

function recipeSection(input: ModelCardInput): string {
  const run = input.run;
  const rows: unknown[][] = [];
  if (run) {
    for (const key of RECIPE_KEYS) {
      const v = run.config[key];
      if (v !== undefined && v !== null) rows.push([key, Array.isArray(v) ? v.join(', ') : v]);
    }
    if (run.result) {
      rows.push(['steps trained', run.result.steps]);
      if (run.result.finalLoss !== null) rows.push(['final loss', run.result.finalLoss.toFixed(4)]);
      rows.push(['training time', `${run.result.trainSeconds.toFixed(1)} s`]);
      if (run.result.peakMemoryGiB !== undefined) rows.push(['peak GPU memory', `${run.result.peakMemoryGiB.toFixed(1)} GiB`]);
    }
    for (const [name, version] of Object.entries(run.versions)) rows.push([name, version]);
  } else if (input.adapterConfig) {
    const a = input.adapterConfig;
    for (const [label, key] of [['loraR', 'r'], ['loraAlpha', 'lora_alpha'], ['loraDropout', 'lora_dropout'], ['loraTargets', 'target_modules'], ['useRslora', 'use_rslora']] as const) {
      const v = a[key];
      if (v !== undefined && v !== null) rows.push([label, Array.isArray(v) ? v.join(', ') : v]);
    }
  }
  if (rows.length === 0) return 'Not recorded (no run.json next to the uploaded files).';
  return `${run ? 'QLoRA supervised fine-tuning with node-qlora (`sft train`); the settings as run.json recorded them:\n\n' : 'From adapter_config.json (no run.json next to the uploaded files):\n\n'}${table(['setting', 'value'], rows)}`;
}

function metricsRow(label: string, m: EvalMetrics): unknown[] {
  return [label, pct(m.acc), pct(m.resp_acc), m.n];
}

/** A classifier's row (sft eval --task classify): accuracy, log loss, macro F1. */
function classifyRow(label: string, m: EvalMetrics): unknown[] {
  return [label, pct(m.acc), m.log_loss === undefined ? '-' : m.log_loss.toFixed(4), m.macro_f1 === undefined ? '-' : m.macro_f1.toFixed(4), m.n];
}

/** An instruction-data row (sft eval on prompt / response rows): ROUGE F-measures and corpus BLEU. */
function generationRow(label: string, m: GenerationMetrics): unknown[] {
  const f = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(4));
  return [label, f(m.rouge?.rouge1), f(m.rouge?.rouge2), f(m.rouge?.rougeL), f(m.rouge?.rougeLsum), m.bleu ? m.bleu.score.toFixed(2) : '-', m.n];
}

function evalSection(input: ModelCardInput): string {
  const g = input.generationEval;
  if (g && (g.base || g.adapter)) {
    const rows: unknown[][] = [];
    if (g.base) rows.push(generationRow(input.kind === 'merged' ? 'base model' : 'base model (before training)', g.base));
    if (g.adapter) rows.push(generationRow(input.kind === 'merged' ? 'after training (the adapter merged here, scored on its base)' : 'with this adapter (after training)', g.adapter));
    const split = typeof g.settings.split === 'string' ? ` (split: ${g.settings.split})` : '';
    return `\`sft eval\` on ${shownPath(g.data)}${split}, ${g.created.slice(0, 10)}: the model's generations for the held-out prompts against the reference responses (ROUGE F-measures as rouge-score, mean over rows; corpus BLEU as sacrebleu).\n\n${table(['model', 'ROUGE-1', 'ROUGE-2', 'ROUGE-L', 'ROUGE-Lsum', 'BLEU', 'n'], rows)}`;
  }
  const r = input.eval;
  if (r && (r.base || r.adapter)) {
    const rows: unknown[][] = [];
    const classify = r.task === 'classify';
    const row = classify ? classifyRow : metricsRow;
    if (r.base) rows.push(row(`${input.kind === 'merged' ? 'base model' : 'base model (before training)'}${classify ? ', untrained random head' : ''}`, r.base));
    if (r.adapter) rows.push(row(input.kind === 'merged' ? 'after training (the adapter merged here, scored on its base)' : 'with this adapter (after training)', r.adapter));
    const split = typeof r.settings.split === 'string' ? ` (split: ${r.settings.split})` : '';
    const delta = r.base && r.adapter ? `\n\nacc ${r.adapter.acc >= r.base.acc ? '+' : ''}${((r.adapter.acc - r.base.acc) * 100).toFixed(2)} points after training.` : '';
    if (classify) {
      return `\`sft eval --task classify\` on ${shownPath(r.data)}${split}, ${r.created.slice(0, 10)}: the score head's class probabilities at each row's last token (acc: correct / n; log loss: natural log, mean over rows, as scikit-learn's log_loss; macro F1).\n\n${table(['model', 'acc', 'log loss', 'macro F1', 'n'], rows)}${delta}`;
    }
    return `\`sft eval\` on ${shownPath(r.data)}${split}, ${r.created.slice(0, 10)}: greedy generation, the label parsed from the output (acc: correct / n; resp_acc: outputs holding a valid label / n).\n\n${table(['model', 'acc', 'resp_acc', 'n'], rows)}${delta}`;
  }
  if (input.run?.result?.val) return `Validation rows at the end of training:\n\n${table(['model', 'acc', 'resp_acc', 'n'], [metricsRow('with this adapter', input.run.result.val)])}`;
  return 'No evaluation recorded (run `sft eval --compare --out RUN_DIR` before pushing to add the before/after table).';
}

function usageSection(input: ModelCardInput): string {
  if (input.kind === 'adapter') {
    return [
      'A PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors):',
      '',
      '```python',
      'from peft import AutoPeftModelForCausalLM',
      `model = AutoPeftModelForCausalLM.from_pretrained("${input.repo}")`,
      '```',
    ].join('\n');
  }
  return ['A 16-bit checkpoint with the adapter merged in:', '', '```python', 'from transformers import AutoModelForCausalLM', `model = AutoModelForCausalLM.from_pretrained("${input.repo}")`, '```'].join('\n');
}

export function modelCard(input: ModelCardInput): string {
  const name = input.repo.split('/')[1] ?? input.repo;
  const what = input.kind === 'adapter' ? 'A LoRA adapter' : 'A merged (adapter folded into the weights) 16-bit model';
  return [
    frontMatter(input),
    '',
    `# ${name}`,
    '',
    `${what} trained with node-qlora (QLoRA instruction tuning from Node.js).`,
    '',
    '## Base model',
    '',
    baseModelLabel(input),
    '',
    '## Data',
    '',
    dataSection(input.run, input.eval),
    '',
    '## Training recipe',
    '',
    recipeSection(input),
    '',
    '## Evaluation',
    '',
    evalSection(input),
    '',
    '## Use',
    '',
    usageSection(input),
    '',
  ].join('\n');
}

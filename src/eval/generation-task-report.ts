// The generation task's report (eval.json) and its before/after table (printed by sft eval and
// written to eval.md): ROUGE-1/2/L/Lsum, BLEU with its n-gram counts, brevity penalty and
// lengths, n, and the generation speed, one column per scored model state.
import type { SkippedRow } from './report-types.js';
import type { GenerationMetrics } from './generation-task.js';

export interface GenerationEvalReport {
  kind: 'sft-eval-generate';
  model: string;
  modelDir: string;
  data: string;
  /** The data format the rows were read as (alpaca, sharegpt, messages, prompt-completion). */
  format: string;
  /** Options the evaluation ran with (split, batch size, max new tokens, decoding, template, metrics, ...). */
  settings: Record<string, unknown>;
  /** The base model: the before-training figures. */
  base?: GenerationMetrics;
  /** With the adapter: the after-training figures. */
  adapter?: GenerationMetrics & { path: string };
  skipped_rows: number;
  skipped: SkippedRow[];
  created: string;
}

type Row = [string, (m: GenerationMetrics) => string | undefined, ((m: GenerationMetrics) => number | undefined)?];

const f4 = (x: number | undefined): string | undefined => (x === undefined ? undefined : x.toFixed(4));
const f2 = (x: number | undefined): string | undefined => (x === undefined ? undefined : x.toFixed(2));

const ROWS: Row[] = [
  ['ROUGE-1', (m) => f4(m.rouge?.rouge1), (m) => m.rouge?.rouge1],
  ['ROUGE-2', (m) => f4(m.rouge?.rouge2), (m) => m.rouge?.rouge2],
  ['ROUGE-L', (m) => f4(m.rouge?.rougeL), (m) => m.rouge?.rougeL],
  ['ROUGE-Lsum', (m) => f4(m.rouge?.rougeLsum), (m) => m.rouge?.rougeLsum],
  ['BLEU', (m) => f2(m.bleu?.score), (m) => m.bleu?.score],
  ['BLEU matches 1-4 / n-grams', (m) => m.bleu && m.bleu.counts.map((c, i) => `${c}/${m.bleu?.totals[i]}`).join(' ')],
  ['BLEU precisions 1-4 (%)', (m) => m.bleu?.precisions.map((p) => p.toFixed(1)).join(' ')],
  ['BLEU brevity penalty', (m) => f4(m.bleu?.bp), (m) => m.bleu?.bp],
  ['BLEU sys / ref length', (m) => m.bleu && `${m.bleu.sysLen} / ${m.bleu.refLen}`],
  ['new tokens', (m) => String(m.newTokens), (m) => m.newTokens],
  ['new tokens/s', (m) => m.newTokensPerSecond.toFixed(1)],
  ['n', (m) => String(m.n)],
];

/** The before/after table as markdown (a column per model state; a change column with both). */
export function generationTable(report: GenerationEvalReport): string {
  const columns: [string, GenerationMetrics][] = [];
  if (report.base) columns.push([report.adapter ? 'before (base)' : 'base', report.base]);
  if (report.adapter) columns.push([report.base ? 'after (adapter)' : 'adapter', report.adapter]);
  const both = report.base && report.adapter ? ([report.base, report.adapter] as const) : undefined;
  const header = ['metric', ...columns.map(([name]) => name), ...(both ? ['change'] : [])];
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`];
  for (const [name, show, value] of ROWS) {
    const cells = columns.map(([, m]) => show(m));
    if (cells.every((c) => c === undefined)) continue;
    let change = '';
    if (both && value) {
      const [a, b] = [value(both[0]), value(both[1])];
      if (a !== undefined && b !== undefined) change = `${b - a >= 0 ? '+' : ''}${name === 'BLEU' ? (b - a).toFixed(2) : name === 'new tokens' ? String(b - a) : (b - a).toFixed(4)}`;
    }
    lines.push(`| ${[name, ...cells.map((c) => c ?? '-'), ...(both ? [change] : [])].join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
}

/** eval.md: what was scored, how it was generated, the table. */
export function generationReportMarkdown(report: GenerationEvalReport): string {
  const s = report.settings;
  return [
    `# sft eval (generation): ${report.model}`,
    '',
    `Data: ${report.data} (${report.format}, split ${String(s.split)}; ${report.skipped_rows} rows skipped)`,
    `Decoding: ${String(s.decoding)}, at most ${String(s.maxNewTokens)} new tokens; prompt: ${String(s.template)}`,
    ...(report.adapter ? [`Adapter: ${report.adapter.path}`] : []),
    '',
    generationTable(report),
    'ROUGE: rouge-score F-measures, the mean over rows. BLEU: sacrebleu corpus BLEU (13a, exp smoothing).',
    '',
  ].join('\n');
}

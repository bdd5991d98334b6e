// `sft report`: one self-contained HTML page about a run directory: the run's configuration,
// training curves (loss, learning rate, gradient norm) as inline SVG, and the before/after
// evaluation with its confusion matrices. No scripts, fonts or links to other files: the page
// is meant to be mailed, attached to an issue or opened offline, and to show as it is written.
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ErrorCode, SftError } from '../errors.js';
import { escapeHtml, htmlTable } from './html.js';
import {
  SKIPPED_SHOWN,
  beforeAfterHeader,
  beforeAfterRow,
  confusionNote,
  detailsTable,
  confusionHeader,
  confusionRows,
  evaluatedModels,
  formatFraction,
  formatRowCount,
  formatRowLocation,
  formatSeconds,
} from './report-format.js';
import type { EvalReport, RunRecord, SkippedRow } from './report-types.js';
import { RUN_FILES, readRunDir, type LoggedEvaluation, type LoggedStep, type RunDirContents, type TrainLog } from './run-dir.js';
import { lineChartSvg } from './svg-chart.js';
import { PREDICTIONS_FILE, samplesHtml } from './report-samples.js';
import { settingsRows } from './report-settings.js';

/** The curves drawn from log.jsonl: element id, title, y label and which field. */
export const CHARTS: readonly { id: string; title: string; yLabel: string; field: 'loss' | 'lr' | 'gradNorm' }[] = [
  { id: 'chart-loss', title: 'Training loss', yLabel: 'loss', field: 'loss' },
  { id: 'chart-lr', title: 'Learning rate', yLabel: 'lr', field: 'lr' },
  { id: 'chart-grad-norm', title: 'Gradient norm (before clipping)', yLabel: 'grad norm', field: 'gradNorm' },
];

/** The curves of the evaluations during training (sft train --eval-every); a chart only where the log holds a value. */
export const EVAL_CHARTS: readonly { id: string; title: string; yLabel: string; field: 'eval_loss' | 'eval_acc' | 'eval_resp_acc' }[] = [
  { id: 'chart-eval-loss', title: 'Validation loss (during training)', yLabel: 'eval loss', field: 'eval_loss' },
  { id: 'chart-eval-acc', title: 'Validation acc (during training)', yLabel: 'acc', field: 'eval_acc' },
  { id: 'chart-eval-resp-acc', title: 'Validation resp_acc (during training)', yLabel: 'resp_acc', field: 'eval_resp_acc' },
];

const STYLE = `
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2430; margin: 0 auto; max-width: 1000px; padding: 16px 24px 48px; }
h1 { font-size: 1.6em; margin-bottom: 0; } h2 { margin-top: 2em; border-bottom: 1px solid #d5dae1; padding-bottom: 4px; }
.sub { color: #5b6573; margin-top: 4px; word-break: break-all; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #d5dae1; padding: 4px 10px; text-align: left; vertical-align: top; }
thead th { background: #eef1f5; } tbody th { font-weight: 600; background: #f7f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.value { white-space: pre-wrap; word-break: break-word; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 13px; }
.notes { background: #fff7e0; border: 1px solid #f0d48a; padding: 8px 12px 8px 30px; }
.charts { display: flex; flex-direction: column; gap: 12px; }
svg.chart { max-width: 100%; height: auto; background: #fff; border: 1px solid #e3e7ec; }
svg.chart .chart-title { font-weight: 600; font-size: 14px; fill: #1d2430; }
svg.chart .chart-caption, svg.chart .chart-empty { font-size: 12px; fill: #5b6573; }
svg.chart .tick, svg.chart .axis-label { font-size: 11px; fill: #5b6573; }
svg.chart .grid { stroke: #edf0f3; } svg.chart .axis, svg.chart .tick-mark { stroke: #8a94a3; }
svg.chart .series { stroke: #2f6fde; stroke-width: 1.8; fill: none; } svg.chart .series-point { fill: #2f6fde; }
footer { margin-top: 3em; color: #8a94a3; font-size: 12px; }
`;

function section(id: string, title: string, body: string): string {
  return `<section id="${escapeHtml(id)}">\n<h2>${escapeHtml(title)}</h2>\n${body}\n</section>`;
}

function paragraph(text: string, className?: string): string {
  return `<p${className ? ` class="${escapeHtml(className)}"` : ''}>${escapeHtml(text)}</p>`;
}

/** A config value as table text: strings as they are, everything else as JSON. */
function configValue(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
}

/** Nested plain objects become dotted keys (lora.r, lora.alpha); arrays stay whole. */
export function flattenConfig(config: Record<string, unknown>, prefix = ''): [string, string][] {
  return Object.entries(config).flatMap(([key, value]): [string, string][] => {
    const name = prefix ? `${prefix}.${key}` : key;
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
      return flattenConfig(value as Record<string, unknown>, name);
    }
    return [[name, configValue(value)]];
  });
}

function skippedList(skipped: readonly SkippedRow[], total: number): string {
  if (total === 0) return paragraph('No rows skipped.');
  const shown = skipped.slice(0, SKIPPED_SHOWN);
  const items = shown.map((r) => `<li><code>${escapeHtml(formatRowLocation(r))}</code>: ${escapeHtml(r.reason)}</li>`);
  if (total > shown.length) items.push(`<li>... and ${total - shown.length} more</li>`);
  return `<p>${total} row${total === 1 ? '' : 's'} skipped:</p>\n<ul class="skipped">${items.join('\n')}</ul>`;
}

function durationSeconds(run: RunRecord): string | undefined {
  if (!run.finished) return undefined;
  const ms = Date.parse(run.finished) - Date.parse(run.started);
  return Number.isFinite(ms) ? formatSeconds(ms / 1000) : undefined;
}

function runSection(run: RunRecord): string {
  const rows: [string, string][] = [
    ['model', run.model.input],
    ['model folder', run.model.dir],
    ['family', run.model.family],
    ['data', run.data.source],
    ['rows train / val / test', `${run.data.train} / ${run.data.val} / ${run.data.test}`],
    ['started', run.started],
    ['finished', run.finished ?? 'not finished (no end time recorded)'],
  ];
  const duration = durationSeconds(run);
  if (duration) rows.push(['wall time', duration]);
  if (run.result) {
    rows.push(
      ['optimizer steps', String(run.result.steps)],
      ['final loss', run.result.finalLoss === null ? 'none (not finite)' : run.result.finalLoss.toFixed(4)],
      ['training time', formatSeconds(run.result.trainSeconds)],
      ['tokens / s', run.result.tokensPerSecond.toFixed(1)],
    );
    const val = run.result.val;
    if (val) rows.push(['validation acc / resp_acc', `${formatFraction(val.acc)} / ${formatFraction(val.resp_acc)} (n = ${val.n})`]);
  } else {
    rows.push(['result', 'none recorded (the run did not finish, or is still running)']);
  }
  const versions = Object.entries(run.versions);
  return section(
    'run',
    'Run',
    [
      htmlTable([], rows, { id: 'run-summary', rowHeaders: true }),
      versions.length ? `<h3>Versions</h3>\n${htmlTable(['component', 'version'], versions, { id: 'versions', rowHeaders: true })}` : '',
      `<h3>Training data: skipped rows</h3>\n${skippedList(run.data.skipped, run.data.skipped_rows)}`,
    ].join('\n'),
  );
}

function configSection(run: RunRecord): string {
  const rows = flattenConfig(run.config);
  return section('config', 'Configuration', htmlTable(['option', 'value'], rows, { id: 'config', rowHeaders: true, columnClasses: [undefined, 'value'] }));
}

function chartPoints(steps: readonly LoggedStep[], field: 'loss' | 'lr' | 'gradNorm') {
  return steps.map((s) => ({ x: s.step, y: s[field] }));
}

function curvesSection(log: TrainLog): string {
  const notes: string[] = [];
  if (log.unreadable.length > 0) {
    const first = log.unreadable.slice(0, 3).map((u) => `line ${u.line}: ${u.reason}`).join('; ');
    const one = log.unreadable.length === 1;
    notes.push(`${log.unreadable.length} line${one ? '' : 's'} of log.jsonl could not be read and ${one ? 'is' : 'are'} left out (${first}).`);
  }
  if (log.repeated > 0) notes.push(`${log.repeated} log line${log.repeated === 1 ? '' : 's'} repeated an earlier step (a resumed run); the later value is drawn.`);
  if (log.steps.length === 0) {
    return section('curves', 'Training curves', [paragraph('log.jsonl holds no logged steps.', 'note'), ...notes.map((n) => paragraph(n, 'note'))].join('\n'));
  }
  // Every chart's step axis spans the run's logged steps and ends at the last one (evaluations included).
  const first = Math.min(log.steps[0]?.step ?? Infinity, log.evaluations[0]?.step ?? Infinity);
  const last = Math.max(log.steps[log.steps.length - 1]?.step ?? -Infinity, log.evaluations[log.evaluations.length - 1]?.step ?? -Infinity);
  const xDomain: [number, number] = [first, last];
  const charts = CHARTS.map((c) => lineChartSvg({ id: c.id, title: c.title, xLabel: 'step', yLabel: c.yLabel, points: chartPoints(log.steps, c.field), xDomain }));
  const intro = `${log.steps.length} logged optimizer steps (${log.steps[0]?.step} to ${log.steps[log.steps.length - 1]?.step}).`;
  const parts = [paragraph(intro), ...notes.map((n) => paragraph(n, 'note')), `<div class="charts">\n${charts.join('\n')}\n</div>`];
  if (log.evaluations.length > 0) parts.push(evalCurves(log.evaluations, xDomain));
  return section('curves', 'Training curves', parts.join('\n'));
}

function evalCurves(evaluations: readonly LoggedEvaluation[], xDomain: [number, number]): string {
  const charts = EVAL_CHARTS.filter((c) => evaluations.some((e) => e[c.field] !== null)).map((c) =>
    lineChartSvg({ id: c.id, title: c.title, xLabel: 'step', yLabel: c.yLabel, points: evaluations.map((e) => ({ x: e.step, y: e[c.field] })), xDomain }),
  );
  const best = evaluations[evaluations.length - 1]?.best;
  const text = `${evaluations.length} evaluation${evaluations.length === 1 ? '' : 's'} on the validation rows during training (steps ${evaluations.map((e) => e.step).join(', ')})` +
    (best ? `; the best by ${best.metric}: ${Number(best.value.toPrecision(4))} at step ${best.step}.` : '.');
  return [`<h3>Evaluation during training</h3>`, paragraph(text), `<div class="charts">\n${charts.join('\n')}\n</div>`].join('\n');
}

function evalSection(report: EvalReport): string {
  const { cells, note } = beforeAfterRow(report);
  const header = beforeAfterHeader(report);
  const numeric = header.map((_, i) => (i === 0 ? undefined : 'num'));
  const parts = [
    htmlTable(header, [cells], { id: 'before-after', className: 'before-after', columnClasses: numeric }),
    paragraph(note),
    paragraph(`data: ${report.data} · n: ${formatRowCount(report)} · model folder: ${report.modelDir} · created: ${report.created}`, 'sub'),
  ];
  const models = evaluatedModels(report);
  if (models.length > 0) {
    const details = detailsTable(report);
    parts.push(htmlTable(details.header, details.rows, { id: 'eval-details', rowHeaders: true, columnClasses: [undefined, 'num', 'num', 'num', 'num', 'num', 'num'] }));
  }
  for (const m of models) {
    parts.push(`<h3>Confusion matrix: ${escapeHtml(m.title)}</h3>`, paragraph(confusionNote(m.metrics)));
    const header = confusionHeader(m.metrics);
    parts.push(htmlTable(header, confusionRows(m.metrics), { id: `confusion-${m.which}`, className: 'confusion', rowHeaders: true, columnClasses: header.map((_, i) => (i === 0 ? undefined : 'num')) }));
  }
  parts.push(`<h3>Evaluation data: skipped rows</h3>`, skippedList(report.skipped, report.skipped_rows));
  const settings = Object.entries(report.settings).map(([k, v]): [string, string] => [k, configValue(v)]);
  if (settings.length > 0) parts.push('<h3>Settings</h3>', htmlTable(['setting', 'value'], settings, { id: 'eval-settings', rowHeaders: true, columnClasses: [undefined, 'value'] }));
  return section('eval', 'Evaluation: before and after training', parts.join('\n'));
}

function samplesSection(contents: RunDirContents): string {
  const p = contents.predictions;
  if (!p) return '';
  const classes = contents.eval?.adapter?.confusion.labels ?? contents.eval?.base?.confusion.labels ?? [];
  return section('samples', 'Sample predictions', [paragraph(`From ${PREDICTIONS_FILE}: ${p.lines.length} lines.`, 'sub'), samplesHtml(p, classes)].join('\n'));
}

function settingsSection(contents: RunDirContents): string {
  const rows = settingsRows(contents.run, contents.eval ?? contents.generationEval);
  return section(
    'settings',
    'Settings: training and evaluation',
    htmlTable(['setting', 'training (run.json)', 'evaluation (eval.json)'], rows, { id: 'settings-compare', rowHeaders: true, columnClasses: [undefined, 'value', 'value'] }),
  );
}

/** Sentences about files the run directory lacks, saying what is left out and how to get it. */
function missingNotes(contents: RunDirContents): string[] {
  const notes: string[] = [];
  if (!contents.run) notes.push(`No ${RUN_FILES.run}: the run's configuration, model and data are not shown (sft train writes it).`);
  if (!contents.log) notes.push(`No ${RUN_FILES.log}: there are no training curves (sft train writes one line per logged optimizer step).`);
  if (!contents.eval && !contents.generationEval) notes.push(`No ${RUN_FILES.eval}: there are no before/after numbers (sft eval --out ${contents.dir} writes them).`);
  return notes;
}

/** The whole page for a run directory's contents. */
export function renderRunReportHtml(contents: RunDirContents, generated = new Date()): string {
  const title = contents.run ? `${contents.run.model.input} on ${contents.run.data.source}` : contents.eval ? `${contents.eval.model} on ${contents.eval.data}` : 'run';
  const notes = missingNotes(contents);
  const body = [
    `<h1>Run report: ${escapeHtml(title)}</h1>`,
    paragraph(contents.dir, 'sub'),
    notes.length ? `<ul id="notes" class="notes">\n${notes.map((n) => `<li class="note">${escapeHtml(n)}</li>`).join('\n')}\n</ul>` : '',
    // The result first, then how it was reached.
    contents.eval ? evalSection(contents.eval) : '',
    samplesSection(contents),
    contents.log ? curvesSection(contents.log) : '',
    contents.run || contents.eval || contents.generationEval ? settingsSection(contents) : '',
    contents.run ? runSection(contents.run) : '',
    contents.run ? configSection(contents.run) : '',
    `<footer>Written by sft report on ${escapeHtml(generated.toISOString())}.</footer>`,
  ].filter((p) => p !== '');
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // No scripts, styles or images from anywhere else: the page stands alone.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    `<title>${escapeHtml(`sft report: ${title}`)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    ...body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** Reads RUN_DIR, writes the page (default RUN_DIR/report.html) and returns its absolute path. */
export async function writeRunReport(runDir: string, outFile?: string): Promise<string> {
  const contents = await readRunDir(runDir);
  const out = resolve(outFile ?? join(contents.dir, 'report.html'));
  try {
    await writeFile(out, renderRunReportHtml(contents));
  } catch (err) {
    throw new SftError(`cannot write the report to ${out}: ${(err as Error).message}`, ErrorCode.FileNotFound);
  }
  return out;
}

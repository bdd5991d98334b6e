// The run report's sample predictions, from RUN_DIR/predictions.jsonl: for label tasks, per
// class a few rows the adapter got right and a few it got wrong, its output next to the base
// model's for the same row; for generation tasks, a few rows with the reference next to the
// output before and after training. The file is read defensively: it is written by several
// evaluations (label, classify, generation tasks) whose lines differ, and a line that is not
// one of them is counted, not fatal.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { escapeHtml, htmlTable } from './html.js';

export const PREDICTIONS_FILE = 'predictions.jsonl';
/** Rows shown per class and outcome (right / wrong), and generation rows shown. */
export const SAMPLES_PER_GROUP = 3;
export const GENERATION_SAMPLES = 5;

const line = z.looseObject({
  which: z.enum(['base', 'adapter']),
  file: z.string().optional().catch(undefined),
  row: z.number().optional().catch(undefined),
  label: z.string().optional().catch(undefined),
  output: z.string().optional().catch(undefined),
  prediction: z.string().nullable().optional().catch(undefined),
  correct: z.boolean().optional().catch(undefined),
  reference: z.string().optional().catch(undefined),
  probabilities: z.record(z.string(), z.number()).optional().catch(undefined),
});
export type SampleLine = z.output<typeof line>;

export interface Predictions {
  lines: SampleLine[];
  /** Lines that are not JSON or name no model (base / adapter). */
  unreadable: number;
}

/** Reads RUN_DIR/predictions.jsonl; undefined when there is none. */
export async function readPredictions(dir: string): Promise<Predictions | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, PREDICTIONS_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const lines: SampleLine[] = [];
  let unreadable = 0;
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    try {
      const parsed = line.safeParse(JSON.parse(raw));
      if (parsed.success) lines.push(parsed.data);
      else unreadable++;
    } catch {
      unreadable++;
    }
  }
  return { lines, unreadable };
}

const key = (l: SampleLine) => `${l.file ?? ''}\u0000${l.row ?? ''}`;
const where = (l: SampleLine) => (l.file !== undefined || l.row !== undefined ? `${l.file ?? '?'}:${l.row ?? '?'}` : '?');

/** What a model answered for a row: the generated text, else the predicted class with its probability. */
function answer(l: SampleLine | undefined): string {
  if (!l) return 'not evaluated';
  if (l.output !== undefined) return l.output;
  if (l.prediction !== undefined && l.prediction !== null) {
    const p = l.probabilities?.[l.prediction];
    return p !== undefined ? `${l.prediction} (p ${p.toFixed(3)})` : l.prediction;
  }
  return '(no output)';
}

function predicted(l: SampleLine | undefined): string {
  if (!l) return '';
  return l.prediction === null ? 'invalid' : (l.prediction ?? '');
}

export interface LabelSampleGroup {
  label: string;
  right: [SampleLine, SampleLine | undefined][];
  wrong: [SampleLine, SampleLine | undefined][];
  rightTotal: number;
  wrongTotal: number;
}

/** Per class (in `classes` order, then any other label seen), the first rows the adapter got right and wrong, each with the base model's line. */
export function labelSamples(lines: readonly SampleLine[], classes: readonly string[] = []): LabelSampleGroup[] {
  const labelled = lines.filter((l) => l.label !== undefined && l.correct !== undefined);
  const tuned = labelled.filter((l) => l.which === 'adapter');
  const scored = tuned.length > 0 ? tuned : labelled.filter((l) => l.which === 'base'); // no adapter pass: the base model's own
  const base = new Map(labelled.filter((l) => l.which === 'base').map((l) => [key(l), l]));
  const labels = [...classes, ...new Set(scored.map((l) => l.label as string))].filter((c, i, all) => all.indexOf(c) === i);
  return labels
    .map((label) => {
      const rows = scored.filter((l) => l.label === label);
      const pair = (l: SampleLine): [SampleLine, SampleLine | undefined] => [l, l.which === 'adapter' ? base.get(key(l)) : undefined];
      const right = rows.filter((l) => l.correct);
      const wrong = rows.filter((l) => !l.correct);
      return { label, right: right.slice(0, SAMPLES_PER_GROUP).map(pair), wrong: wrong.slice(0, SAMPLES_PER_GROUP).map(pair), rightTotal: right.length, wrongTotal: wrong.length };
    })
    .filter((g) => g.rightTotal + g.wrongTotal > 0);
}

/** The first generation rows (with a reference), each with the base and the adapter output. */
export function generationSamples(lines: readonly SampleLine[]): { reference: string; where: string; before: SampleLine | undefined; after: SampleLine | undefined }[] {
  const byRow = new Map<string, { reference: string; where: string; before?: SampleLine; after?: SampleLine }>();
  for (const l of lines) {
    if (l.reference === undefined) continue;
    const entry = byRow.get(key(l)) ?? { reference: l.reference, where: where(l) };
    if (l.which === 'base') entry.before = l;
    else entry.after = l;
    byRow.set(key(l), entry);
  }
  return [...byRow.values()].slice(0, GENERATION_SAMPLES).map((e) => ({ reference: e.reference, where: e.where, before: e.before, after: e.after }));
}

/** The section's body: label groups or generation rows, or a note saying why there are none. */
export function samplesHtml(p: Predictions, classes: readonly string[]): string {
  const parts: string[] = [];
  const groups = labelSamples(p.lines, classes);
  const hasBase = p.lines.some((l) => l.which === 'base');
  const hasAdapter = p.lines.some((l) => l.which === 'adapter');
  const scoredBy = hasAdapter ? 'the adapter' : 'the base model';
  for (const g of groups) {
    parts.push(`<h3>Class ${escapeHtml(g.label)}: ${g.rightTotal} right, ${g.wrongTotal} wrong (${scoredBy})</h3>`);
    const header = ['outcome', 'row', `${hasAdapter ? 'adapter' : 'base'} output`, 'parsed', ...(hasAdapter && hasBase ? ['base output', 'base parsed'] : [])];
    const rows = [
      ...g.right.map(([l, b]) => ['right', where(l), answer(l), predicted(l), ...(hasAdapter && hasBase ? [answer(b), predicted(b)] : [])]),
      ...g.wrong.map(([l, b]) => ['wrong', where(l), answer(l), predicted(l), ...(hasAdapter && hasBase ? [answer(b), predicted(b)] : [])]),
    ];
    const id = `samples-${g.label.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    parts.push(htmlTable(header, rows, { id, className: 'samples', columnClasses: header.map((_, i) => (i >= 2 ? 'value' : undefined)) }));
  }
  const generated = generationSamples(p.lines);
  if (generated.length > 0) {
    parts.push(`<h3>Generations: the reference, and the output before and after training (first ${generated.length})</h3>`);
    const rows = generated.map((g) => [g.where, g.reference, g.before ? answer(g.before) : 'not evaluated', g.after ? answer(g.after) : 'not evaluated']);
    parts.push(htmlTable(['row', 'reference', 'before (base)', 'after (adapter)'], rows, { id: 'samples-generation', className: 'samples', columnClasses: [undefined, 'value', 'value', 'value'] }));
  }
  if (parts.length === 0) parts.push(`<p class="note">${PREDICTIONS_FILE} holds no rows with a label or a reference to show.</p>`);
  if (p.unreadable > 0) parts.push(`<p class="note">${p.unreadable} line${p.unreadable === 1 ? '' : 's'} of ${PREDICTIONS_FILE} could not be read and ${p.unreadable === 1 ? 'is' : 'are'} left out.</p>`);
  return parts.join('\n');
}

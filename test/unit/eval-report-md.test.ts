// eval.md and the terminal summary: the seed's before/after row, partial reports, skipped rows,
// confusion matrices and escaping, on the demo run's eval.json and variations of it.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { alignColumns, evalReportMarkdown, formatEvalSummary, markdownText } from '../../src/eval/report-md.js';
import type { EvalReport } from '../../src/eval/report-types.js';

const demo = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'runs', 'demo-run', 'eval.json'), 'utf8')) as EvalReport;

function withoutBase(r: EvalReport): EvalReport {
  const { base: _base, ...rest } = r;
  return rest;
}
function withoutAdapter(r: EvalReport): EvalReport {
  const { adapter: _adapter, ...rest } = r;
  return rest;
}

describe('evalReportMarkdown', () => {
  const md = evalReportMarkdown(demo);

  it("writes the seed's table: acc = adapter, *_bf_train = base", () => {
    const lines = md.split('\n');
    const header = lines.indexOf('| model | acc | resp_acc | acc_bf_train | resp_acc_bf_train |');
    expect(header).toBeGreaterThan(0);
    expect(lines[header + 1]).toBe('| --- | --- | --- | --- | --- |');
    expect(lines[header + 2]).toBe('| qwen3-4b | 0.9300 | 0.9950 | 0.4900 | 0.7500 |');
    expect(md).toContain('acc and resp_acc: with the adapter runs/demo-run');
  });

  it('gives n, skipped rows with file:row and reason, escaped', () => {
    expect(md).toContain('- n: 200\n');
    expect(md).toContain('- skipped rows: 3\n');
    expect(md).toContain('  - imdb.csv:17: empty text\n');
    expect(md).toContain('  - imdb.csv:108: text \\<br/\\> only & nothing \\| else\n');
  });

  it('lists at most 5 skipped rows, then how many more', () => {
    const skipped = Array.from({ length: 8 }, (_, i) => ({ file: 'd.csv', row: i + 1, reason: 'empty text' }));
    const out = evalReportMarkdown({ ...demo, skipped, skipped_rows: 8 });
    expect(out).toContain('  - d.csv:5: empty text\n  - ... and 3 more\n');
    expect(out).not.toContain('d.csv:6');
  });

  it('writes each confusion matrix with an invalid column', () => {
    expect(md).toContain(
      [
        '## Confusion matrix: adapter (after training)',
        '',
        'Rows: true class. Columns: predicted class, then outputs with no valid label.',
        '',
        '| true \\\\ predicted | positive | negative | invalid |',
        '| --- | --- | --- | --- |',
        '| positive | 94 | 5 | 1 |',
        '| negative | 8 | 92 | 0 |',
      ].join('\n'),
    );
    expect(md).toContain('## Confusion matrix: base (before training)');
    expect(md).toContain('| negative | 37 | 43 | 20 |');
  });

  it('says which numbers exist when only the adapter was scored', () => {
    const out = evalReportMarkdown(withoutBase(demo));
    expect(out).toContain('| qwen3-4b | 0.9300 | 0.9950 | — | — |');
    expect(out).toContain('Only the adapter runs/demo-run was evaluated');
    expect(out).not.toContain('base (before training)');
  });

  it('says which numbers exist when only the base model was scored', () => {
    const out = evalReportMarkdown(withoutAdapter(demo));
    expect(out).toContain('| qwen3-4b | — | — | 0.4900 | 0.7500 |');
    expect(out).toContain('Only the base model was evaluated');
    expect(out).toContain('## Confusion matrix: base (before training)');
  });

  it('gives both row counts when base and adapter differ', () => {
    const base = { ...demo.base!, n: 198 };
    expect(evalReportMarkdown({ ...demo, base })).toContain('- n: 200 (adapter), 198 (base)\n');
  });

  it('keeps a model name with markup inside its table cell', () => {
    const out = evalReportMarkdown({ ...demo, model: 'my|model\n<x>' });
    expect(out).toContain('| my\\|model \\<x\\> | 0.9300 |');
  });
});

describe('markdownText', () => {
  it('escapes table and inline markup and removes line breaks', () => {
    expect(markdownText('a|b\r\nc*d_e`f[g]h\\i')).toBe('a\\|b c\\*d_e\\`f\\[g\\]h\\\\i');
    expect(markdownText('_x_ acc_bf_train')).toBe('\\_x\\_ acc_bf_train');
  });
});

describe('formatEvalSummary', () => {
  const text = formatEvalSummary(demo);

  it('aligns the before/after row under its header', () => {
    const lines = text.split('\n');
    expect(lines[0]).toBe('model        acc  resp_acc  acc_bf_train  resp_acc_bf_train');
    expect(lines[1]).toBe('qwen3-4b  0.9300    0.9950        0.4900             0.7500');
  });

  it('lists both models with counts and timing', () => {
    expect(text).toMatch(/adapter \(after training\)\s+0\.9300\s+0\.9950\s+186\s+199\s+200\s+13\.8 s/);
    expect(text).toMatch(/base \(before training\)\s+0\.4900\s+0\.7500\s+98\s+150\s+200\s+14\.2 s/);
    expect(text).toContain('data: imdb.csv   n: 200   skipped rows: 3\n  imdb.csv:17: empty text\n');
  });

  it('prints the confusion matrices aligned', () => {
    expect(text).toContain(
      [
        'confusion, base (before training) (rows: true class; columns: predicted, invalid)',
        '  true \\ predicted  positive  negative  invalid',
        '  positive                55        15       30',
        '  negative                37        43       20',
      ].join('\n'),
    );
  });

  it('says what is missing for a partial report', () => {
    const out = formatEvalSummary(withoutAdapter(demo));
    expect(out.split('\n')[1]).toBe('qwen3-4b    —         —        0.4900             0.7500');
    expect(out).toContain('Only the base model was evaluated');
    expect(out).not.toContain('adapter (after training)');
  });
});

describe('alignColumns', () => {
  it('pads the first column right and the others left', () => {
    expect(alignColumns([['a', 'bb'], ['ccc', 'd']])).toEqual(['a    bb', 'ccc   d']);
  });
});

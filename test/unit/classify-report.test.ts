// The report views of a classifier's evaluation (task 'classify'): eval.md, the terminal summary
// and sft report's HTML show acc, log loss and macro F1 before and after, say that the base
// model's head is untrained, and draw the confusion matrix without an invalid column.
import { describe, expect, it } from 'vitest';
import { renderRunReportHtml } from '../../src/eval/html-report.js';
import { evalReportMarkdown, formatEvalSummary } from '../../src/eval/report-md.js';
import type { EvalMetrics, EvalReport } from '../../src/eval/report-types.js';

const metrics = (acc: number, logLoss: number, f1: number, counts: number[][]): EvalMetrics => ({
  n: 10, acc, resp_acc: 1, correct: Math.round(acc * 10), valid: 10, seconds: 0.5, log_loss: logLoss, macro_f1: f1,
  confusion: { labels: ['positive', 'negative'], counts: counts.map((r) => [...r, 0]) },
});
const report: EvalReport = {
  kind: 'sft-eval',
  task: 'classify',
  model: 'demo',
  modelDir: '/m',
  data: '/d.csv',
  settings: { task: 'classify', numLabels: 2 },
  base: metrics(0.5, 0.7664, 0.3333, [[0, 5], [0, 5]]),
  adapter: { ...metrics(0.9, 0.2031, 0.8990, [[4, 1], [0, 5]]), path: '/run' },
  skipped_rows: 0,
  skipped: [],
  created: '2026-12-03T00:00:00Z',
};

describe('classifier reports', () => {
  it('eval.md: the classification table, the random-head note, confusion without an invalid column', () => {
    const md = evalReportMarkdown(report);
    expect(md).toContain('| model | acc | log_loss | macro_f1 | acc_bf_train | log_loss_bf_train | macro_f1_bf_train |');
    expect(md).toContain('| demo | 0.9000 | 0.2031 | 0.8990 | 0.5000 | 0.7664 | 0.3333 |');
    expect(md).toMatch(/score head is untrained/);
    expect(md).toContain('| true \\\\ predicted | positive | negative |');
    expect(md).toContain('| positive | 4 | 1 |');
    expect(md).not.toMatch(/invalid/);
  });

  it('the terminal summary and the HTML report say the same', () => {
    const text = formatEvalSummary(report);
    expect(text).toMatch(/acc\s+log_loss\s+macro_f1\s+correct\s+n\s+scoring/);
    expect(text).toMatch(/adapter \(after training\)\s+0\.9000\s+0\.2031\s+0\.8990\s+9\s+10/);
    const html = renderRunReportHtml({ dir: '/run', eval: report, missing: [] });
    expect(html).toContain('<th scope="col" class="num">log_loss_bf_train</th>');
    expect(html).toMatch(/score head is untrained/);
    expect(html).not.toMatch(/outputs with no valid label/);
  });

  it('a generation report keeps its columns', () => {
    const { task: _task, ...generation } = report;
    const { log_loss: _l, macro_f1: _f, ...base } = report.base as EvalMetrics;
    const md = evalReportMarkdown({ ...generation, base, adapter: undefined });
    expect(md).toContain('| model | acc | resp_acc | acc_bf_train | resp_acc_bf_train |');
    expect(md).toMatch(/invalid/);
  });
});

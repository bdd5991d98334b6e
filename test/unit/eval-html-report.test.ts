// The run report page: charts from log.jsonl, the before/after and confusion tables from
// eval.json, the config table, notes for missing files, escaping, and no outside resources.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flattenConfig, renderRunReportHtml, writeRunReport } from '../../src/eval/html-report.js';
import { escapeHtml, htmlTable } from '../../src/eval/html.js';
import { readRunDir, type RunDirContents } from '../../src/eval/run-dir.js';
import { ErrorCode, SftError } from '../../src/errors.js';

const demoDir = join(import.meta.dirname, '..', 'fixtures', 'runs', 'demo-run');
let demo: RunDirContents;
let html: string;
let work: string;
beforeAll(async () => {
  demo = await readRunDir(demoDir);
  html = renderRunReportHtml(demo, new Date('2026-11-21T00:00:00Z'));
  work = mkdtempSync(join(tmpdir(), 'nq-html-report-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** The element with this id, from its start tag to the matching close tag (no nesting of the same tag inside). */
function element(page: string, tag: string, id: string): string {
  const start = page.indexOf(`<${tag} id="${id}"`);
  expect(start, `<${tag} id="${id}">`).toBeGreaterThanOrEqual(0);
  const end = page.indexOf(`</${tag}>`, start);
  return page.slice(start, end + tag.length + 3);
}

function rows(table: string): string[][] {
  return [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => [...(m[1] as string).matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map((c) => c[1] as string));
}

describe('renderRunReportHtml on the demo run', () => {
  it('draws loss, lr and grad-norm charts with one vertex per logged step', () => {
    for (const id of ['chart-loss', 'chart-lr', 'chart-grad-norm']) {
      const svg = element(html, 'svg', id);
      const points = /<polyline[^>]* points="([^"]*)"/.exec(svg)?.[1] ?? '';
      expect(points.split(' '), id).toHaveLength(30);
      expect(svg).toMatch(/class="tick tick-x"/);
      expect(svg).toMatch(/class="tick tick-y"/);
    }
    expect(element(html, 'svg', 'chart-loss')).toContain('last 0.4542 at step 60');
  });

  it("has the seed's before/after table with the adapter and base numbers", () => {
    expect(rows(element(html, 'table', 'before-after'))).toEqual([
      ['model', 'acc', 'resp_acc', 'acc_bf_train', 'resp_acc_bf_train'],
      ['qwen3-4b', '0.9300', '0.9950', '0.4900', '0.7500'],
    ]);
  });

  it('has both confusion matrices with an invalid column', () => {
    expect(rows(element(html, 'table', 'confusion-adapter'))).toEqual([
      ['true \\ predicted', 'positive', 'negative', 'invalid'],
      ['positive', '94', '5', '1'],
      ['negative', '8', '92', '0'],
    ]);
    expect(rows(element(html, 'table', 'confusion-base'))[2]).toEqual(['negative', '37', '43', '20']);
  });

  it('lists the config with nested options flattened and text escaped', () => {
    const config = rows(element(html, 'table', 'config'));
    expect(config).toContainEqual(['lora.r', '16']);
    expect(config).toContainEqual(['lora.targets', escapeHtml('["q_proj","k_proj","v_proj","o_proj"]')]);
    expect(config).toContainEqual(['template', 'Review: &#60;text&#62;\nIs the sentiment positive (1) or negative (0)? &#38; answer:']);
    expect(html).not.toContain('Review: <text>');
  });

  it('shows the model, data, versions and result', () => {
    const summary = rows(element(html, 'table', 'run-summary'));
    expect(summary).toContainEqual(['family', 'qwen3']);
    expect(summary).toContainEqual(['rows train / val / test', '240 / 30 / 200']);
    expect(summary).toContainEqual(['final loss', '0.4542']);
    expect(summary).toContainEqual(['validation acc / resp_acc', '0.9000 / 1.0000 (n = 30)']);
    expect(rows(element(html, 'table', 'versions'))).toContainEqual(['libtorch', '2.4.1']);
  });

  it('escapes skipped-row reasons', () => {
    expect(html).toContain('<code>imdb.csv:108</code>: text &#60;br/&#62; only &#38; nothing | else');
  });

  it('loads nothing from outside the page and needs no script', () => {
    expect(html).not.toMatch(/<script|<link|<img|<iframe|\bsrc=|\bhref=|url\(|@import/i);
    expect(html).toContain(`default-src 'none'`);
    expect(html).not.toContain('id="notes"');
  });
});

describe('partial run directories', () => {
  const eval_ = () => demo.eval;
  it('with only eval.json: the tables, and notes on what is missing', () => {
    const page = renderRunReportHtml({ dir: '/runs/x', eval: eval_()!, missing: ['run.json', 'log.jsonl'] });
    const notes = element(page, 'ul', 'notes');
    expect(notes).toContain('No run.json');
    expect(notes).toContain('No log.jsonl: there are no training curves');
    expect(page).not.toContain('<svg');
    expect(rows(element(page, 'table', 'before-after'))[1]).toEqual(['qwen3-4b', '0.9300', '0.9950', '0.4900', '0.7500']);
    expect(page).toContain('<h1>Run report: qwen3-4b on imdb.csv</h1>');
  });

  it('without eval.json: a note saying how to get the numbers', () => {
    const { eval: _dropped, ...rest } = demo;
    const page = renderRunReportHtml({ ...rest, missing: ['eval.json'] });
    expect(element(page, 'ul', 'notes')).toContain(`No eval.json: there are no before/after numbers (sft eval --out ${demo.dir} writes them).`);
    expect(page).not.toContain('id="before-after"');
    expect(page).toContain('id="chart-loss"');
  });

  it('an empty or broken log: says so instead of drawing', () => {
    const page = renderRunReportHtml({ ...demo, log: { steps: [], unreadable: [{ line: 1, reason: 'not JSON' }], repeated: 0 } });
    expect(page).toContain('log.jsonl holds no logged steps.');
    expect(page).toContain('1 line of log.jsonl could not be read and is left out (line 1: not JSON).');
    expect(page).not.toContain('<svg');
  });

  it('a run that did not finish', () => {
    const { finished: _f, result: _r, ...run } = demo.run!;
    const page = renderRunReportHtml({ ...demo, run });
    expect(rows(element(page, 'table', 'run-summary'))).toContainEqual(['result', 'none recorded (the run did not finish, or is still running)']);
  });

  it('escapes hostile names everywhere', () => {
    const hostile = '<script>alert(1)</script>';
    const page = renderRunReportHtml({ dir: `/runs/${hostile}`, eval: { ...eval_()!, model: hostile, data: `</style>${hostile}` }, missing: [] });
    expect(page).not.toContain('<script>');
    expect(page).not.toContain('</style><');
    expect(page).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
  });
});

describe('html helpers', () => {
  it('escapes the five HTML metacharacters', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
  });
  it('writes tables with row headers, column classes and no thead for an empty header', () => {
    expect(htmlTable(['k', 'v'], [['a', '<1>']], { id: 't', rowHeaders: true, columnClasses: [undefined, 'num'] })).toBe(
      '<table id="t">\n<thead><tr><th scope="col">k</th><th scope="col" class="num">v</th></tr></thead>\n<tbody>\n<tr><th scope="row">a</th><td class="num">&#60;1&#62;</td></tr>\n</tbody>\n</table>',
    );
    expect(htmlTable([], [['a']])).not.toContain('<thead>');
  });
  it('flattens nested config objects and keeps arrays and empty objects whole', () => {
    expect(flattenConfig({ a: 1, b: { c: 'x', d: { e: null } }, f: [1, 2], g: {} })).toEqual([
      ['a', '1'],
      ['b.c', 'x'],
      ['b.d.e', 'null'],
      ['f', '[1,2]'],
      ['g', '{}'],
    ]);
  });
});

describe('writeRunReport', () => {
  it('writes RUN_DIR/report.html by default, or --out', async () => {
    const dir = join(work, 'run');
    cpSync(demoDir, dir, { recursive: true });
    const written = await writeRunReport(dir);
    expect(written).toBe(join(dir, 'report.html'));
    expect(readFileSync(written, 'utf8')).toContain('id="chart-loss"');
    const other = await writeRunReport(dir, join(work, 'elsewhere.html'));
    expect(existsSync(other)).toBe(true);
  });
  it('names the file it cannot write', async () => {
    const target = join(work, 'no-such-folder', 'r.html');
    const err = await writeRunReport(demoDir, target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SftError);
    expect((err as SftError).code).toBe(ErrorCode.FileNotFound);
    expect((err as SftError).message).toContain(target);
  });
});

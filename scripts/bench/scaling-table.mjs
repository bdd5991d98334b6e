// The scaling table of issue 12 (point 7) from scaling.sh's results: per shape and length, ours
// next to unsloth (tokens/s, peak GiB, the ratios), and for each stack and shape the longest
// context that fits 24 and 80 GiB. Peak memory grows linearly with the length once a step is
// one row (flash attention keeps no L x L tensor), so the longest context is the line through
// the two longest one-row lengths measured, solved for the budget: an extrapolation, said as
// such, unless a measured row already reaches it.
//
// usage: node scripts/bench/scaling-table.mjs RESULTS_DIR [--json OUT.json]
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, flag, jsonOut] = process.argv.slice(2);
if (!dir) throw new Error('usage: scaling-table.mjs RESULTS_DIR [--json OUT.json]');
const records = readdirSync(dir).filter((f) => /^(ours|unsloth)-scaling-.+\.json$/.test(f)).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
const shapes = [...new Set(records.map((r) => r.shape))];
const find = (stack, shape) => records.find((r) => r.stack === stack && r.shape === shape);
const fmt = (v, d = 0) => (v == null ? '—' : v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));

/** The longest length whose peak fits `budget` GiB, from the line through the two longest one-row lengths. */
export function longestContext(rows, budget) {
  const ok = rows.filter((r) => r.batch === 1 && r.peakGiB != null).sort((a, b) => a.len - b.len);
  if (ok.length < 2) return null;
  const [p, q] = ok.slice(-2);
  const perToken = (q.peakGiB - p.peakGiB) / (q.len - p.len);
  if (!(perToken > 0)) return null;
  const len = Math.floor((q.len + (budget - q.peakGiB) / perToken) / 1024) * 1024;
  return { len, perTokenKiB: (perToken * 2 ** 30) / 1024, from: [p.len, q.len], measured: len <= q.len };
}

const lines = ['| shape | length | batch | ours tokens/s | ours peak GiB | unsloth tokens/s | unsloth peak GiB | speed ratio | memory ratio |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'];
const summary = { date: new Date().toISOString(), rows: [], longest: [] };
for (const shape of shapes) {
  const ours = find('ours', shape);
  const them = find('unsloth', shape);
  const lens = [...new Set([...(ours?.rows ?? []), ...(them?.rows ?? [])].map((r) => r.len))].sort((a, b) => a - b);
  for (const len of lens) {
    const o = ours?.rows.find((r) => r.len === len);
    const u = them?.rows.find((r) => r.len === len);
    const cell = (r, key, d) => (r?.error ? 'OOM/error' : fmt(r?.[key], d));
    const ratio = (key) => (o?.[key] && u?.[key] ? (o[key] / u[key]).toFixed(2) : '—');
    lines.push(`| ${shape} | ${len} | ${o?.batch ?? u?.batch} | ${cell(o, 'tokensPerSecond')} | ${cell(o, 'peakGiB', 2)} | ${cell(u, 'tokensPerSecond')} | ${cell(u, 'peakGiB', 2)} | ${ratio('tokensPerSecond')} | ${ratio('peakGiB')} |`);
    summary.rows.push({ shape, len, ours: o ?? null, unsloth: u ?? null });
  }
}
lines.push('', '| stack | shape | memory per token (KiB) | longest context in 24 GiB | in 80 GiB | how |', '| --- | --- | ---: | ---: | ---: | --- |');
for (const shape of shapes) {
  for (const stack of ['ours', 'unsloth']) {
    const r = find(stack, shape);
    if (!r) continue;
    const a = longestContext(r.rows, 24);
    const b = longestContext(r.rows, 80);
    if (!a) continue;
    lines.push(`| ${stack} | ${shape} | ${fmt(a.perTokenKiB, 1)} | ${fmt(a.len)} | ${fmt(b.len)} | line through the peaks at ${a.from.join(' and ')} tokens${a.measured ? '' : ' (extrapolated)'} |`);
    summary.longest.push({ stack, shape, perTokenKiB: a.perTokenKiB, len24GiB: a.len, len80GiB: b.len, from: a.from });
  }
}
console.log(lines.join('\n'));
if (flag === '--json' && jsonOut) writeFileSync(jsonOut, `${JSON.stringify(summary, null, 1)}\n`);

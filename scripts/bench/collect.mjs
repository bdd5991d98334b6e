#!/usr/bin/env node
// Puts the benchmark's per-run results (RESULTS/STACK-PHASE.json from ours.mjs and anchor.py)
// side by side: prints issue 12's two tables and the seed job's rows as markdown, and writes
// the summary with every raw figure (docs/bench/latest.json by default). Needs no GPU: results
// fetched from several GPU calls can be collected anywhere.
//   node scripts/bench/collect.mjs RESULTS_DIR [--out docs/bench/latest.json] [--command "..."]
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { out: { type: 'string', default: 'docs/bench/latest.json' }, command: { type: 'string', default: 'bash scripts/bench/compare.sh' } },
});
const dir = positionals[0];
if (!dir) throw new Error('usage: collect.mjs RESULTS_DIR [--out FILE] [--command TEXT]');

const STACKS = ['ours', 'unsloth', 'hf-nf4', 'hf-bf16'];
const LABELS = {
  ours: 'node-qlora (NF4)',
  unsloth: 'unsloth (FastLanguageModel, load_in_4bit)',
  'hf-nf4': 'transformers + peft + bitsandbytes (NF4)',
  'hf-bf16': 'transformers + peft (bf16)',
};
// Targets of issue 12 (ours / unsloth), reported as met or not; nothing here asserts on time.
const TARGETS = { train_tokens_per_s_ratio: 1.25, peak_memory_ratio_max: 1.0, seed_job_tokens_per_s_ratio: 1.25, eval_prompts_per_s_ratio: 1.5, decode_ratio: 10 };

const runs = {};
for (const f of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
  const r = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  if (!STACKS.includes(r.stack) || typeof r.phase !== 'string') continue; // not a result file
  (runs[r.stack] ??= {})[r.phase] = r;
}
if (Object.keys(runs).length === 0) throw new Error(`collect.mjs: no result files (STACK-PHASE.json) in ${dir}; run scripts/bench/compare.sh first`);

const get = (stack, phase) => runs[stack]?.[phase];
// The train row of a stack with checkpointing on: ours / hf report true, unsloth its own "unsloth".
const trainRow = (stack, gc) => get(stack, 'train')?.rows?.find((r) => r.gradientCheckpointing === gc && r.error === undefined);
const trainOn = (stack) => trainRow(stack, stack === 'unsloth' ? 'unsloth' : true);
const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b > 0 ? a / b : null);

const summary = {
  date: new Date().toISOString(),
  device: get('unsloth', 'train')?.device ?? Object.values(runs).flatMap((p) => Object.values(p))[0].device,
  command: values.command,
  anchor: `unsloth ${get('unsloth', 'train')?.versions.unsloth ?? Object.values(runs.unsloth ?? {})[0]?.versions.unsloth ?? '(not run)'}`,
  train_tokens_per_s_ratio: ratio(trainOn('ours')?.tokensPerSecond, trainOn('unsloth')?.tokensPerSecond),
  peak_memory_ratio: ratio(trainOn('ours')?.peakGiB, trainOn('unsloth')?.peakGiB),
  seed_job_tokens_per_s_ratio: ratio(get('ours', 'seed')?.tokensPerSecond, get('unsloth', 'seed')?.tokensPerSecond),
  seed_eval_prompts_per_s_ratio: ratio(get('ours', 'seed-eval')?.promptsPerSecond, get('unsloth', 'seed-eval')?.promptsPerSecond),
  eval_prompts_per_s_ratio: ratio(get('ours', 'eval')?.promptsPerSecondBatch, get('unsloth', 'eval')?.promptsPerSecondBatch),
  eval_b1_prompts_per_s_ratio: ratio(get('ours', 'eval')?.promptsPerSecondB1, get('unsloth', 'eval')?.promptsPerSecondB1),
  decode_tokens_per_s: get('ours', 'decode')?.tokensPerSecond ?? null,
  decode_ratio: ratio(get('ours', 'decode')?.tokensPerSecond, get('unsloth', 'decode')?.tokensPerSecond),
};
const met = (value, ok) => (value === null ? null : ok(value));
summary.targets = {
  train_tokens_per_s_ratio: { target: `>= ${TARGETS.train_tokens_per_s_ratio} at peak_memory_ratio <= ${TARGETS.peak_memory_ratio_max}`, met: summary.peak_memory_ratio === null ? null : met(summary.train_tokens_per_s_ratio, (v) => v >= TARGETS.train_tokens_per_s_ratio && summary.peak_memory_ratio <= TARGETS.peak_memory_ratio_max) },
  seed_job_tokens_per_s_ratio: { target: `>= ${TARGETS.seed_job_tokens_per_s_ratio}`, met: met(summary.seed_job_tokens_per_s_ratio, (v) => v >= TARGETS.seed_job_tokens_per_s_ratio) },
  eval_prompts_per_s_ratio: { target: `>= ${TARGETS.eval_prompts_per_s_ratio}`, met: met(summary.eval_prompts_per_s_ratio, (v) => v >= TARGETS.eval_prompts_per_s_ratio) },
  decode_ratio: { target: `>= ${TARGETS.decode_ratio}`, met: met(summary.decode_ratio, (v) => v >= TARGETS.decode_ratio) },
};
// Phases that failed as a whole (a failed train row carries its own error).
summary.errors = Object.values(runs).flatMap((phases) => Object.values(phases)).filter((r) => r.error).map((r) => `${r.stack} ${r.phase}: ${r.error}`);
summary.stacks = runs;

// ---- markdown tables
const num = (x, digits = 0) => (typeof x === 'number' ? x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '-');
const cell = (row, key, digits) => (row === undefined ? '-' : row.error ? 'failed' : num(row[key], digits));
// A figure of a phase record: '-' when the phase did not run, 'failed' when it failed.
const fig = (stack, phase, key, digits) => cell(get(stack, phase), key, digits);
const versionOf = (stack) => {
  const v = Object.values(runs[stack] ?? {})[0]?.versions ?? {};
  return stack === 'ours' ? `node-qlora ${v['node-qlora']}` : stack === 'unsloth' ? `unsloth ${v.unsloth}` : `transformers ${v.transformers}, peft ${v.peft}${stack === 'hf-nf4' ? `, bitsandbytes ${v.bitsandbytes}` : ''}`;
};
const lines = [];
const table = (head, rows) => {
  lines.push(`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`), '');
};
// The protocol of a phase as recorded by whichever stack ran it (all read one inputs.json).
const protocolOf = (phase) => STACKS.map((st) => get(st, phase)?.protocol).find(Boolean);
const p = protocolOf('train');
lines.push(p ? `Training: batch ${p.batch} x ${p.seq} tokens (${p.masked} prompt tokens masked), LoRA r${p.lora.r} / alpha ${p.lora.alpha} on ${p.lora.targets.join(', ')}, ${p.warmup} warm-up + ${p.steps} timed steps` : 'Training', '');
table(['stack', 'gradient checkpointing', 'tokens/s', 'peak GiB'], STACKS.filter((s) => runs[s]?.train).map((s) => {
  const rows = get(s, 'train').rows ?? [{ gradientCheckpointing: '-', error: get(s, 'train').error }];
  return [`${LABELS[s]}, ${versionOf(s)}`, rows.map((r) => String(r.gradientCheckpointing === true ? 'on' : r.gradientCheckpointing === false ? 'off' : r.gradientCheckpointing)).join(' / '),
    rows.map((r) => cell(r, 'tokensPerSecond')).join(' / '), rows.map((r) => cell(r, 'peakGiB', 1)).join(' / ')];
}));
const e = protocolOf('eval');
const d = protocolOf('decode');
lines.push(`Generation with the adapter attached (unmerged): ${e?.newTokens ?? '?'} greedy tokens after ${e?.promptLen ?? '?'}-token prompts; batch-1 decode of ${d?.newTokens ?? '?'} tokens`, '');
table(['stack', 'prompts/s batch 1', `prompts/s batch ${e?.batch ?? '?'}`, 'batch-1 decode tokens/s'], STACKS.filter((s) => runs[s]?.eval || runs[s]?.decode).map((s) => [
  LABELS[s], fig(s, 'eval', 'promptsPerSecondB1', 2), fig(s, 'eval', 'promptsPerSecondBatch', 1), fig(s, 'decode', 'tokensPerSecond', 1),
]));
lines.push('The seed job on real IMDB rows (non-padding tokens/s of step time after the warm-up steps; wall = load + train)', '');
table(['stack', 'steps x rows', 'tokens/s', 'train s', 'wall s', 'peak GiB', 'grad accum', 'seed eval prompts/s (batch)'], STACKS.filter((s) => runs[s]?.seed || runs[s]?.['seed-eval']).map((s) => {
  const r = get(s, 'seed');
  const ev = get(s, 'seed-eval');
  return [LABELS[s], r && !r.error ? `${r.steps} x ${r.rowsConsumed / r.steps}` : '-', fig(s, 'seed', 'tokensPerSecond'), fig(s, 'seed', 'trainSeconds', 1),
    fig(s, 'seed', 'wallSeconds', 1), fig(s, 'seed', 'peakGiB', 1), fig(s, 'seed', 'gradientAccumulationSteps'), ev && !ev.error ? `${num(ev.promptsPerSecond, 1)} (${ev.batch})` : fig(s, 'seed-eval', 'promptsPerSecond')];
}));
const fmt = (x) => (x === null ? 'n/a' : `${x.toFixed(2)}x`);
lines.push(`Ratios (ours / ${summary.anchor}): train ${fmt(summary.train_tokens_per_s_ratio)} at ${fmt(summary.peak_memory_ratio)} memory, seed job ${fmt(summary.seed_job_tokens_per_s_ratio)}, eval batch ${e?.batch ?? '?'} ${fmt(summary.eval_prompts_per_s_ratio)}, decode ${fmt(summary.decode_ratio)} (${num(summary.decode_tokens_per_s, 1)} tokens/s)`);
for (const e of summary.errors) lines.push(`- failed: ${e}`);
for (const [k, t] of Object.entries(summary.targets)) lines.push(`- ${k} ${t.target}: ${t.met === null ? 'not measured' : t.met ? 'met' : 'not met'}`);
process.stdout.write(`${lines.join('\n')}\n`);

mkdirSync(dirname(values.out), { recursive: true });
writeFileSync(values.out, `${JSON.stringify(summary, null, 1)}\n`);
console.log(`collect.mjs: wrote ${values.out}`);

#!/usr/bin/env node
// The 4-bit decoding path on CUDA (stacked q/k/v and gate/up gemv, cached adapter casts, the
// additive decoding mask, CUDA graphs, packed prefill) against the CPU engine, which the CPU
// tests hold to transformers + peft + bitsandbytes: each tiny fixture model quantized to NF4 on
// load with its trained LoRA adapter attached (unmerged).
//  - CUDA fp32: greedy tokens equal the CPU's, and the logits of prompt + generated tokens are
//    within 1e-4 of the logit scale;
//  - CUDA bf16: batched greedy (left padding) equals one prompt at a time; agreement with the
//    CPU's fp32 tokens is reported.
//   node scripts/gpu/nf4-lora-check.mjs [OUT.json]
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../dist/api/index.js';

const root = join(import.meta.dirname, '..', '..');
const NEW_TOKENS = 12; // > 4, so generate replays a CUDA graph
const cases = ['llama', 'qwen3', 'mistral', 'gemma3_text'].filter((n) => existsSync(join(root, 'test/fixtures/lora', n, 'adapter_trained')));
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const rows = [];
let failures = 0;

async function withModel(name, device, dtype, fn) {
  const model = await loadModel(join(root, 'test/fixtures/models', name), { device, dtype, quant: 'nf4' });
  try {
    await model.loadAdapter(join(root, 'test/fixtures/lora', name, 'adapter_trained'));
    return await fn(model);
  } finally {
    await model.dispose();
  }
}

for (const name of cases) {
  const ref = JSON.parse(readFileSync(join(root, 'test/fixtures/models', name, 'reference.json'), 'utf8'));
  const prompts = ref.greedy_batch[0].prompts;
  const opts = { maxNewTokens: NEW_TOKENS, minNewTokens: NEW_TOKENS, eosTokenIds: [] };
  const run = (device, dtype) => withModel(name, device, dtype, async (model) => {
    const singles = [];
    for (const p of prompts) singles.push((await model.generate([p], opts))[0]);
    const batched = await model.generate(prompts, opts);
    const logits = [];
    for (const [i, p] of prompts.entries()) logits.push(await model.logits([[...p, ...singles[i]]]));
    return { singles, batched, logits };
  });
  const cpu = await run('cpu', 'float32');
  const f32 = await run('cuda', 'float32');
  const bf16 = await run('cuda', 'bfloat16');
  let err = 0, scale = 0;
  for (const [i, l] of cpu.logits.entries()) {
    for (let j = 0; j < l.data.length; j++) {
      scale = Math.max(scale, Math.abs(l.data[j]));
      err = Math.max(err, Math.abs(f32.logits[i].data[j] - l.data[j]));
    }
  }
  const agree = (a) => a.filter((t, i) => same(t, cpu.singles[i])).length;
  const row = {
    case: name,
    fp32TokensEqualCpu: `${agree(f32.singles)}/${prompts.length}`,
    fp32BatchedEqualSingle: same(f32.batched, f32.singles),
    fp32LogitsErrOverScale: err / scale,
    bf16BatchedEqualSingle: same(bf16.batched, bf16.singles),
    bf16TokensEqualCpu: `${agree(bf16.singles)}/${prompts.length}`,
  };
  row.ok = agree(f32.singles) === prompts.length && row.fp32BatchedEqualSingle && row.fp32LogitsErrOverScale <= 1e-4 && row.bf16BatchedEqualSingle;
  if (!row.ok) failures++;
  rows.push(row);
}
console.log('| case | fp32 tokens = CPU | fp32 batched = single | fp32 logits err / scale | bf16 batched = single | bf16 tokens = CPU fp32 | ok |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(`| ${r.case} | ${r.fp32TokensEqualCpu} | ${r.fp32BatchedEqualSingle} | ${r.fp32LogitsErrOverScale.toExponential(2)} | ${r.bf16BatchedEqualSingle} | ${r.bf16TokensEqualCpu} | ${r.ok ? 'yes' : 'NO'} |`);
}
if (process.argv[2]) writeFileSync(process.argv[2], JSON.stringify({ date: new Date().toISOString(), newTokens: NEW_TOKENS, rows }, null, 2));
console.log(failures === 0 ? 'nf4-lora-check: all cases pass' : `nf4-lora-check: ${failures} case(s) fail`);
process.exitCode = failures === 0 ? 0 : 1;

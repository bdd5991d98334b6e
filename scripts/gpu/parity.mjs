#!/usr/bin/env node
// CUDA parity of the engine against transformers, on the GPU machine (docs/gpu-validation.md).
//   node scripts/gpu/parity.mjs HF_CUDA_DIR [OUT.json]
// HF_CUDA_DIR holds scripts/reference/cuda_reference.py's output (transformers bf16 on CUDA).
// fp32 on CUDA: the same criteria as the CPU tests (logits within 1e-4 of the logit scale,
// greedy tokens identical, batched == one at a time). bf16: the logits' error against the fp32
// reference may be at most BF16_FACTOR times transformers' own bf16 error on the same GPU (see
// docs/gpu-validation.md for why), and batched greedy must equal one-at-a-time greedy;
// agreement with transformers' bf16 greedy tokens is reported.
import { readFileSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../dist/api/index.js';
import { native } from '../../dist/native.js';

const BF16_FACTOR = 1.5;
const fixtures = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'models');
const hfDir = process.argv[2];
const outFile = process.argv[3];
if (!hfDir) throw new Error('usage: parity.mjs HF_CUDA_DIR [OUT.json]');

function f32(file, name) {
  const t = native().safetensors.read(file, name);
  const a = new Float32Array(t.data.byteLength / 4);
  new Uint8Array(a.buffer).set(t.data);
  return a;
}
function maxAbs(a, aOff, b, bOff, n) {
  let m = 0;
  for (let i = 0; i < n; i++) {
    const d = Math.abs(a[aOff + i] - b[bOff + i]);
    if (!(d <= m)) m = d;
  }
  return m;
}
const eosList = (e) => (e === null ? [] : Array.isArray(e) ? e : [e]);
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

async function measure(name, dtype, ref, hf) {
  const dir = join(fixtures, name);
  const model = await loadModel(dir, { device: 'cuda', dtype, quant: 'none' });
  const refFile = join(dir, 'reference.safetensors');
  let err = 0, hfErr = 0;
  for (const [i, seq] of ref.sequences.entries()) {
    const expected = f32(refFile, `logits.${i}`);
    const got = await model.logits([seq]);
    err = Math.max(err, maxAbs(got.data, 0, expected, 0, expected.length));
    if (hf) hfErr = Math.max(hfErr, maxAbs(f32(hf.file, `logits.${i}`), 0, expected, 0, expected.length));
  }
  const batch = await model.logits(ref.batch.input_ids, { attentionMask: ref.batch.attention_mask });
  const batchRef = f32(refFile, 'batch_logits');
  const [B, T, V] = batch.shape;
  let batchErr = 0;
  for (let b = 0; b < B; b++) {
    const start = T - ref.sequences[b].length;
    batchErr = Math.max(batchErr, maxAbs(batch.data, (b * T + start) * V, batchRef, (b * T + start) * V, (T - start) * V));
  }
  let greedyEqual = 0, greedyHfBf16 = 0, batchedEqualRef = 0, batchedEqualSingle = 0;
  for (const [i, g] of ref.greedy.entries()) {
    const [out] = await model.generate([g.prompt], { maxNewTokens: g.max_new_tokens, minNewTokens: g.min_new_tokens, eosTokenIds: eosList(g.eos_token_id) });
    if (same(out, g.output)) greedyEqual++;
    if (hf && same(out, hf.greedy_bf16[i])) greedyHfBf16++;
  }
  for (const g of ref.greedy_batch) {
    const opts = { maxNewTokens: g.max_new_tokens, minNewTokens: g.min_new_tokens, eosTokenIds: eosList(g.eos_token_id) };
    const batched = await model.generate(g.prompts, opts);
    const singles = [];
    for (const p of g.prompts) singles.push((await model.generate([p], opts))[0]);
    if (same(batched, g.outputs)) batchedEqualRef++;
    if (same(batched, singles)) batchedEqualSingle++;
  }
  await model.dispose();
  const scale = ref.logits_scale;
  return {
    case: name, dtype, scale,
    logitsErr: err / scale, batchErr: batchErr / scale, hfBf16Err: hf ? hfErr / scale : null,
    greedy: `${greedyEqual}/${ref.greedy.length}`, greedyVsHfBf16: hf ? `${greedyHfBf16}/${ref.greedy.length}` : null,
    batchedVsRef: `${batchedEqualRef}/${ref.greedy_batch.length}`, batchedVsSingle: `${batchedEqualSingle}/${ref.greedy_batch.length}`,
  };
}

const info = native().buildInfo();
console.log(`addon: torch ${info.torchVersion}, cuda built ${info.cudaBuilt}, available ${info.cudaAvailable}`);
const cases = readdirSync(fixtures).filter((d) => existsSync(join(fixtures, d, 'reference.json'))).sort();
const rows = [];
let failures = 0;
for (const name of cases) {
  const ref = JSON.parse(readFileSync(join(fixtures, name, 'reference.json'), 'utf8'));
  const hfJson = join(hfDir, `${name}.json`);
  const hf = existsSync(hfJson) ? { ...JSON.parse(readFileSync(hfJson, 'utf8')), file: join(hfDir, `${name}.safetensors`) } : null;
  const fp32 = await measure(name, 'float32', ref, null);
  const bf16 = await measure(name, 'bfloat16', ref, hf);
  const fp32ok = fp32.logitsErr <= 1e-4 && fp32.batchErr <= 1e-4 && fp32.greedy === `${ref.greedy.length}/${ref.greedy.length}` &&
    fp32.batchedVsRef === `${ref.greedy_batch.length}/${ref.greedy_batch.length}` && fp32.batchedVsSingle === fp32.batchedVsRef;
  const bf16ok = hf !== null && bf16.logitsErr <= BF16_FACTOR * bf16.hfBf16Err && bf16.batchErr <= BF16_FACTOR * bf16.hfBf16Err &&
    bf16.batchedVsSingle === `${ref.greedy_batch.length}/${ref.greedy_batch.length}`;
  if (!fp32ok || !bf16ok) failures++;
  rows.push({ ...fp32, ok: fp32ok }, { ...bf16, ok: bf16ok });
}
const fmt = (x) => (x === null ? '-' : typeof x === 'number' ? x.toExponential(2) : x);
console.log('| case | dtype | max err / scale | batch err / scale | transformers bf16 err / scale | greedy = fp32 ref | greedy = HF bf16 | batched = ref | batched = single | ok |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(`| ${r.case} | ${r.dtype} | ${fmt(r.logitsErr)} | ${fmt(r.batchErr)} | ${fmt(r.hfBf16Err)} | ${r.greedy} | ${fmt(r.greedyVsHfBf16)} | ${r.batchedVsRef} | ${r.batchedVsSingle} | ${r.ok ? 'yes' : 'NO'} |`);
}
if (outFile) writeFileSync(outFile, JSON.stringify({ date: new Date().toISOString(), info, bf16Factor: BF16_FACTOR, rows }, null, 2));
console.log(failures === 0 ? 'parity: all cases pass' : `parity: ${failures} case(s) fail`);
process.exitCode = failures === 0 ? 0 : 1;

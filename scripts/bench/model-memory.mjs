#!/usr/bin/env node
// GPU memory and batch-1 decode speed of one checkpoint loaded bf16 and NF4 on CUDA, measured
// in the same run (docs/benchmarks.md). Usage: node scripts/bench/model-memory.mjs DIR [OUT.json]
import { writeFileSync } from 'node:fs';
import { cudaMemory, loadModel, resetCudaPeakMemory } from '../../dist/api/index.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: model-memory.mjs DIR [OUT.json]');
const GiB = 2 ** 30;
const prompt = Array.from({ length: 16 }, (_, i) => 1000 + i);
const newTokens = 64;

async function measure(quant) {
  const before = cudaMemory();
  const t0 = performance.now();
  const model = await loadModel(dir, { device: 'cuda', dtype: 'bfloat16', quant });
  const loadSeconds = (performance.now() - t0) / 1000;
  const loaded = cudaMemory();
  const info = model.info();
  await model.generate([prompt], { maxNewTokens: 4, eosTokenIds: [] }); // warm-up
  resetCudaPeakMemory();
  const t1 = performance.now();
  const [out] = await model.generate([prompt], { maxNewTokens: newTokens, eosTokenIds: [] });
  const seconds = (performance.now() - t1) / 1000;
  const peak = cudaMemory().peakAllocated;
  await model.dispose();
  return {
    quant,
    parameters: info.parameters,
    quantizedLinears: info.quantizedLinears,
    weightGiB: info.parameterBytes / GiB,
    allocatedGiB: (loaded.allocated - before.allocated) / GiB,
    decodePeakGiB: peak / GiB,
    loadSeconds,
    decodeTokensPerSecond: out.length / seconds,
  };
}

const rows = [await measure('none'), await measure('nf4')];
console.log('| weights | parameters | 4-bit linears | weights GiB | allocated after load GiB | decode peak GiB | load s | batch-1 decode tok/s |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(`| ${r.quant === 'none' ? 'bf16' : r.quant} | ${(r.parameters / 1e9).toFixed(2)}B | ${r.quantizedLinears} | ${r.weightGiB.toFixed(2)} | ${r.allocatedGiB.toFixed(2)} | ${r.decodePeakGiB.toFixed(2)} | ${r.loadSeconds.toFixed(1)} | ${r.decodeTokensPerSecond.toFixed(1)} |`);
}
console.log(`nf4 / bf16 weight memory: ${(rows[1].weightGiB / rows[0].weightGiB).toFixed(3)}; decode speed ratio nf4 / bf16: ${(rows[1].decodeTokensPerSecond / rows[0].decodeTokensPerSecond).toFixed(2)}`);
if (process.argv[3]) writeFileSync(process.argv[3], JSON.stringify({ date: new Date().toISOString(), dir, rows }, null, 2));

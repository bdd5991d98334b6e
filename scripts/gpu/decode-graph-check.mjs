#!/usr/bin/env node
// Greedy decoding on CUDA with the given environment (check.sh runs it with NQ_CUDA_GRAPHS=0,
// with the defaults, and with NQ_PDL=0): prints one JSON line of the new tokens per case, so the
// runs can be compared byte for byte (neither CUDA-graph replay nor the overlapped launches of
// the graph's kernels may change a token). Cases: each fixture in fp32 and bf16, two prompts
// left-padded together; then NF4 with its trained LoRA adapter attached, one prompt at a time
// (the one-row 4-bit gemv, the adapter kernels, the fused q/k/v step: the kernels pdl.cuh
// overlaps) and batched.
//   node scripts/gpu/decode-graph-check.mjs > out.json
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../dist/api/index.js';

const root = join(import.meta.dirname, '..', '..');
const fixtures = join(root, 'test', 'fixtures', 'models');
const prompts = [[5, 17, 33, 9, 41, 8, 22], [60, 13, 7]];  // left-padded together
const opts = { maxNewTokens: 24, eosTokenIds: [] };
const out = {};
for (const name of ['llama', 'qwen3', 'gemma3_text', 'mistral']) {
  for (const dtype of ['float32', 'bfloat16']) {
    const model = await loadModel(join(fixtures, name), { device: 'cuda', dtype, quant: 'none' });
    out[`${name}/${dtype}`] = await model.generate(prompts, opts);
    await model.dispose();
  }
  const adapter = join(root, 'test', 'fixtures', 'lora', name, 'adapter_trained');
  if (!existsSync(adapter)) continue;
  for (const dtype of ['float32', 'bfloat16']) {
    const model = await loadModel(join(fixtures, name), { device: 'cuda', dtype, quant: 'nf4' });
    await model.loadAdapter(adapter);
    const singles = [];
    for (const p of prompts) singles.push((await model.generate([p], opts))[0]);
    out[`${name}/${dtype}/nf4+lora/single`] = singles;
    out[`${name}/${dtype}/nf4+lora/batched`] = await model.generate(prompts, opts);
    await model.dispose();
  }
}
console.log(JSON.stringify(out));

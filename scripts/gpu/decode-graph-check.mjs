#!/usr/bin/env node
// Batched greedy decoding on CUDA with the given environment (run once with NQ_CUDA_GRAPHS=0,
// once without): prints one JSON line of the new tokens per fixture and dtype, so the two runs
// can be compared byte for byte (CUDA-graph replay must not change a token).
//   node scripts/gpu/decode-graph-check.mjs > out.json
import { join } from 'node:path';
import { loadModel } from '../../dist/api/index.js';

const fixtures = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'models');
const prompts = [[5, 17, 33, 9, 41, 8, 22], [60, 13, 7]];  // left-padded together
const out = {};
for (const name of ['llama', 'qwen3', 'gemma3_text', 'mistral']) {
  for (const dtype of ['float32', 'bfloat16']) {
    const model = await loadModel(join(fixtures, name), { device: 'cuda', dtype, quant: 'none' });
    out[`${name}/${dtype}`] = await model.generate(prompts, { maxNewTokens: 24, eosTokenIds: [] });
    await model.dispose();
  }
}
console.log(JSON.stringify(out));

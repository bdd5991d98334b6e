#!/usr/bin/env node
// Sampling and streaming on CUDA (issue 16): for tiny fixtures in float32 and bfloat16, seeded
// sampling (temperature / top-k / top-p) and greedy decoding give the same tokens with the
// decode CUDA graph and without it (NQ_CUDA_GRAPHS=0, read by each generate call); in float32 a
// seed gives the same tokens batched and one prompt at a time; generateStream yields exactly
// generate()'s tokens under the graph (its per-step host reads included) and stops early when
// left. Prints one JSON object; exits 1 when a check fails.
//   node scripts/gpu/sampling-check.mjs [out.json]   (NQ_CHECK_DEVICE=cpu: the same checks on the CPU)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../dist/api/index.js';

const fixtures = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'models');
const prompts = [[5, 17, 33, 9, 41, 8, 22], [60, 13, 7], [1, 2, 3, 4]];
const sampled = { maxNewTokens: 24, eosTokenIds: [], temperature: 1.3, topK: 40, topP: 0.9, seed: 17 };
const greedy = { maxNewTokens: 24, eosTokenIds: [] };
const results = {};
const failures = [];
const check = (name, ok, detail) => {
  results[name] = ok ? 'ok' : detail;
  if (!ok) failures.push(name);
};
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

async function eager(fn) {
  process.env.NQ_CUDA_GRAPHS = '0';
  try {
    return await fn();
  } finally {
    delete process.env.NQ_CUDA_GRAPHS;
  }
}

for (const name of ['llama', 'qwen3', 'gemma3_text', 'mistral']) {
  for (const dtype of ['float32', 'bfloat16']) {
    const key = `${name}/${dtype}`;
    const model = await loadModel(join(fixtures, name), { device: process.env.NQ_CHECK_DEVICE ?? 'cuda', dtype, quant: 'none' });
    try {
      for (const [label, options] of [['greedy', greedy], ['sampled', sampled]]) {
        const graph = await model.generate(prompts, options);
        const plain = await eager(() => model.generate(prompts, options));
        check(`${key} ${label}: graph == eager`, same(graph, plain), { graph, plain });
        if (dtype === 'float32') {
          const single = [];
          for (const p of prompts) single.push((await model.generate([p], options))[0]);
          check(`${key} ${label}: batched == one at a time`, same(graph, single), { batched: graph, single });
        }
        const streamed = [];
        for await (const id of model.generateStream(prompts[0], options)) streamed.push(id);
        const [alone] = await model.generate([prompts[0]], options);
        check(`${key} ${label}: generateStream == generate`, same(streamed, alone), { streamed, alone });
      }
      const other = await model.generate(prompts, { ...sampled, seed: 18 });
      check(`${key}: another seed, other tokens`, !same(other, await model.generate(prompts, sampled)), 'seed 17 and 18 gave the same tokens');
      const early = [];
      for await (const id of model.generateStream(prompts[0], { ...sampled, maxNewTokens: 50 })) if (early.push(id) === 3) break;
      const [after] = await model.generate([prompts[0]], { ...sampled, maxNewTokens: 3 });
      check(`${key}: leaving the stream early, then generate`, same(early, after), { early, after });
    } finally {
      await model.dispose();
    }
  }
}
const out = { failures, results };
if (process.argv[2]) writeFileSync(process.argv[2], `${JSON.stringify(out, null, 2)}\n`);
console.log(JSON.stringify(out, null, 1));
process.exit(failures.length ? 1 : 0);

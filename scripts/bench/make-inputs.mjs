#!/usr/bin/env node
// The benchmark's synthetic inputs and protocol, written once per run so that every stack
// (ours.mjs, anchor.py) reads the same token ids and the same counts from one file (issue 12):
//   train:  one batch of B x T random token ids, the first `masked` positions' labels -100,
//           `warmup` untimed then `steps` timed optimizer steps;
//   eval:   prompts of `evalPromptLen` random ids, `evalNewTokens` greedy tokens each (forced:
//           min = max new tokens, so no stack stops early on a random model's EOS), at batch 1
//           (`evalB1Prompts` timed after 1 warm-up prompt) and at batch `evalBatch`
//           (`evalBatches` timed after 1 warm-up batch);
//   decode: batch 1, `decodeNewTokens` forced new tokens after a `decodePromptLen`-id prompt,
//           1 warm-up then `decodeRuns` timed runs.
// Ids are drawn from [10, 150000), inside Qwen3's vocabulary, from a fixed LCG seed.
//   node scripts/bench/make-inputs.mjs OUT.json [--batch 16 --seq 512 --masked 64 ...] (flags = protocol keys)
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const PROTOCOL = {
  batch: 16, seq: 512, masked: 64, warmup: 2, steps: 6, loraR: 16, loraAlpha: 32, loraTargets: 'q_proj,k_proj,v_proj', lr: 2e-5,
  evalPromptLen: 400, evalNewTokens: 3, evalB1Prompts: 16, evalBatch: 32, evalBatches: 4,
  decodePromptLen: 16, decodeNewTokens: 128, decodeRuns: 3, seed: 3407,
};

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: Object.fromEntries(Object.keys(PROTOCOL).map((k) => [k, { type: 'string' }])),
});
const out = positionals[0];
if (!out) throw new Error(`usage: make-inputs.mjs OUT.json [--${Object.keys(PROTOCOL).join(' N] [--')} N]`);
const p = { ...PROTOCOL };
for (const [k, v] of Object.entries(values)) {
  p[k] = typeof PROTOCOL[k] === 'number' ? Number(v) : v;
  if (Number.isNaN(p[k])) throw new Error(`make-inputs: --${k} ${v} is not a number`);
}
if (p.masked >= p.seq) throw new Error(`make-inputs: --masked ${p.masked} must be below --seq ${p.seq}, or no token is trained`);

let s = p.seed >>> 0;
const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const ids = (n) => Array.from({ length: n }, () => 10 + Math.floor(next() * 149990));

const inputs = {
  protocol: p,
  train: Array.from({ length: p.batch }, () => ids(p.seq)),
  evalB1: Array.from({ length: 1 + p.evalB1Prompts }, () => ids(p.evalPromptLen)), // [0] is the warm-up
  evalBatched: Array.from({ length: (1 + p.evalBatches) * p.evalBatch }, () => ids(p.evalPromptLen)), // first batch: warm-up
  decode: ids(p.decodePromptLen),
};
writeFileSync(out, JSON.stringify(inputs));
console.log(`make-inputs: ${out} (train ${p.batch}x${p.seq}, eval ${p.evalPromptLen}-id prompts, decode ${p.decodeNewTokens} tokens)`);

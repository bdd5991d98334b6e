#!/usr/bin/env node
// Profiles the benchmark's three workloads on the GPU with the torch (kineto) profiler and prints
// where the GPU time goes (trace-summary.mjs): one training step (16 x 512, checkpointing on,
// after 2 warm-up steps), one eval call (batch 32 x 400-token prompts, 3 new tokens) and one
// batch-1 decode of 32 tokens, on the Qwen3-4B-shaped NF4 model with LoRA r16 on q/k/v.
//   node scripts/gpu/profile.mjs --model DIR --inputs INPUTS.json --out DIR [--phases train,eval,decode]
// Writes OUT/trace-PHASE.json (Chrome traces; large) and OUT/profile-PHASE.txt.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { collate, createTrainer, loadModel, setCpuThreads } from '../../dist/api/index.js';
import { native } from '../../dist/native.js';
import { summarizeTrace } from './trace-summary.mjs';

const { values: a } = parseArgs({ options: { model: { type: 'string' }, inputs: { type: 'string' }, out: { type: 'string' }, traces: { type: 'string' }, phases: { type: 'string', default: 'train,eval,decode' } } });
if (!a.model || !a.inputs || !a.out) throw new Error('usage: profile.mjs --model DIR --inputs INPUTS.json --out DIR [--traces DIR] [--phases train,eval,decode]');
const inputs = JSON.parse(readFileSync(a.inputs, 'utf8'));
const P = inputs.protocol;
const traces = a.traces ?? a.out;
mkdirSync(a.out, { recursive: true });
mkdirSync(traces, { recursive: true });
setCpuThreads();
const phases = a.phases.split(',');

async function profiled(phase, fn) {
  const trace = join(traces, `trace-${phase}.json`);
  native().profiler.start();
  const t0 = performance.now();
  await fn();
  const wall = performance.now() - t0;
  native().profiler.stop(trace);
  const text = `${phase}: host wall ${wall.toFixed(1)} ms\n${summarizeTrace(JSON.parse(readFileSync(trace, 'utf8')))}\n`;
  writeFileSync(join(a.out, `profile-${phase}.txt`), text);
  console.log(text);
}

const model = await loadModel(a.model, { device: 'cuda', dtype: 'bfloat16', quant: 'nf4' });
await model.addLora({ r: P.loraR, alpha: P.loraAlpha, dropout: 0, targets: P.loraTargets.split(',') });
if (phases.includes('train')) {
  const batch = collate(inputs.train.map((ids) => ({ ids, labels: ids.map((t, i) => (i < P.masked ? -100 : t)) })), 0);
  const trainer = createTrainer(model, { lr: P.lr, schedule: 'constant', warmupSteps: 0, totalSteps: 10, gradientCheckpointing: process.env.NQ_PROFILE_CKPT !== '0' });
  for (let i = 0; i < 2; i++) await trainer.step([batch]);
  await profiled('train', () => trainer.step([batch]));
}
if (phases.includes('eval')) {
  const prompts = inputs.evalBatched.slice(0, P.evalBatch);
  const gen = () => model.generate(prompts, { maxNewTokens: P.evalNewTokens, minNewTokens: P.evalNewTokens });
  await gen();
  await profiled('eval', gen);
}
if (phases.includes('decode')) {
  const run = () => model.generate([inputs.decode], { maxNewTokens: 32, minNewTokens: 32 });
  await run();
  await profiled('decode', run);
}
await model.dispose();

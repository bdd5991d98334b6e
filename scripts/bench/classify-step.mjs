#!/usr/bin/env node
// Sequence-classification training speed and memory (issue 15 point 5, docs/benchmarks.md): the
// seed's Gemma-2 9B classifier recipe (scripts/bench/classify-protocol.json) on our engine, next to
// classify_anchor.py (transformers + peft + bitsandbytes) on the same checkpoint and the same ids.
// DIR: a checkpoint from `make_random_checkpoint.py --shape gemma-2-9b` (random weights). Rows:
// gradient checkpointing on and off, then R-Drop (alpha 1, two passes) and SupCon (w 0.1) with
// checkpointing on. tokens/s counts every token of the timed optimizer steps; peak = the CUDA
// allocator's peak over them. On CUDA it first holds the CUDA path to the CPU one on the tiny gemma2
// fixture with peft's SEQ_CLS adapter (test/fixtures/classify/gemma2): logits of left-padded rows
// and one classification step's loss, fp32 CPU vs bf16 CUDA.
// Usage: node scripts/bench/classify-step.mjs DIR [OUT.json] [--device cpu --seq 16 --freeze 1 --steps 2]
//   (the flags override the protocol: a CPU run on test/fixtures/models/gemma2 checks the script)
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cudaMemory, loadModel, resetCudaPeakMemory } from '../../dist/api/index.js';
import { createTrainer } from '../../dist/train/trainer.js';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: { device: { type: 'string', default: 'cuda' }, seq: { type: 'string' }, freeze: { type: 'string' }, steps: { type: 'string' } },
});
const [dir, outFile] = positionals;
if (!dir) throw new Error('usage: node scripts/bench/classify-step.mjs DIR [OUT.json] [--device cpu --seq N --freeze N --steps N]');
const P = JSON.parse(readFileSync(join(import.meta.dirname, 'classify-protocol.json'), 'utf8'));
for (const key of ['seq', 'freeze', 'steps']) if (flags[key] !== undefined) P[key] = Number(flags[key]);
const device = flags.device;
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));

// The ids and labels classify_anchor.py draws: one LCG, ids in [10, vocab), labels in [0, numLabels).
function lcg(seed) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}
const next = lcg(P.seed);
const microBatches = Array.from({ length: P.gradAccum }, () => ({
  ids: Array.from({ length: P.batch }, () => Array.from({ length: P.seq }, () => 10 + Math.floor(next() * (config.vocab_size - 10)))),
  labels: Array.from({ length: P.batch }, () => Math.floor(next() * P.numLabels)),
}));

const GiB = 2 ** 30;
let cudaCheck;
if (device === 'cuda') {
  const root = join(import.meta.dirname, '..', '..');
  const ref = JSON.parse(readFileSync(join(root, 'test/fixtures/classify/gemma2/reference.json'), 'utf8'));
  const width = Math.max(...ref.rows.map((r) => r.length));
  const ids = ref.rows.map((r) => [...Array(width - r.length).fill(ref.pad_token_id), ...r]);
  const attentionMask = ref.rows.map((r) => [...Array(width - r.length).fill(0), ...r.map(() => 1)]);
  const out = {};
  for (const [dev, dtype] of [['cpu', 'float32'], ['cuda', 'bfloat16']]) {
    const m = await loadModel(join(root, 'test/fixtures/models/gemma2'), { device: dev, dtype, quant: 'none', task: 'classify', numLabels: ref.num_labels });
    await m.loadAdapter(join(root, 'test/fixtures/classify/gemma2/adapter_init'));
    const logits = Array.from((await m.classifyLogits(ids, { attentionMask })).data);
    const trainer = createTrainer(m, { lr: 1e-3, totalSteps: 1, gradientCheckpointing: true });
    const { loss } = await trainer.step([{ ids, attentionMask, labels: ref.labels }]);
    out[dev] = { logits, loss };
    await m.dispose();
  }
  const maxDiff = Math.max(...out.cpu.logits.map((x, i) => Math.abs(x - out.cuda.logits[i])));
  cudaCheck = { maxLogitDiff: maxDiff, lossCpu: out.cpu.loss, lossCuda: out.cuda.loss, transformersLoss: ref.loss.ce };
  console.log(`tiny gemma2 SEQ_CLS: max |logit cpu fp32 - cuda bf16| ${maxDiff.toExponential(2)}; loss cpu ${out.cpu.loss.toFixed(5)} cuda ${out.cuda.loss.toFixed(5)} (transformers ${ref.loss.ce.toFixed(5)})`);
}
const started = performance.now();
const model = await loadModel(dir, { device, dtype: device === 'cuda' ? 'bfloat16' : 'float32', quant: 'nf4', task: 'classify', numLabels: P.numLabels, seed: P.seed });
const loadSeconds = (performance.now() - started) / 1000;
const lora = await model.addLora({ r: P.loraR, alpha: P.loraAlpha, dropout: P.loraDropout, targets: P.targets, freezeLayers: P.freeze, seed: P.seed });
console.log(`loaded ${dir} (${config.num_hidden_layers} layers, NF4) in ${loadSeconds.toFixed(1)} s; LoRA on ${lora.modules.length} modules (layers ${P.freeze}+), ${lora.parameters} trainable parameters with the head`);

const variants = [
  { name: 'ce', gradientCheckpointing: true },
  { name: 'ce', gradientCheckpointing: false },
  { name: 'rdrop', gradientCheckpointing: true, rdropAlpha: 1 },
  { name: 'supcon', gradientCheckpointing: true, supconWeight: 0.1 },
];
const rows = [];
for (const { name, ...options } of variants) {
  const trainer = createTrainer(model, { lr: P.lr, warmupSteps: 20, totalSteps: 1000, ...options });
  try {
    for (let i = 0; i < P.warmup; i++) await trainer.step(microBatches);
    if (device === 'cuda') resetCudaPeakMemory();
    const t0 = performance.now();
    const losses = [];
    for (let i = 0; i < P.steps; i++) losses.push((await trainer.step(microBatches)).loss);
    const seconds = (performance.now() - t0) / 1000;
    const tokens = P.steps * P.gradAccum * P.batch * P.seq;
    const row = { loss: name, ...options, tokensPerSecond: tokens / seconds, secondsPerStep: seconds / P.steps, losses };
    if (device === 'cuda') row.peakGiB = cudaMemory().peakAllocated / GiB;
    rows.push(row);
    console.log(`${name} checkpointing ${options.gradientCheckpointing}: ${row.tokensPerSecond.toFixed(0)} tokens/s, ${row.secondsPerStep.toFixed(2)} s/step${row.peakGiB !== undefined ? `, peak ${row.peakGiB.toFixed(2)} GiB` : ''}`);
  } catch (err) {
    rows.push({ loss: name, ...options, error: `${err.code ?? err.name}: ${String(err.message).split('\n')[0]}` });
    console.log(`${name} checkpointing ${options.gradientCheckpointing}: ${rows.at(-1).error}`);
  }
}
await model.dispose();
const result = { stack: 'node-qlora', date: new Date().toISOString(), device, model: dir, protocol: P, loadSeconds, trainable: lora.parameters, ...(cudaCheck ? { cudaCheck } : {}), rows };
if (outFile) writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);

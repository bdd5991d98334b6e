// The two CUDA attention paths of training against each other (native/core/attention.h): flash
// attention (FlashAttention-2 varlen) and cuDNN's fused attention (equal-length batches; by
// default from 4,096 tokens a row). NQ_CUDNN_ATTENTION picks one for every equal-length batch and
// is read once per process, so this runs as two processes:
//   NQ_CUDNN_ATTENTION=0 node scripts/gpu/attention-paths-check.mjs run --model DIR --out A.json
//   NQ_CUDNN_ATTENTION=1 node scripts/gpu/attention-paths-check.mjs run --model DIR --out B.json
//   node scripts/gpu/attention-paths-check.mjs compare A.json B.json
// `run`: one LoRA r 16 on q, k, v trained 3 steps at lr 1e-3 on each of two fixed batches (16 x
// 512, then 1 x 8192 random ids): each step's loss and gradient norm (LoRA's gradients all pass
// through the attention backward; B starts at zero, so from the second step on the losses read
// the first steps' updates too). `compare`: the largest relative differences; fails past 2e-3
// (losses) / 2e-2 (gradient norms), bf16's noise between two kernels of different summation order.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const [cmd, ...rest] = process.argv.slice(2);
if (cmd === 'compare') {
  const [a, b] = rest.map((f) => JSON.parse(readFileSync(f, 'utf8')));
  let failed = false;
  const rel = (x, y) => Math.abs(x - y) / Math.max(Math.abs(x), Math.abs(y), 1e-12);
  for (const name of Object.keys(a)) {
    const worst = { loss: 0, gradNorm: 0 };
    a[name].steps.forEach((s, i) => {
      worst.loss = Math.max(worst.loss, rel(s.loss, b[name].steps[i].loss));
      worst.gradNorm = Math.max(worst.gradNorm, rel(s.gradNorm, b[name].steps[i].gradNorm));
    });
    const ok = worst.loss <= 2e-3 && worst.gradNorm <= 2e-2;
    failed ||= !ok;
    console.log(`${name}: ${ok ? 'ok' : 'DIFFERENT'}; largest relative differences: loss ${worst.loss.toExponential(2)}, gradient norm ${worst.gradNorm.toExponential(2)}; step seconds ${a[name].seconds.toFixed(3)} -> ${b[name].seconds.toFixed(3)}`);
  }
  process.exitCode = failed ? 1 : 0;
} else if (cmd === 'run') {
  const { collate, createTrainer, loadModel } = await import('../../dist/api/index.js');
  const { values: a } = parseArgs({ args: rest, options: { model: { type: 'string' }, out: { type: 'string' } } });
  const model = await loadModel(a.model, { device: 'cuda', dtype: 'bfloat16', quant: 'nf4' });
  const vocab = model.arch.vocabSize;
  let state = 7;
  const next = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) >>> 8) % vocab;
  const batchOf = (rows, len) => collate(Array.from({ length: rows }, () => {
    const ids = Array.from({ length: len }, next);
    return { ids, labels: ids.map((t, i) => (i < 64 ? -100 : t)) };
  }), 0);
  const results = {};
  await model.addLora({ r: 16, alpha: 32, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj'], seed: 11 });
  for (const [name, rows, len] of [['16x512', 16, 512], ['1x8192', 1, 8192]]) {
    const batch = batchOf(rows, len);
    const trainer = createTrainer(model, { lr: 1e-3, schedule: 'constant', warmupSteps: 0, totalSteps: 3, gradientCheckpointing: true });
    const steps = [];
    const t0 = performance.now();
    for (let i = 0; i < 3; i++) {
      const log = await trainer.step([batch]);
      steps.push({ loss: log.loss, gradNorm: log.gradNorm });
    }
    const seconds = (performance.now() - t0) / 3000;
    results[name] = { steps, seconds };
    console.log(name, JSON.stringify(steps), `${seconds.toFixed(3)} s/step`);
  }
  await model.dispose();
  writeFileSync(a.out, `${JSON.stringify(results)}\n`);
} else {
  throw new Error('usage: attention-paths-check.mjs run --model DIR --out FILE | compare A.json B.json');
}

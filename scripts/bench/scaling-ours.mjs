// The scaling rows of issue 12 (point 7) for node-qlora: LoRA training throughput and peak memory
// of one model shape at several sequence lengths, the same protocol as scaling phase of
// anchor.py (scaling.sh runs both on one checkpoint). Per length L: batch max(1, 8192 / L) rows
// of L random token ids (the first 64 positions masked out of the loss), LoRA r 16 / alpha 32 on
// q, k, v, AdamW at a constant lr, gradient checkpointing on; 1 untimed warm-up step, then
// `--steps` timed steps. Peak = the largest per-step peak of the timed steps (trainer.step
// resets the CUDA peak at its start). An out-of-memory length is a row with its error.
//
// usage: node scripts/bench/scaling-ours.mjs --model DIR --shape NAME --out FILE.json
//          [--lens 512,2048,8192,32768] [--steps 2] [--device cuda|cpu]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { collate, createTrainer, cudaMemory, loadModel, resetCudaPeakMemory } from '../../dist/api/index.js';
import { scalingBatch, scalingRows, SCALING_PROTOCOL } from './scaling-protocol.mjs';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' }, shape: { type: 'string' }, out: { type: 'string' },
    lens: { type: 'string', default: '512,2048,8192,32768' }, steps: { type: 'string', default: '2' },
    device: { type: 'string', default: 'cuda' },
  },
});
if (!a.model || !a.shape || !a.out) throw new Error('usage: scaling-ours.mjs --model DIR --shape NAME --out FILE.json [--lens ...] [--steps N]');
const cuda = a.device === 'cuda';
const engine = { device: a.device, dtype: cuda ? 'bfloat16' : 'float32', quant: 'nf4' };
const lens = a.lens.split(',').map(Number);
const steps = Number(a.steps);
const P = SCALING_PROTOCOL;

const model = await loadModel(a.model, engine);
const rows = [];
try {
  await model.addLora({ r: P.loraR, alpha: P.loraAlpha, dropout: 0, targets: P.loraTargets });
  const vocab = model.arch.vocabSize;
  for (const len of lens) {
    const batchRows = scalingRows(len, vocab).map((ids) => ({ ids, labels: ids.map((t, i) => (i < P.masked ? -100 : t)) }));
    const batch = collate(batchRows, 0);
    try {
      const trainer = createTrainer(model, { lr: P.lr, schedule: 'constant', warmupSteps: 0, totalSteps: steps + 1, gradientCheckpointing: true });
      await trainer.step([batch]);
      if (cuda) resetCudaPeakMemory();
      const logs = [];
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) logs.push(await trainer.step([batch]));
      const seconds = (performance.now() - t0) / 1000;
      const tokens = steps * scalingBatch(len) * len;
      const peakGiB = cuda ? Math.max(...logs.map((l) => l.peakMemoryGiB ?? 0)) : null;
      rows.push({ len, batch: scalingBatch(len), tokensPerSecond: tokens / seconds, peakGiB, secondsPerStep: seconds / steps, losses: logs.map((l) => l.loss) });
    } catch (err) {
      rows.push({ len, batch: scalingBatch(len), error: `${err.code ?? err.name}: ${String(err.message).split('\n')[0]}` });
    }
    console.log(JSON.stringify(rows.at(-1)));
  }
} finally {
  await model.dispose();
}
const record = { stack: 'ours', shape: a.shape, date: new Date().toISOString(), engine, protocol: { ...P, steps, warmup: 1 }, rows,
  memoryGiBAfter: cuda ? cudaMemory().allocated / 2 ** 30 : null };
writeFileSync(a.out, `${JSON.stringify(record, null, 1)}\n`);

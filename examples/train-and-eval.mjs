// The seed job from your own Node program: train a LoRA adapter, then score base and adapter.
// Runs on the bundled demo model and data in a few seconds on a CPU:
//   node examples/train-and-eval.mjs [out-dir]
// For a real model, change `model` (a preset such as 'qwen3-4b', a Hub repo id or a folder),
// `data` (e.g. '../shared/data/imdb/train.csv.gz') and the task settings (the seed's defaults:
// template 'imdb', label map positive=1,negative=0, no chat template).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluate, train } from 'node-qlora';

const out = process.argv[2] ?? join(mkdtempSync(join(tmpdir(), 'node-qlora-example-')), 'run');
const task = { data: 'demo', template: 'demo', chat: true, labelMap: 'positive=positive,negative=negative', maxSeqLen: 128 };

// Progress events arrive as plain objects; an AbortSignal stops the run at the next step
// (training saves a checkpoint first, and `resume: true` continues it).
const signal = AbortSignal.timeout(10 * 60 * 1000);
const onProgress = (event) => {
  if (event.phase === 'train' && event.step % 25 === 0) {
    console.log(`step ${event.step}/${event.totalSteps} loss ${event.loss.toFixed(4)} lr ${event.lr.toExponential(2)}`);
  } else if (event.phase === 'data' || event.phase === 'save') {
    console.log(event.message ?? `saved ${event.path}`);
  }
};

const trained = await train({ model: 'demo', ...task, out, lr: 1e-3, warmupSteps: 10, epochs: 1, gradientCheckpointing: false }, { onProgress, signal });
console.log(`trained ${trained.steps} steps in ${trained.trainSeconds.toFixed(1)} s, final loss ${trained.finalLoss?.toFixed(4)}`);

const { report } = await evaluate({ model: 'demo', adapter: out, compare: true, ...task, batchSize: 64, out }, { signal });
const row = {
  model: 'demo',
  acc: report.adapter.acc,
  resp_acc: report.adapter.resp_acc,
  acc_bf_train: report.base.acc,
  resp_acc_bf_train: report.base.resp_acc,
};
console.table([row]);
console.log(`run folder: ${out}`);

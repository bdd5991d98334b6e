// Gathers one model's IMDB experiment (ours and the transformers + peft baseline) into the
// record docs/results/imdb-<model>.json holds.
//   node scripts/experiments/collect-results.mjs NAME OUT_DIR > imdb-NAME.json
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [name, dir] = process.argv.slice(2);
if (!name || !dir) throw new Error('usage: collect-results.mjs NAME OUT_DIR');
const json = (f) => JSON.parse(readFileSync(join(dir, f), 'utf8'));
const ours = (sub) => {
  const run = json(`${sub}/run.json`);
  const ev = json(`${sub}/eval.json`);
  return {
    stack: `node-qlora ${run.versions['node-qlora']} (libtorch ${run.versions.libtorch}), base ${run.config.quantizedLinears > 0 ? 'NF4' : run.config.dtype}, LoRA fp32`,
    acc: ev.adapter.acc,
    resp_acc: ev.adapter.resp_acc,
    acc_bf_train: ev.base.acc,
    resp_acc_bf_train: ev.base.resp_acc,
    train_seconds: run.result.trainSeconds,
    tokens_per_second: run.result.inputTokensPerSecond,
    peak_memory_gib: run.result.peakMemoryGiB ?? null,
    final_loss: run.result.finalLoss,
    eval_seconds: { before: ev.base.seconds, after: ev.adapter.seconds },
    confusion_after: ev.adapter.confusion,
  };
};
const bf16 = ours('run');
const hf = json('hf/baseline.json');
const before = json('hf/score_before.json');
const after = json('hf/score_after.json');
const record = {
  model: name,
  source: json('import.json').source ?? null,
  n_eval: json('run/eval.json').adapter.n,
  n_train: json('run/run.json').data.train,
  ...Object.fromEntries(['acc', 'resp_acc', 'acc_bf_train', 'resp_acc_bf_train', 'train_seconds', 'tokens_per_second', 'peak_memory_gib'].map((k) => [k, bf16[k]])),
  baseline_acc: after.acc,
  baseline_resp_acc: after.resp_acc,
  baseline_acc_bf_train: before.acc,
  baseline_resp_acc_bf_train: before.resp_acc,
  baseline_train_seconds: hf.train_seconds,
  baseline_tokens_per_second: hf.tokens_per_second,
  baseline_peak_memory_gib: hf.peak_memory_gib,
  ours: bf16,
  ...(existsSync(join(dir, 'run-nf4', 'eval.json')) ? { ours_qlora_nf4: ours('run-nf4') } : {}),
  baseline: { stack: hf.stack, final_loss: hf.final_loss, eval_seconds: { before: hf.eval_before.seconds, after: hf.eval_after.seconds }, confusion_after: after.confusion },
  settings: json('run/run.json').config,
};
console.log(JSON.stringify(record, null, 2));

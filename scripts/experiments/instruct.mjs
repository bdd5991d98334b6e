// The seed's open-ended SFT experiment (issue 16 point 4) in one command: LoRA on alpaca rows
// with the seed's alpaca template + EOS, then greedy generation on the held-out rows with the
// base model (before) and with the adapter (after), scored with ROUGE-1/2/L/Lsum (rouge-score's)
// and corpus BLEU (sacrebleu's) against the reference outputs.
//
//   node scripts/experiments/instruct.mjs [--model demo] [--data assets/instruct] [--out runs/instruct-demo] [--json]
//
// --data is a folder with train.jsonl and test.jsonl (scripts/make_instruction_data.py writes
// them). The defaults are the CPU recipe for the bundled 1M-parameter demo model; the GPU run
// on real small models (scripts/experiments/instruct.sh) passes its own. Writes OUT (the
// adapter and run.json from train()), OUT/predictions.jsonl (every generation before and after
// with its reference and its scores) and OUT/instruct-result.json (the table, the recipe, wall
// time and tokens/s); prints the table (or the result as JSON with --json).
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { corpusBleu, rouge, train } from '../../dist/api/index.js';
import { resolveModelForRun } from '../../dist/api/model-source.js';
import { instructionSetup, loadRunModel } from '../../dist/api/task-setup.js';
import { toInstructionExamples } from '../../dist/data/instruction-rows.js';
import { readRows } from '../../dist/data/read-rows.js';
import { referenceResponse } from '../../dist/data/instruction-example.js';
import { generateBatched } from '../../dist/eval/batch-generate.js';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: 'demo' },
    data: { type: 'string', default: 'assets/instruct' },
    out: { type: 'string', default: 'runs/instruct-demo' },
    epochs: { type: 'string', default: '3' },
    lr: { type: 'string', default: '5e-3' },
    'warmup-steps': { type: 'string', default: '10' },
    'batch-size': { type: 'string', default: '16' },
    'lora-r': { type: 'string', default: '16' },
    'lora-alpha': { type: 'string', default: '32' },
    'lora-targets': { type: 'string', default: 'q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj' },
    'max-seq-len': { type: 'string', default: '256' },
    'max-new-tokens': { type: 'string', default: '64' },
    'eval-batch-size': { type: 'string', default: '40' },
    'train-limit': { type: 'string' },
    'test-limit': { type: 'string' },
    seed: { type: 'string', default: '3407' },
    device: { type: 'string' },
    quant: { type: 'string' },
    dtype: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

function number(name) {
  const value = Number(a[name]);
  if (!Number.isFinite(value)) throw new Error(`--${name}: expected a number but received ${JSON.stringify(a[name])}`);
  return value;
}

const engine = { ...(a.device ? { device: a.device } : {}), ...(a.quant ? { quant: a.quant } : {}), ...(a.dtype ? { dtype: a.dtype } : {}) };
const out = resolve(a.out);
const log = (line) => process.stderr.write(`${line}\n`);
const started = performance.now();

// 1. Train: LoRA on train.jsonl, the seed's alpaca template (the response is the output + EOS).
const trainFile = join(a.data, 'train.jsonl');
const trained = await train(
  {
    model: a.model,
    data: trainFile,
    format: 'alpaca',
    template: 'alpaca',
    out,
    ...engine,
    epochs: number('epochs'),
    lr: number('lr'),
    warmupSteps: number('warmup-steps'),
    batchSize: number('batch-size'),
    loraR: number('lora-r'),
    loraAlpha: number('lora-alpha'),
    loraTargets: a['lora-targets'].split(','),
    maxSeqLen: number('max-seq-len'),
    seed: number('seed'),
    ...(a['train-limit'] ? { limit: number('train-limit') } : {}),
    gradientCheckpointing: false,
    logEvery: 10,
  },
  { onProgress: (e) => e.message && log(`[${e.phase}] ${e.message}`) },
);
log(`trained ${trained.steps} steps in ${trained.trainSeconds.toFixed(1)} s, final loss ${trained.finalLoss}`);

// 2. The held-out rows as prompts, rendered by the same template the training rows were.
const { dir: modelDir } = await resolveModelForRun(a.model);
const { rows } = await readRows(join(a.data, 'test.jsonl'));
const { examples: allTest, skipped } = toInstructionExamples(rows, 'alpaca');
if (skipped.length > 0) throw new Error(`test.jsonl: ${skipped.length} rows skipped (${skipped[0].reason})`);
const test = a['test-limit'] ? allTest.slice(0, number('test-limit')) : allTest;
const references = test.map((e) => referenceResponse(e));
const { tokenizer, builder } = await instructionSetup(modelDir, { template: 'alpaca', chat: false, maxSeqLen: number('max-seq-len') });
const prompts = await builder.promptIds(test);

// 3. Generate greedily before and after (one model: the adapter is loaded after the base pass) and score.
const model = await loadRunModel(modelDir, engine);
const maxNewTokens = number('max-new-tokens');
async function score(which) {
  const t0 = performance.now();
  const generated = await generateBatched(model, tokenizer, prompts, { batchSize: number('eval-batch-size'), maxNewTokens });
  const seconds = (performance.now() - t0) / 1000;
  const texts = generated.map((g) => g.text.trim());
  const newTokens = generated.reduce((sum, g) => sum + g.ids.length, 0);
  const r = rouge(texts, references);
  const bleu = corpusBleu(texts, references);
  log(`${which}: ROUGE-L ${r.rougeL.toFixed(4)}, BLEU ${bleu.score.toFixed(2)} (${test.length} rows, ${seconds.toFixed(1)} s)`);
  return {
    metrics: {
      rouge1: r.rouge1, rouge2: r.rouge2, rougeL: r.rougeL, rougeLsum: r.rougeLsum,
      bleu: bleu.score, bleuCounts: bleu.counts, bleuTotals: bleu.totals, bleuBp: bleu.bp, sysLen: bleu.sysLen, refLen: bleu.refLen,
      n: test.length, generateSeconds: seconds, newTokens, newTokensPerSecond: newTokens / seconds,
    },
    texts,
    perExample: r.perExample,
  };
}
try {
  const before = await score('before');
  await model.loadAdapter(out);
  const after = await score('after');

  const lines = test.map((e, i) => JSON.stringify({
    file: e.file, row: e.row, reference: references[i],
    before: before.texts[i], after: after.texts[i], rougeL_before: before.perExample[i].rougeL, rougeL_after: after.perExample[i].rougeL,
  }));
  writeFileSync(join(out, 'predictions.jsonl'), `${lines.join('\n')}\n`);
  const record = trained.record.result ?? {};
  const result = {
    kind: 'sft-instruct-experiment',
    model: a.model,
    modelDir,
    data: { train: trainFile, test: join(a.data, 'test.jsonl'), trainRows: trained.record.data.train, testRows: test.length },
    recipe: {
      template: 'alpaca', epochs: number('epochs'), lr: number('lr'), warmupSteps: number('warmup-steps'), batchSize: number('batch-size'),
      loraR: number('lora-r'), loraAlpha: number('lora-alpha'), loraTargets: a['lora-targets'], maxSeqLen: number('max-seq-len'),
      maxNewTokens, decoding: 'greedy', seed: number('seed'), ...engine,
    },
    device: model.info().device,
    train: { steps: trained.steps, finalLoss: trained.finalLoss, trainSeconds: trained.trainSeconds, tokensPerSecond: record.tokensPerSecond, inputTokensPerSecond: record.inputTokensPerSecond, peakMemoryGiB: record.peakMemoryGiB },
    before: before.metrics,
    after: after.metrics,
    wallSeconds: (performance.now() - started) / 1000,
  };
  writeFileSync(join(out, 'instruct-result.json'), `${JSON.stringify(result, null, 2)}\n`);
  if (a.json) {
    console.log(JSON.stringify(result));
  } else {
    const f = (x) => x.toFixed(4);
    console.log('| model | when | ROUGE-1 | ROUGE-2 | ROUGE-L | ROUGE-Lsum | BLEU | n |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const [when, m] of [['before training', before.metrics], ['after training', after.metrics]]) {
      console.log(`| ${a.model} | ${when} | ${f(m.rouge1)} | ${f(m.rouge2)} | ${f(m.rougeL)} | ${f(m.rougeLsum)} | ${m.bleu.toFixed(2)} | ${m.n} |`);
    }
    console.log(`train: ${trained.steps} steps, ${trained.trainSeconds.toFixed(1)} s, ${Math.round(record.tokensPerSecond ?? 0)} target tokens/s; wall ${result.wallSeconds.toFixed(1)} s; ${join(out, 'instruct-result.json')}`);
  }
} finally {
  await model.dispose();
}

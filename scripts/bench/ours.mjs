#!/usr/bin/env node
// node-qlora's side of the side-by-side benchmark (compare.sh, issue 12). Each phase writes
// RESULTS/ours-PHASE.json and prints it as one JSON line; anchor.py writes the same shapes for
// the Python stacks, and collect.mjs puts them side by side.
//   train      the public API (loadModel NF4 + addLora + createTrainer + trainer.step) on the
//              synthetic batch of INPUTS (make-inputs.mjs), gradient checkpointing on and off
//   eval       model.generate with the adapter attached: prompts/s at batch 1 and batch N
//   decode     batch-1 greedy decode, tokens/s
//   seed       `sft train` as a user runs it on the seed job's IMDB rows; tokens/s from its log.jsonl
//   seed-eval  `sft eval` of that run's adapter on the 512 test rows at batch 32
// Every timed section ends in a host read of the result (loss, grad norm, token ids), which
// waits for the GPU, so wall time is CUDA-synchronized.
//   node scripts/bench/ours.mjs --model DIR --inputs INPUTS.json --results DIR [--phases train,eval,decode,seed,seed-eval]
//        [--imdb DIR] [--device cuda|cpu] [--seed-steps 64] [--seed-batch 16] [--seed-eval-batch 32] [--max-seq-len 2048]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildInfo, collate, createTrainer, cudaMemory, loadModel, resetCudaPeakMemory, setCpuThreads } from '../../dist/api/index.js';
import { packageVersion } from '../../dist/package-info.js';

const root = join(import.meta.dirname, '..', '..');
const { values: a } = parseArgs({
  options: {
    model: { type: 'string' }, inputs: { type: 'string' }, results: { type: 'string' },
    phases: { type: 'string', default: 'train,eval,decode,seed,seed-eval' },
    imdb: { type: 'string' }, device: { type: 'string', default: 'cuda' },
    'seed-steps': { type: 'string', default: '64' }, 'seed-batch': { type: 'string', default: '16' },
    'seed-eval-batch': { type: 'string', default: '32' }, 'max-seq-len': { type: 'string', default: '2048' },
  },
});
if (!a.model || !a.inputs || !a.results) throw new Error('usage: ours.mjs --model DIR --inputs INPUTS.json --results DIR [--phases ...] [--imdb DIR] [--device cuda|cpu]');
const phases = a.phases.split(',');
const known = ['train', 'eval', 'decode', 'seed', 'seed-eval'];
for (const p of phases) if (!known.includes(p)) throw new Error(`ours.mjs: unknown phase ${p}; phases are ${known.join(', ')}`);
if ((phases.includes('seed') || phases.includes('seed-eval')) && !a.imdb) throw new Error('ours.mjs: the seed phases need --imdb DIR (train.jsonl, test.jsonl)');
const inputs = JSON.parse(readFileSync(a.inputs, 'utf8'));
const P = inputs.protocol;
const cuda = a.device === 'cuda';
const engine = { device: a.device, dtype: cuda ? 'bfloat16' : 'float32', quant: 'nf4' };
const GiB = 2 ** 30;
mkdirSync(a.results, { recursive: true });

setCpuThreads(); // as train() and the CLI do: the CPUs this process may use
const build = buildInfo();
function emit(phase, body) {
  const record = {
    stack: 'ours', phase, date: new Date().toISOString(), device: process.env.NQ_BENCH_DEVICE_NAME ?? a.device, // compare.sh: nvidia-smi's GPU name
    versions: { 'node-qlora': packageVersion(), libtorch: build.torchVersion, node: process.version },
    engine, ...body,
  };
  writeFileSync(join(a.results, `ours-${phase}.json`), `${JSON.stringify(record, null, 1)}\n`);
  console.log(JSON.stringify(record));
}
const seconds = async (fn) => { const t0 = performance.now(); await fn(); return (performance.now() - t0) / 1000; };
const peakGiB = () => (cuda ? cudaMemory().peakAllocated / GiB : null);
const resetPeak = () => { if (cuda) resetCudaPeakMemory(); };
const lora = { r: P.loraR, alpha: P.loraAlpha, dropout: 0, targets: P.loraTargets.split(',') };

async function withLoraModel(fn) {
  const model = await loadModel(a.model, engine);
  try {
    await model.addLora(lora);
    return await fn(model);
  } finally {
    await model.dispose();
  }
}

async function trainPhase() {
  const batch = collate(inputs.train.map((ids) => ({ ids, labels: ids.map((t, i) => (i < P.masked ? -100 : t)) })), 0);
  const rows = [];
  for (const gradientCheckpointing of [true, false]) {
    try {
      rows.push(await withLoraModel(async (model) => {
        const trainer = createTrainer(model, { lr: P.lr, schedule: 'constant', warmupSteps: 0, totalSteps: P.warmup + P.steps, gradientCheckpointing });
        for (let i = 0; i < P.warmup; i++) await trainer.step([batch]);
        resetPeak();
        const logs = [];
        const time = await seconds(async () => { for (let i = 0; i < P.steps; i++) logs.push(await trainer.step([batch])); });
        const tokens = P.steps * P.batch * P.seq;
        // trainer.step resets the CUDA peak at its start: the timed section's peak is the largest step peak.
        const peak = cuda ? Math.max(...logs.map((l) => l.peakMemoryGiB ?? 0)) : null;
        return { gradientCheckpointing, tokensPerSecond: tokens / time, peakGiB: peak, secondsPerStep: time / P.steps, losses: logs.map((l) => l.loss) };
      }));
    } catch (err) {
      rows.push({ gradientCheckpointing, error: `${err.code ?? err.name}: ${err.message.split('\n')[0]}` });
    }
  }
  emit('train', {
    protocol: { batch: P.batch, seq: P.seq, masked: P.masked, warmup: P.warmup, steps: P.steps, lr: P.lr, lora },
    timing: `${P.warmup} untimed warm-up steps, then wall time of ${P.steps} trainer.step calls (each ends in a host read of the grad norm); tokens/s counts all B*T tokens`,
    rows,
  });
}

async function evalAndDecodePhases(which) {
  await withLoraModel(async (model) => {
    // The adapter is attached and unmerged: generate runs the LoRA path of q, k, v.
    if (which.includes('eval')) {
      const gen = (prompts) => model.generate(prompts, { maxNewTokens: P.evalNewTokens, minNewTokens: P.evalNewTokens });
      await gen([inputs.evalB1[0]]);
      resetPeak();
      const b1 = await seconds(async () => { for (const p of inputs.evalB1.slice(1)) await gen([p]); });
      const batches = [];
      for (let i = 0; i < inputs.evalBatched.length; i += P.evalBatch) batches.push(inputs.evalBatched.slice(i, i + P.evalBatch));
      await gen(batches[0]);
      const bn = await seconds(async () => { for (const b of batches.slice(1)) await gen(b); });
      emit('eval', {
        protocol: { promptLen: P.evalPromptLen, newTokens: P.evalNewTokens, b1Prompts: P.evalB1Prompts, batch: P.evalBatch, batches: P.evalBatches },
        timing: '1 warm-up call per batch size, then wall time of the timed calls; new tokens forced (min = max)',
        promptsPerSecondB1: P.evalB1Prompts / b1,
        promptsPerSecondBatch: (P.evalBatches * P.evalBatch) / bn,
        peakGiB: peakGiB(),
      });
    }
    if (which.includes('decode')) {
      const run = () => model.generate([inputs.decode], { maxNewTokens: P.decodeNewTokens, minNewTokens: P.decodeNewTokens });
      await run();
      const runs = [];
      for (let i = 0; i < P.decodeRuns; i++) runs.push(await seconds(run));
      const total = runs.reduce((x, y) => x + y, 0);
      emit('decode', {
        protocol: { promptLen: P.decodePromptLen, newTokens: P.decodeNewTokens, runs: P.decodeRuns },
        timing: '1 warm-up run, then the mean over the timed runs (prefill included, as a user sees it)',
        tokensPerSecond: (P.decodeRuns * P.decodeNewTokens) / total,
        runSeconds: runs,
      });
    }
  });
}

// The CLI as a user runs it; its stdout (--json) is the last line.
function sft(args) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(root, 'dist/cli/bin.js'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28 });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`sft ${args[0]} exited with ${r.status}: ${r.stdout.slice(-2000)}`);
  return { out: JSON.parse(r.stdout.trim().split('\n').at(-1)), wall };
}
const runDir = join(a.results, 'ours-seed-run');
const task = ['--text-column', 'review', '--label-column', 'sentiment', '--label-map', 'positive=1,negative=0', '--template', 'imdb',
  '--max-seq-len', a['max-seq-len'], '--seed', '3407', '--device', engine.device, '--dtype', engine.dtype, '--quant', engine.quant];

function seedPhase() {
  rmSync(runDir, { recursive: true, force: true });
  const args = ['train', '--model', a.model, '--data', join(a.imdb, 'train.jsonl'), ...task, '--batch-size', a['seed-batch'],
    '--max-steps', a['seed-steps'], '--lr', '2e-5', '--warmup-steps', '100', '--schedule', 'linear', '--weight-decay', '0.01',
    '--lora-r', String(P.loraR), '--lora-alpha', String(P.loraAlpha), '--lora-dropout', '0', '--log-every', '1', '--out', runDir, '--json'];
  const { out, wall } = sft(args);
  const log = readFileSync(join(runDir, 'log.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const record = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8'));
  const timed = log.slice(P.warmup); // the same warm-up steps anchor.py leaves out of its seed figure
  const sum = (k) => timed.reduce((n, l) => n + (l[k] ?? 0), 0);
  emit('seed', {
    command: `sft ${args.join(' ')}`,
    timing: `non-padding tokens (log.jsonl inputTokens) over step seconds of steps ${P.warmup + 1}..${log.length} (the first ${P.warmup} are warm-up); wall = the sft process, load included`,
    steps: log.length,
    rowsConsumed: log.length * Number(a['seed-batch']),
    tokensPerSecond: sum('inputTokens') / sum('seconds'),
    tokensPerSecondAllSteps: log.reduce((n, l) => n + l.inputTokens, 0) / log.reduce((n, l) => n + l.seconds, 0),
    trainTokens: log.reduce((n, l) => n + l.inputTokens, 0),
    stepSeconds: log.reduce((n, l) => n + l.seconds, 0),
    trainSeconds: out.trainSeconds,
    wallSeconds: wall,
    peakGiB: record.result?.peakMemoryGiB ?? null,
    gradientAccumulationSteps: record.config.gradAccum,
    finalLoss: out.finalLoss,
  });
}

function seedEvalPhase() {
  if (!existsSync(join(runDir, 'adapter_config.json'))) throw new Error(`ours.mjs: seed-eval needs the adapter of the seed phase in ${runDir}; run --phases seed first`);
  const args = ['eval', '--model', a.model, '--adapter', runDir, '--data', join(a.imdb, 'test.jsonl'), ...task,
    '--batch-size', a['seed-eval-batch'], '--max-new-tokens', '3', '--json'];
  const { out, wall } = sft(args);
  const m = out.adapter;
  emit('seed-eval', {
    command: `sft ${args.join(' ')}`,
    timing: 'prompts / seconds of the generation pass (no warm-up excluded, as a user sees it); wall = the sft process',
    n: m.n,
    batch: Number(a['seed-eval-batch']),
    promptsPerSecond: m.n / m.seconds,
    generationSeconds: m.seconds,
    wallSeconds: wall,
    acc: m.acc,
    resp_acc: m.resp_acc,
  });
}

let failed = 0;
for (const phase of phases) {
  if (phase === 'decode' && phases.includes('eval')) continue; // done with eval, on the same model
  const t0 = performance.now();
  try {
    if (phase === 'train') await trainPhase();
    else if (phase === 'eval' || phase === 'decode') await evalAndDecodePhases(phases.filter((p) => p === 'eval' || p === 'decode'));
    else if (phase === 'seed') seedPhase();
    else seedEvalPhase();
  } catch (err) {
    // One broken phase must not cost the others of a GPU call.
    console.error(err);
    emit(phase, { error: `${err.code ?? err.name}: ${String(err.message).split('\n')[0]}` });
    failed++;
  }
  console.error(`ours.mjs: ${phase} took ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
process.exitCode = failed > 0 ? 1 : 0;

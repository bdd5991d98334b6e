#!/usr/bin/env node
// Seeded mutation fuzzing of the readers (safetensors, GGUF, tokenizer.json, chat templates, CSV,
// JSONL, parquet) against the built package (dist/: `npm run build:ts` first).
//
//   node scripts/fuzz/run.mjs [--n 10000] [--seed 1] [--targets csv,gguf] [--timeout-ms 5000] [--json]
//   node scripts/fuzz/run.mjs --target gguf --seed 1 --only 4711      # rebuild and run one input
//
// --n is the number of inputs per target. Each target runs in a child process that records the
// index of the input it is on in a heartbeat file before running it; this process kills a child
// whose input runs longer than --timeout-ms (a hang) and restarts it after that input, as it does
// after a child that crashed. Findings: an error that is not an SftError, a hang, a crash.
// Exit status 0 when there are none, 1 otherwise.
import { fork } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readFileSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mutatedInput } from './mutate.mjs';
import { loadTargets } from './targets.mjs';

const { values: opts } = parseArgs({
  options: {
    n: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '1' },
    targets: { type: 'string' },
    target: { type: 'string' },
    only: { type: 'string' },
    'timeout-ms': { type: 'string', default: '5000' },
    'max-findings': { type: 'string', default: '20' },
    json: { type: 'boolean', default: false },
    child: { type: 'boolean', default: false },
    from: { type: 'string' },
    heartbeat: { type: 'string' },
    work: { type: 'string' },
  },
});
const runSeed = Number(opts.seed);

/** Inputs are written to files for the file readers: in memory (/dev/shm) where there is one. */
function scratchRoot() {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}
const SftErrorPromise = import(join(import.meta.dirname, '..', '..', 'dist', 'errors.js')).then((m) => m.SftError);

/** Runs one input; a finding when it throws something other than an SftError. */
async function runInput(target, SftError, index) {
  const { bytes, mutations } = mutatedInput(target.seeds, target.kind, runSeed, target.name, index);
  try {
    await target.run(bytes);
    return { outcome: 'accepted', mutations, bytes };
  } catch (err) {
    if (err instanceof SftError) return { outcome: err.code, mutations, bytes };
    return { outcome: 'finding', mutations, bytes, err };
  }
}

const describeError = (err) => ({
  name: err?.constructor?.name ?? typeof err,
  message: String(err?.message ?? err).slice(0, 500),
  stack: String(err?.stack ?? '').split('\n').slice(0, 8).join('\n'),
});

async function childMain() {
  const target = (await loadTargets(opts.work)).find((t) => t.name === opts.target);
  const SftError = await SftErrorPromise;
  const heartbeat = openSync(opts.heartbeat, 'r+');
  const stats = { inputs: 0, accepted: 0, rejected: {}, maxMs: 0, maxIndex: -1 };
  const end = Number(opts.n);
  for (let i = Number(opts.from); i < end; i++) {
    writeSync(heartbeat, `${String(i).padEnd(12)}\n`, 0);
    const started = performance.now();
    const r = await runInput(target, SftError, i);
    const ms = performance.now() - started;
    stats.inputs++;
    if (ms > stats.maxMs) Object.assign(stats, { maxMs: ms, maxIndex: i });
    if (i < target.seeds.length && r.outcome !== 'accepted') {
      // The unmutated seed must read: a reader (or a setup) that rejects everything finds nothing.
      const why = r.outcome === 'finding' ? describeError(r.err) : { name: 'SftError', message: `code ${r.outcome}` };
      process.send({ type: 'finding', finding: { kind: 'seed rejected', index: i, mutations: r.mutations, ...why } });
    }
    if (r.outcome === 'accepted') stats.accepted++;
    else if (r.outcome === 'finding') process.send({ type: 'finding', finding: { kind: 'error', index: i, mutations: r.mutations, ...describeError(r.err) } });
    else stats.rejected[r.outcome] = (stats.rejected[r.outcome] ?? 0) + 1;
    if (stats.inputs % 1000 === 0) process.send({ type: 'progress', stats });
  }
  closeSync(heartbeat);
  await new Promise((resolve) => process.send({ type: 'done', stats }, resolve));
}

/**
 * Runs inputs [0, n) of one target in child processes, restarting after a hang or a crash. A
 * child's files live under `work`, which main() removes even after a killed child.
 */
async function fuzzTarget(target, n, heartbeatFile, timeoutMs, maxFindings, work) {
  const name = target.name;
  const total = { inputs: 0, accepted: 0, rejected: {}, maxMs: 0, maxIndex: -1 };
  const findings = [];
  const started = performance.now();
  let from = 0;
  while (from < n && findings.length < maxFindings) {
    writeSync(openSync(heartbeatFile, 'w'), `${String(from).padEnd(12)}\n`);
    const child = fork(import.meta.filename, ['--child', '--target', name, '--from', String(from), '--n', String(n), '--seed', String(runSeed), '--heartbeat', heartbeatFile, '--work', join(work, name)], {
      execArgv: ['--max-old-space-size=1536'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
    let done = null;
    let partial = null; // the counts a child reported last, kept when it crashes or hangs
    child.on('message', (m) => {
      if (m.type === 'finding') findings.push({ target: name, ...m.finding });
      if (m.type === 'progress') partial = m.stats;
      if (m.type === 'done') done = m.stats;
    });
    const current = () => Number(readFileSync(heartbeatFile, 'utf8').trim());
    let last = current();
    let since = performance.now();
    let hung = false;
    const watch = setInterval(() => {
      const now = current();
      if (now !== last) [last, since] = [now, performance.now()];
      else if (performance.now() - since > timeoutMs) {
        hung = true;
        child.kill('SIGKILL');
      }
    }, Math.min(200, timeoutMs / 4));
    const exit = await new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    clearInterval(watch);
    const counted = done ?? partial;
    if (counted) {
      total.accepted += counted.accepted;
      for (const [code, count] of Object.entries(counted.rejected)) total.rejected[code] = (total.rejected[code] ?? 0) + count;
      if (counted.maxMs > total.maxMs) Object.assign(total, { maxMs: counted.maxMs, maxIndex: counted.maxIndex });
    }
    if (done) {
      total.inputs += done.inputs;
      break;
    }
    const at = current();
    const { mutations } = mutatedInput(target.seeds, target.kind, runSeed, name, at);
    findings.push({
      target: name,
      kind: hung ? 'hang' : 'crash',
      index: at,
      message: hung ? `input ${at} ran longer than ${timeoutMs} ms` : `the process ended (${exit.signal ?? `exit ${exit.code}`}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
      mutations,
    });
    // Inputs [from, at] ran (those after the child's last report are not in the counts); carry on after the bad one.
    total.inputs += at - from + 1;
    from = at + 1;
  }
  return { target: name, seconds: (performance.now() - started) / 1000, ...total, findings };
}

async function main() {
  const work = await mkdtemp(join(scratchRoot(), 'nq-fuzz-main-'));
  try {
    const targets = await loadTargets(join(work, 'probe'));
    if (opts.only !== undefined) {
      const target = targets.find((t) => t.name === opts.target);
      if (!target) throw new Error(`--target must be one of ${targets.map((t) => t.name).join(', ')}`);
      const r = await runInput(target, await SftErrorPromise, Number(opts.only));
      process.stdout.write(`${JSON.stringify({ index: Number(opts.only), mutations: r.mutations, bytes: r.bytes.length, outcome: r.outcome, ...(r.err ? describeError(r.err) : {}) }, null, 2)}\n`);
      process.exitCode = r.outcome === 'finding' ? 1 : 0;
      return;
    }
    const names = (opts.targets ?? opts.target ?? targets.map((t) => t.name).join(',')).split(',');
    for (const name of names) if (!targets.some((t) => t.name === name)) throw new Error(`no target ${name}; targets: ${targets.map((t) => t.name).join(', ')}`);
    const results = [];
    for (const name of names) {
      const r = await fuzzTarget(targets.find((t) => t.name === name), Number(opts.n), join(work, `${name}.heartbeat`), Number(opts['timeout-ms']), Number(opts['max-findings']), work);
      results.push(r);
      if (!opts.json) {
        const rejected = Object.entries(r.rejected).sort((a, b) => b[1] - a[1]).map(([c, k]) => `${c} ${k}`).join(', ');
        process.stdout.write(`${name}: ${r.inputs} inputs in ${r.seconds.toFixed(1)} s (slowest ${r.maxMs.toFixed(0)} ms, input ${r.maxIndex}); accepted ${r.accepted}; rejected: ${rejected || 'none'}; findings: ${r.findings.length}\n`);
        for (const f of r.findings) process.stdout.write(`  ${f.kind} at input ${f.index} [${f.mutations.join(', ')}]: ${f.name ? `${f.name}: ` : ''}${f.message}\n`);
      }
    }
    if (opts.json) process.stdout.write(`${JSON.stringify({ seed: runSeed, n: Number(opts.n), results })}\n`);
    process.exitCode = results.some((r) => r.findings.length > 0) ? 1 : 0;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await (opts.child ? childMain() : main());

// Seeded mutation fuzzing of every reader of user files, in CI: 10,000 inputs each (bit flips,
// truncation, inserted and deleted bytes, splices, huge length fields and numbers, repeated
// chunks), against the built package. Each input must be read or rejected with an SftError; a
// TypeError, RangeError or raw library error, a crash, or an input running past 5 s fails the
// test with its index, which rebuilds it alone:
//   node scripts/fuzz/run.mjs --target NAME --seed 20261203 --only INDEX
// The longer recorded run is in docs/reliability.md. NQ_FUZZ_N changes the count per reader.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const RUNNER = join(import.meta.dirname, '..', '..', 'scripts', 'fuzz', 'run.mjs');
const SEED = 20261203;
const N = Number(process.env.NQ_FUZZ_N ?? 10_000);
const READERS = ['safetensors', 'gguf', 'tokenizer', 'chat-template', 'csv', 'jsonl', 'parquet'];

interface Finding {
  kind: string;
  index: number;
  mutations: string[];
  name?: string;
  message: string;
}

interface TargetResult {
  target: string;
  inputs: number;
  accepted: number;
  rejected: Record<string, number>;
  findings: Finding[];
}

async function fuzz(target: string): Promise<TargetResult> {
  const args = [RUNNER, '--targets', target, '--n', String(N), '--seed', String(SEED), '--timeout-ms', '5000', '--json'];
  const { stdout } = await promisify(execFile)(process.execPath, args, { timeout: 600_000, maxBuffer: 1 << 24 }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  const report = JSON.parse(stdout) as { results: TargetResult[] };
  return report.results[0] as TargetResult;
}

describe(`fuzzing the readers (${N} seeded inputs each)`, () => {
  it.each(READERS)('%s: every input is read or rejected with an SftError; no crash, no hang', async (target) => {
    const r = await fuzz(target);
    const shown = r.findings.map((f) => `${f.kind} at input ${f.index} [${f.mutations.join(', ')}]: ${f.name ?? ''} ${f.message}`);
    expect(shown, `rebuild one with: node scripts/fuzz/run.mjs --target ${target} --seed ${SEED} --only INDEX`).toEqual([]);
    expect(r.inputs).toBe(N);
    // The mutations reach past the first check: some inputs are still read, many are rejected.
    expect(r.accepted).toBeGreaterThan(0);
    expect(Object.values(r.rejected).reduce((a, b) => a + b, 0)).toBeGreaterThan(N / 10);
  });
});

// The decoding flags of `sft eval` (instruction data), `sft generate` and `sft chat`: greedy
// unless --temperature > 0, --top-k or --top-p is given (engine/sampling.ts). Values stay strings
// when they are not numbers, so the API's zod schema names the flag in its message.
import type { Command } from 'commander';

export function addSamplingFlags(cmd: Command, seed: boolean): Command {
  cmd
    .option('--temperature <t>', 'sample at this softmax temperature (0: greedy; default: greedy, or 1 with --top-k / --top-p)')
    .option('--top-k <k>', 'sample among the k most likely tokens (0: off)')
    .option('--top-p <p>', 'sample among the smallest set of most likely tokens whose probability reaches p (1: off)');
  // sft eval's --seed already exists (it seeds the split too).
  if (seed) cmd.option('--seed <n>', 'seed of the sampling: the same seed gives the same text (default 0)');
  return cmd;
}

/** The sampling flags present in `flags`, as numbers where they parse. */
export function samplingFlagValues(flags: Record<string, unknown>): { temperature?: number; topK?: number; topP?: number; seed?: number } {
  const out: Record<string, unknown> = {};
  for (const key of ['temperature', 'topK', 'topP', 'seed']) {
    const v = flags[key];
    if (typeof v === 'number') out[key] = v; // from a --config file
    if (typeof v !== 'string') continue;
    const n = Number(v);
    out[key] = v.trim() !== '' && Number.isFinite(n) ? n : v;
  }
  return out as { temperature?: number; topK?: number; topP?: number; seed?: number };
}

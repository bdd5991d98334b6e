// sft eval on instruction data (alpaca, ShareGPT, chat messages, prompt/completion): the
// generation task (api/evaluate-generation.ts). Its flags: --metrics, the sampling flags, and
// --max-new-tokens, whose default is 256 here (a flag left at the label task's default of 3
// does not apply). Prints the before/after table, or --json.
import type { Command } from 'commander';
import { evalTaskOf, evaluateGeneration, generationEvalOptionsSchema } from '../../api/evaluate-generation.js';
import { flagName, parseOptions } from '../../config/parse-options.js';
import { ErrorCode, SftError } from '../../errors.js';
import { generationTable } from '../../eval/generation-task-report.js';
import { abortOnInterrupt } from '../interrupt.js';
import { progressView } from '../progress-view.js';
import { toApiOptions, type RawFlags } from '../run-flags.js';
import { addSamplingFlags, samplingFlagValues } from '../sampling-flags.js';

const GENERATION_ONLY = ['metrics', 'temperature', 'topK', 'topP'];

export function addGenerationEvalFlags(cmd: Command): Command {
  cmd.option('--metrics <list>', 'instruction data (generated text scored against the reference answers, up to 256 new tokens unless --max-new-tokens is given): rouge, bleu, comma-separated (default: both)');
  return addSamplingFlags(cmd, false);
}

/**
 * Runs the generation task when the data holds instruction rows (and no other task was asked
 * for); false when the data is label rows, for the label path to take over.
 */
export async function runGenerationEval(flags: RawFlags, cmd: Command): Promise<boolean> {
  if (flags.task !== undefined && flags.task !== 'generate') return false;
  if (flags.format === 'label' && GENERATION_ONLY.every((k) => flags[k] === undefined)) return false; // label rows named: no need to read them to tell
  const raw = toApiOptions(flags);
  if (cmd.getOptionValueSource('maxNewTokens') === 'default') delete raw.maxNewTokens;
  Object.assign(raw, samplingFlagValues(flags));
  if (typeof flags.metrics === 'string') raw.metrics = flags.metrics.split(',').map((s) => s.trim()).filter(Boolean);
  delete raw.task;
  const options = parseOptions(generationEvalOptionsSchema, raw, 'sft eval options', flagName);
  if ((await evalTaskOf(options)) !== 'generate') {
    const given = GENERATION_ONLY.filter((k) => flags[k] !== undefined).map((k) => flagName(k));
    if (given.length > 0) {
      throw new SftError(`${given.join(', ')} apply to instruction data (generated text scored against reference answers); ${options.data} holds text + label rows`, ErrorCode.InvalidArgument);
    }
    return false;
  }
  const interrupt = abortOnInterrupt();
  try {
    const { report, files } = await evaluateGeneration(options, { ...(flags.json ? {} : { onProgress: progressView() }), signal: interrupt.signal });
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({ task: 'generate', ...(report.base ? { base: report.base } : {}), ...(report.adapter ? { adapter: report.adapter } : {}), skipped_rows: report.skipped_rows, settings: report.settings, files })}\n`);
      return true;
    }
    process.stdout.write(`${report.format} rows from ${report.data}, ${String(report.settings.decoding)}, up to ${String(report.settings.maxNewTokens)} new tokens\n\n`);
    process.stdout.write(generationTable(report));
    if (files.length) process.stdout.write(`wrote ${files.join(', ')}\n`);
    return true;
  } finally {
    interrupt.release();
  }
}

// sft generate: continuation of one prompt (plain text, or a user turn in the model's chat
// template) on a checkpoint or the bundled demo model, optionally with a trained adapter; greedy
// unless sampling flags are given; the text is printed as it is generated (--json: at the end).
import type { Command } from 'commander';
import { generateText } from '../../api/generate-text.js';
import { GENERATE_DEFAULTS } from '../../config/defaults.js';
import { ErrorCode, SftError } from '../../errors.js';
import { progressView } from '../progress-view.js';
import { addSamplingFlags, samplingFlagValues } from '../sampling-flags.js';

interface GenerateFlags {
  model: string;
  prompt?: string;
  chat?: string;
  maxNewTokens: string;
  minNewTokens: string;
  device?: 'cpu' | 'cuda';
  dtype?: 'float32' | 'bfloat16' | 'float16';
  quant?: 'none' | 'nf4' | 'fp4';
  json?: boolean;
  adapter?: string;
  temperature?: string;
  topK?: string;
  topP?: string;
  seed?: string;
}

function integerFlag(value: string, flag: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new SftError(`Expected an integer >= ${min} for ${flag} but received '${value}'`, ErrorCode.InvalidArgument);
  }
  return n;
}

export function registerGenerate(program: Command): void {
  const cmd = program
    .command('generate')
    .description('generation from a prompt (greedy, or sampled), optionally with a trained adapter')
    .requiredOption('--model <name>', "preset (sft models), Hub repo id (org/name), checkpoint folder (config.json + *.safetensors + tokenizer.json), or 'demo'")
    .option('--prompt <text>', 'plain-text prompt (tokenized with the tokenizer\'s special tokens, e.g. BOS)')
    .option('--chat <text>', "a user message, wrapped in the model's chat template (Qwen3: thinking off)")
    .option('--max-new-tokens <n>', 'most new tokens to generate', String(GENERATE_DEFAULTS.maxNewTokens))
    .option('--min-new-tokens <n>', 'suppress EOS until this many tokens', String(GENERATE_DEFAULTS.minNewTokens))
    .option('--device <device>', 'cpu or cuda (default: cuda when available)')
    .option('--dtype <dtype>', 'float32, bfloat16 or float16 (default: float32 on cpu, bfloat16 on cuda)')
    .option('--quant <type>', 'none, nf4 or fp4: 4-bit base weights (default: nf4 on cuda, none on cpu; bnb-4bit checkpoints load as stored)')
    .option('--json', 'print {"ids": [...], "text": "..."}')
    .option('--adapter <dir>', 'PEFT adapter folder (e.g. a `sft train` --out) applied to the model');
  addSamplingFlags(cmd, true);
  cmd.action(async (flags: GenerateFlags) => {
      if ((flags.prompt === undefined) === (flags.chat === undefined)) {
        throw new SftError('give exactly one of --prompt TEXT or --chat TEXT', ErrorCode.InvalidArgument);
      }
      const view = progressView(); // download progress only: stderr stays quiet for cached models
      let printed = '';
      const result = await generateText({
        model: flags.model,
        ...(flags.prompt !== undefined ? { prompt: flags.prompt } : { chat: flags.chat as string }),
        maxNewTokens: integerFlag(flags.maxNewTokens, '--max-new-tokens', 0),
        minNewTokens: integerFlag(flags.minNewTokens, '--min-new-tokens', 0),
        ...(flags.device ? { device: flags.device } : {}),
        ...(flags.dtype ? { dtype: flags.dtype } : {}),
        ...(flags.quant ? { quant: flags.quant } : {}),
        ...(flags.adapter !== undefined ? { adapter: flags.adapter } : {}),
        ...samplingFlagValues(flags as unknown as Record<string, unknown>),
      }, { onProgress: (e) => e.phase === 'download' && view(e) }, flags.json ? undefined : (piece) => {
        printed += piece;
        process.stdout.write(piece);
      });
      // What streaming held back (a decode that rewrote earlier text) is printed at the end.
      const rest = result.text.startsWith(printed) ? result.text.slice(printed.length) : '';
      process.stdout.write(flags.json ? `${JSON.stringify({ ids: result.ids, text: result.text })}\n` : `${rest}\n`);
    });
}

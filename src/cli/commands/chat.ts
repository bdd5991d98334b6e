// sft chat: a terminal conversation with a model (and optionally its trained adapter) through its
// chat template. Lines read from stdin are the user's turns (a terminal or a pipe); each reply is
// printed as it is generated. Ctrl-C during a reply stops that reply (what was written stays in
// the conversation); Ctrl-C at the prompt, /exit or the end of input ends the chat.
// /reset forgets the conversation.
import type { Command } from 'commander';
import { createInterface } from 'node:readline';
import { openChat } from '../../api/chat.js';
import { ErrorCode, SftError } from '../../errors.js';
import { progressView } from '../progress-view.js';
import { addModelFlags } from '../run-flags.js';
import { addSamplingFlags, samplingFlagValues } from '../sampling-flags.js';

interface ChatFlags {
  model: string;
  adapter?: string;
  system?: string;
  maxNewTokens?: string;
  minNewTokens?: string;
  device?: 'cpu' | 'cuda';
  dtype?: 'float32' | 'bfloat16' | 'float16';
  quant?: 'none' | 'nf4' | 'fp4';
  [key: string]: unknown;
}

const count = (v: string | undefined) => (v === undefined ? undefined : v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v);

export function registerChat(program: Command): void {
  const cmd = program
    .command('chat')
    .description("a terminal chat with a model (and adapter) through its chat template; replies stream as they are generated, Ctrl-C stops a reply");
  addModelFlags(cmd)
    .option('--adapter <dir>', 'PEFT adapter folder (e.g. a `sft train` --out) applied to the model')
    .option('--system <text>', 'a system turn that opens the conversation')
    .option('--max-new-tokens <n>', 'most new tokens per reply (default 512)')
    .option('--min-new-tokens <n>', 'suppress EOS until a reply has this many tokens (default 0)');
  addSamplingFlags(cmd, true);
  cmd.action(async (flags: ChatFlags) => {
    const view = progressView();
    const session = await openChat(
      {
        model: flags.model,
        ...(flags.adapter !== undefined ? { adapter: flags.adapter } : {}),
        ...(flags.system !== undefined ? { system: flags.system } : {}),
        ...(flags.maxNewTokens !== undefined ? { maxNewTokens: count(flags.maxNewTokens) as number } : {}),
        ...(flags.minNewTokens !== undefined ? { minNewTokens: count(flags.minNewTokens) as number } : {}),
        ...(flags.device ? { device: flags.device } : {}),
        ...(flags.dtype ? { dtype: flags.dtype } : {}),
        ...(flags.quant ? { quant: flags.quant } : {}),
        ...samplingFlagValues(flags),
      },
      { onProgress: (e) => e.phase === 'download' && view(e) },
    );
    const tty = process.stdin.isTTY === true;
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: tty, prompt: '> ' });
    let replying = false;
    let stopReply = false;
    let quit = false;
    const onInterrupt = () => {
      if (replying) {
        stopReply = true;
        return;
      }
      quit = true;
      rl.close();
    };
    rl.on('SIGINT', onInterrupt); // a terminal: readline owns Ctrl-C
    process.on('SIGINT', onInterrupt); // a pipe: the process gets it
    if (tty) process.stderr.write('sft chat: Ctrl-C stops a reply; /reset starts over; /exit (or Ctrl-C, Ctrl-D at the prompt) ends\n');
    try {
      if (tty) rl.prompt();
      for await (const line of rl) {
        const text = line.trim();
        if (text === '/exit' || text === '/quit') break;
        if (text === '/reset') {
          session.reset();
          process.stderr.write('(conversation reset)\n');
        } else if (text !== '') {
          replying = true;
          stopReply = false;
          try {
            for await (const piece of session.reply(text)) {
              process.stdout.write(piece);
              if (stopReply) break;
            }
          } catch (err) {
            if (!(err instanceof SftError) || err.code !== ErrorCode.InvalidArgument) throw err;
            process.stderr.write(`sft chat: ${err.message}\n`);
          } finally {
            replying = false;
          }
          process.stdout.write('\n');
          if (stopReply) process.stderr.write('(reply stopped)\n');
        }
        if (quit) break;
        if (tty) rl.prompt();
      }
    } finally {
      process.off('SIGINT', onInterrupt);
      rl.close();
      await session.dispose();
    }
  });
}

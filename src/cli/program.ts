// Registers the commands; each lives in commands/<name>.ts and only parses, calls the API and prints.
import { Command } from 'commander';
import { parseThreadCount } from '../config/cpu-threads.js';
import { packageVersion } from '../package-info.js';
import { registerChat } from './commands/chat.js';
import { registerDemo } from './commands/demo.js';
import { registerDoctor } from './commands/doctor.js';
import { registerEval } from './commands/eval.js';
import { registerExport } from './commands/export.js';
import { registerGenerate } from './commands/generate.js';
import { registerImport } from './commands/import.js';
import { registerMerge } from './commands/merge.js';
import { registerModels } from './commands/models.js';
import { registerPush } from './commands/push.js';
import { registerQuantize } from './commands/quantize.js';
import { registerPlan } from './commands/plan.js';
import { registerReport } from './commands/report.js';
import { registerSetup } from './commands/setup.js';
import { registerTrain } from './commands/train.js';

/** Commander's error text (and the help it shows after an error) stay off stderr under --json. */
const QUIET_ERRORS = { outputError: () => {}, writeErr: () => {} };

export interface ProgramSettings {
  /** --json is on the command line: failures are printed by bin.ts as JSON, not by commander as text. */
  json?: boolean;
}

export function buildProgram(settings: ProgramSettings = {}): Command {
  const program = new Command('sft')
    .description('QLoRA instruction tuning of open LLMs from Node.js')
    .version(packageVersion())
    .option('--threads <n>', 'CPU threads of the engine (same as NQ_THREADS; default: the CPUs this process may use)')
    .showHelpAfterError()
    .exitOverride()
    // Through the environment, so that data-parallel worker processes get the same count and
    // commands that never load the engine do not load it for this.
    .hook('preAction', (root) => {
      const threads = root.opts<{ threads?: string }>().threads;
      if (threads !== undefined) process.env.NQ_THREADS = String(parseThreadCount(threads, '--threads'));
    });
  registerTrain(program);
  registerEval(program);
  registerDemo(program);
  registerGenerate(program);
  registerChat(program);
  registerQuantize(program);
  registerImport(program);
  registerMerge(program);
  registerExport(program);
  registerPlan(program);
  registerReport(program);
  registerModels(program);
  registerPush(program);
  registerSetup(program);
  registerDoctor(program);
  for (const command of program.commands) {
    // Every command takes --json; those without JSON results still report a failure as JSON.
    if (!command.options.some((o) => o.long === '--json')) command.option('--json', 'on failure, print {"error": {"code", "message", "hint"}} on stdout');
    if (settings.json) command.configureOutput(QUIET_ERRORS);
  }
  if (settings.json) program.configureOutput(QUIET_ERRORS);
  return program;
}

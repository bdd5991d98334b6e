// Registers the commands; each lives in commands/<name>.ts and only parses, calls the API and prints.
import { Command } from 'commander';
import { packageVersion } from '../package-info.js';
import { registerDemo } from './commands/demo.js';
import { registerEval } from './commands/eval.js';
import { registerGenerate } from './commands/generate.js';
import { registerImport } from './commands/import.js';
import { registerModels } from './commands/models.js';
import { registerQuantize } from './commands/quantize.js';
import { registerReport } from './commands/report.js';
import { registerTrain } from './commands/train.js';

export function buildProgram(): Command {
  const program = new Command('sft')
    .description('QLoRA instruction tuning of open LLMs from Node.js')
    .version(packageVersion())
    .showHelpAfterError()
    .exitOverride();
  registerTrain(program);
  registerEval(program);
  registerDemo(program);
  registerGenerate(program);
  registerQuantize(program);
  registerImport(program);
  registerReport(program);
  registerModels(program);
  return program;
}

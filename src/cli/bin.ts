#!/usr/bin/env node
// The `sft` executable: the only place that sets the process exit code.
import { CommanderError } from 'commander';
import { SftError } from '../errors.js';
import { exitCodeFor } from './interrupt.js';
import { buildProgram } from './program.js';

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // commander already printed help, the version, or what was wrong with the arguments.
    process.exitCode = err.exitCode;
  } else if (err instanceof SftError) {
    process.stderr.write(`sft: ${err.message} [${err.code}]\n`);
    process.exitCode = exitCodeFor(err); // 128 + the signal's number when a signal stopped the command
  } else {
    process.stderr.write(`sft: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  }
}

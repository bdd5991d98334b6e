#!/usr/bin/env node
// The `sft` executable: the only place that sets the process exit code. With --json a failure
// is one JSON object on stdout ({"error": {"code", "message", "hint"}}); see json-error.ts.
import { CommanderError } from 'commander';
import { SftError } from '../errors.js';
import { exitCodeFor } from './interrupt.js';
import { errorReport, isCommanderSuccess, jsonErrorLine, wantsJson } from './json-error.js';

const args = process.argv.slice(2);
const json = wantsJson(args);
let commandNames: string[] = [];

if (json) {
  // A failure outside the command's promise (an 'error' event nobody handles, a rejection
  // nobody awaits) still ends the process as Node ends it, but after printing its JSON line.
  process.on('uncaughtExceptionMonitor', (err) => process.stdout.write(jsonErrorLine(errorReport(err, args, commandNames))));
}

try {
  // Imported here so that a failure while loading the commands is reported like any other.
  const { buildProgram } = await import('./program.js');
  const program = buildProgram({ json });
  commandNames = program.commands.map((c) => c.name());
  await program.parseAsync(process.argv);
} catch (err) {
  if (isCommanderSuccess(err)) {
    process.exitCode = 0; // help or the version, as asked
  } else if (json) {
    process.stdout.write(jsonErrorLine(errorReport(err, args, commandNames)));
    process.exitCode = err instanceof CommanderError ? err.exitCode : exitCodeFor(err);
  } else if (err instanceof CommanderError) {
    // commander already printed help or what was wrong with the arguments.
    process.exitCode = err.exitCode;
  } else if (err instanceof SftError) {
    process.stderr.write(`sft: ${err.message} [${err.code}]\n`);
    process.exitCode = exitCodeFor(err); // 128 + the signal's number when a signal stopped the command
  } else {
    process.stderr.write(`sft: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  }
}

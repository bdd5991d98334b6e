// Signals during a long command. The first SIGINT (Ctrl-C), SIGTERM (a scheduler, `kill`) or
// SIGHUP (the terminal closed) asks the work to stop at the next step boundary (training then
// saves a checkpoint); the command then fails with ABORTED and the process exits with the
// shell's code for that signal (128 + its number: 130, 143, 129). A second signal ends the
// process at once: checkpoints appear whole by rename, so the last complete one stays intact.
import { constants } from 'node:os';
import { TrainingStopped } from '../api/train.js';
import { ErrorCode, SftError } from '../errors.js';

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type StopSignal = (typeof STOP_SIGNALS)[number];

let received: StopSignal | undefined;

/** The shell's exit status for a process ended by `signal`. */
export function signalExitCode(signal: StopSignal): number {
  return 128 + constants.signals[signal];
}

/**
 * Ends the process at once by `signal` itself: its handlers go, so the signal's default action
 * applies (the shell sees 128 + its number). process.exit() would run libtorch's static
 * destructors under a model thread still computing, which can crash (SIGSEGV) instead.
 */
function quitNow(signal: StopSignal): void {
  for (const s of STOP_SIGNALS) process.removeAllListeners(s);
  process.kill(process.pid, signal);
}

export function abortOnInterrupt(): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const onSignal = (signal: StopSignal) => {
    if (controller.signal.aborted) quitNow(signal);
    received = signal;
    // After a hangup the terminal is gone: writing to it fails (EIO), which must not end the run before its checkpoint.
    if (signal === 'SIGHUP') for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
    const again = signal === 'SIGINT' ? 'Ctrl-C again' : `${signal} again`;
    process.stderr.write(`\nsft: ${signal}: stopping after the current step (${again} to quit now)\n`);
    controller.abort(signal);
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  return { signal: controller.signal, release: () => STOP_SIGNALS.forEach((s) => process.off(s, onSignal)) };
}

/** The exit status for a command that failed with `err`: a signal's code when a signal stopped it, else 1. */
export function exitCodeFor(err: unknown): number {
  const stopped = err instanceof SftError && err.code === ErrorCode.Aborted && received !== undefined;
  return stopped ? signalExitCode(received as StopSignal) : 1;
}

const quoted = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`);

/** This command line with `--resume` (replacing a `--resume <checkpoint>` it had): how to continue a stopped run. */
export function resumeCommand(args: readonly string[] = process.argv.slice(2)): string {
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg.startsWith('--resume=')) continue;
    if (arg === '--resume') {
      if (args[i + 1] !== undefined && !(args[i + 1] as string).startsWith('-')) i++; // its checkpoint argument
      continue;
    }
    kept.push(arg);
  }
  return ['sft', ...kept, '--resume'].map(quoted).join(' ');
}

/** A stopped training run's error, with the command that continues it on a line of its own. */
export function withResumeCommand(err: unknown): unknown {
  if (!(err instanceof TrainingStopped)) return err;
  const how = received ? `exit status ${signalExitCode(received)}: stopped by ${received}` : 'stopped';
  return new TrainingStopped(`${err.message}\nresume with: ${resumeCommand()}\n(${how})`, err.checkpoint);
}

// The command a stopped `sft train` prints to resume it: the same arguments with --resume (a
// --resume <checkpoint> it had becomes plain --resume, the newest checkpoint), quoted for a shell.
import { describe, expect, it } from 'vitest';
import { TrainingStopped } from '../../src/api/train.js';
import { exitCodeFor, resumeCommand, signalExitCode, withResumeCommand } from '../../src/cli/interrupt.js';
import { SftError } from '../../src/errors.js';

describe('resumeCommand', () => {
  it('adds --resume to the same arguments', () => {
    expect(resumeCommand(['train', '--model', 'demo', '--out', 'runs/a'])).toBe('sft train --model demo --out runs/a --resume');
  });

  it('replaces --resume <checkpoint> and --resume=<checkpoint>, keeps a following flag', () => {
    expect(resumeCommand(['train', '--resume', 'runs/a/checkpoints/step-4', '--out', 'runs/a'])).toBe('sft train --out runs/a --resume');
    expect(resumeCommand(['train', '--resume=runs/a/checkpoints/step-4', '--out', 'runs/a'])).toBe('sft train --out runs/a --resume');
    expect(resumeCommand(['train', '--resume', '--json', '--out', 'runs/a'])).toBe('sft train --json --out runs/a --resume');
  });

  it('quotes what a shell would split or expand', () => {
    expect(resumeCommand(['train', '--out', 'my runs/a', '--label-map', "it's=1", '--data', '$HOME/x.csv'])).toBe(
      `sft train --out 'my runs/a' --label-map 'it'\\''s=1' --data '$HOME/x.csv' --resume`,
    );
  });
});

describe('exit status and message of a stopped run', () => {
  it('is 128 + the signal number only for an ABORTED error after a signal', () => {
    expect([signalExitCode('SIGINT'), signalExitCode('SIGTERM'), signalExitCode('SIGHUP')]).toEqual([130, 143, 129]);
    // No signal was received in this process: an ABORTED error (an API abort) exits 1 like any other.
    expect(exitCodeFor(new SftError('stopped', 'ABORTED'))).toBe(1);
    expect(exitCodeFor(new Error('x'))).toBe(1);
  });

  it('a TrainingStopped gets the resume command on a line of its own; other errors pass unchanged', () => {
    const stopped = withResumeCommand(new TrainingStopped('training stopped at step 4 (aborted); checkpoint saved to c (step 4), continue with --resume', 'c'));
    expect(stopped).toBeInstanceOf(TrainingStopped);
    expect((stopped as TrainingStopped).message.split('\n')[1]).toMatch(/^resume with: sft( .*)? --resume$/);
    expect((stopped as TrainingStopped).checkpoint).toBe('c');
    const other = new SftError('bad', 'INVALID_ARGUMENT');
    expect(withResumeCommand(other)).toBe(other);
  });
});

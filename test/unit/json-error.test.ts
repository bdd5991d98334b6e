// What `sft --json` prints for each kind of failure (src/cli/json-error.ts): commander's usage
// errors, SftErrors with their code's hint, and anything else as INTERNAL_ERROR.
import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { ERROR_HINTS, errorReport, isCommanderSuccess, jsonErrorLine, wantsJson } from '../../src/cli/json-error.js';
import { SftError } from '../../src/errors.js';

describe('--json error reports', () => {
  it('finds --json among the options, not after --', () => {
    expect(wantsJson(['train', '--model', 'demo', '--json'])).toBe(true);
    expect(wantsJson(['--json', 'models'])).toBe(true);
    expect(wantsJson(['train', '--', '--json'])).toBe(false);
    expect(wantsJson(['train', '--jsonx'])).toBe(false);
  });

  it("a commander usage error: INVALID_ARGUMENT, commander's message without its prefix, the command's --help", () => {
    const err = new CommanderError(1, 'commander.unknownOption', "error: unknown option '--bogus'");
    expect(errorReport(err, ['eval', '--bogus', '--json'], ['train', 'eval'])).toEqual({
      code: 'INVALID_ARGUMENT',
      message: "unknown option '--bogus'",
      hint: 'run `sft eval --help` for the accepted options',
    });
    expect(errorReport(new CommanderError(1, 'commander.help', '(outputHelp)'), ['--json'], ['train']).message).toBe('no command given');
  });

  it("an SftError keeps its code and message and gets its code's hint", () => {
    const report = errorReport(new SftError('rows.csv:3: unclosed quote', 'INVALID_DATA'));
    expect(report).toEqual({ code: 'INVALID_DATA', message: 'rows.csv:3: unclosed quote', hint: ERROR_HINTS.INVALID_DATA });
    expect(errorReport(new SftError('x', 'SOME_NEW_CODE')).hint).toContain('docs/errors.md');
  });

  it('anything else is INTERNAL_ERROR with its stack', () => {
    const report = errorReport(new TypeError("Cannot read properties of undefined (reading 'x')"));
    expect(report.code).toBe('INTERNAL_ERROR');
    expect(report.message).toMatch(/^unexpected error: TypeError: Cannot read properties/);
    expect(report.hint).toContain('bug');
    expect(errorReport('a thrown string').message).toBe('unexpected error: a thrown string');
  });

  it('prints one line of JSON; help and version are not failures', () => {
    const line = jsonErrorLine({ code: 'A_B', message: 'm\n"q"', hint: 'h' });
    expect(line.endsWith('\n') && line.split('\n').length === 2).toBe(true);
    expect(JSON.parse(line)).toEqual({ error: { code: 'A_B', message: 'm\n"q"', hint: 'h' } });
    expect(isCommanderSuccess(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'))).toBe(true);
    expect(isCommanderSuccess(new CommanderError(1, 'commander.unknownOption', 'x'))).toBe(false);
  });
});

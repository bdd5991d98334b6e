// `--json` failures: every command, whatever failed (commander's parsing of the command line, a
// hook before the command, the command itself), prints exactly one JSON object
// {"error": {"code", "message", "hint"}} on stdout, nothing from commander on stderr, and
// exits non-zero.
import { describe, expect, it } from 'vitest';
import { ERROR_HINTS } from '../../src/cli/json-error.js';
import { sft } from '../helpers/cli.js';

interface JsonError {
  error: { code: string; message: string; hint: string };
}

async function jsonFailure(args: string[]): Promise<JsonError['error'] & { status: number; stderr: string }> {
  const r = await sft(args);
  expect(r.code, `sft ${args.join(' ')} should fail; stdout: ${r.stdout}`).not.toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines, `stdout of sft ${args.join(' ')}`).toHaveLength(1);
  const parsed = JSON.parse(lines[0] as string) as JsonError;
  expect(Object.keys(parsed)).toEqual(['error']);
  expect(Object.keys(parsed.error).sort()).toEqual(['code', 'hint', 'message']);
  for (const field of ['code', 'message', 'hint'] as const) expect(parsed.error[field].length).toBeGreaterThan(0);
  return { ...parsed.error, status: r.code, stderr: r.stderr };
}

const COMMANDS = ['train', 'eval', 'demo', 'generate', 'quantize', 'import', 'report', 'models', 'setup'];

describe('sft --json failures', () => {
  it.each(COMMANDS)('%s: an unknown option is one JSON error, with no commander text on stderr', async (command) => {
    const e = await jsonFailure([command, '--json', '--no-such-option']);
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/--no-such-option|required option/);
    expect(e.hint).toBe(`run \`sft ${command} --help\` for the accepted options`);
    expect(e.stderr).not.toContain('error:');
    expect(e.status).toBe(1);
  });

  it('a missing required option, an unknown command, and no command at all', async () => {
    expect((await jsonFailure(['train', '--json'])).message).toBe("required option '--model <id>' not specified");
    const unknown = await jsonFailure(['trian', '--json']);
    expect(unknown.message).toContain("unknown command 'trian'");
    expect(unknown.hint).toBe('run `sft --help` for the accepted commands');
    expect((await jsonFailure(['--json'])).code).toBe('INVALID_ARGUMENT');
  });

  it('a failure in the hook before the command (--threads) keeps its own code and message', async () => {
    const e = await jsonFailure(['--threads', 'abc', 'models', '--json']);
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toContain("--threads but received 'abc'");
    expect(e.hint).toBe(ERROR_HINTS.INVALID_ARGUMENT);
  });

  it("a command's own SftError: its code, its message and the code's hint", async () => {
    const missing = await jsonFailure(['report', '/nonexistent/run-dir', '--json']);
    expect(missing.code).toBe('FILE_NOT_FOUND');
    expect(missing.message).toContain('/nonexistent/run-dir');
    expect(missing.hint).toBe(ERROR_HINTS.FILE_NOT_FOUND);
    const data = await jsonFailure(['eval', '--json', '--model', 'demo', '--data', '/nonexistent/rows.csv']);
    expect(data.code).toBe('FILE_NOT_FOUND');
    expect(data.message).toContain('/nonexistent/rows.csv');
    const gguf = await jsonFailure(['import', '--json', '--gguf', '/nonexistent/m.gguf', '--out', '/tmp/nq-json-errors-never']);
    expect(gguf.message).toContain('/nonexistent/m.gguf');
  });

  it('without --json, the same failure stays text on stderr and stdout is empty', async () => {
    const r = await sft(['report', '/nonexistent/run-dir']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^sft: no run directory at \/nonexistent\/run-dir.*\[FILE_NOT_FOUND\]/);
  });
});

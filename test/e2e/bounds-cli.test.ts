// The CLI refuses inputs that would make it allocate without bound or work in vain, before it
// loads anything: numeric options out of range, a prompt beyond the model's context, an output
// path it cannot write, a chat template that loops without end. The last tests run such cases
// under a memory cap (`ulimit -v`) and expect the typed error, never a kill.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { SFT_BIN, sft } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'nq-bounds-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const demoModel = join(import.meta.dirname, '..', '..', 'assets', 'demo', 'model');

/** The CLI under `ulimit -v` (KiB of address space), through bash; code is the exit status, signal when killed. */
async function sftCapped(kib: number, args: string[]): Promise<{ code: number | null; signal: string | null; stdout: string }> {
  const script = `ulimit -v ${kib}; exec "$0" "$@"`;
  try {
    const { stdout } = await promisify(execFile)('bash', ['-c', script, process.execPath, SFT_BIN, ...args], { timeout: 60_000 });
    return { code: 0, signal: null, stdout };
  } catch (err) {
    const e = err as { code?: number; signal?: string; stdout?: string };
    return { code: typeof e.code === 'number' ? e.code : null, signal: e.signal ?? null, stdout: e.stdout ?? '' };
  }
}

const jsonError = (stdout: string) => (JSON.parse(stdout.trim()) as { error: { code: string; message: string } }).error;

describe('sft refuses before work', () => {
  it.each([
    [['--lr', '1e308'], '--lr: expected a number in (0, 1] but received 1e+308'],
    [['--batch-size', '1e9'], '--batch-size: expected an integer in [1, 65536] but received 1000000000'],
    [['--lora-r', '0'], '--lora-r: expected an integer in [1, 4096] but received 0'],
    [['--max-seq-len', '-5'], '--max-seq-len: expected an integer in [8, 1048576] but received -5'],
  ])('sft train %j: INVALID_ARGUMENT with the range, nothing written', async (flags, message) => {
    const out = join(dir, `run-${flags[0]}`);
    const r = await sft(['train', '--model', 'demo', '--data', 'demo', '--out', out, ...flags, '--json']);
    expect(r.code).toBe(1);
    expect(jsonError(r.stdout)).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(message) });
    expect(existsSync(out)).toBe(false);
  });

  it('sft generate --max-new-tokens 1e9 (before: a raw TORCH_ERROR)', async () => {
    const r = await sft(['generate', '--model', 'demo', '--prompt', 'hi', '--max-new-tokens', '1e9', '--json']);
    expect(r.code).toBe(1);
    expect(jsonError(r.stdout)).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('maxNewTokens: expected an integer in [0, 1048576]') });
  });

  it('sft generate --max-new-tokens 600 on a 512-token model: beyond the context', async () => {
    const r = await sft(['generate', '--model', 'demo', '--prompt', 'hi', '--max-new-tokens', '600', '--json']);
    expect(jsonError(r.stdout)).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining("beyond the model's context length of 512 tokens") });
  });

  it('--out under /proc, a device file or an existing file: OUTPUT_NOT_WRITABLE naming it (before: spun forever, or EEXIST after the whole eval)', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    for (const [args, path] of [
      [['eval', '--model', 'demo', '--data', 'demo', '--out', '/proc/x'], '/proc/x'],
      [['train', '--model', 'demo', '--data', 'demo', '--out', '/dev/null'], '/dev/null'],
      [['eval', '--model', 'demo', '--data', 'demo', '--out', file], file],
      [['demo', '--out', file], file],
      [['report', dir, '--out', '/dev/zero'], '/dev/zero'],
    ] as const) {
      const r = await sft([...args, '--json']);
      expect(r.code, args.join(' ')).toBe(1);
      expect(jsonError(r.stdout)).toMatchObject({ code: 'OUTPUT_NOT_WRITABLE', message: expect.stringContaining(path) });
    }
    expect(readFileSync(file, 'utf8')).toBe('x');
  });
});

describe('under a memory cap (ulimit -v 3 GiB): a typed error, never a kill', () => {
  it('a 20,000-token prompt to sft generate (before: killed by the kernel at 24 GB)', async () => {
    const r = await sftCapped(3 * 2 ** 20, ['generate', '--model', 'demo', '--prompt', 'great movie '.repeat(10_000), '--json']);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    expect(jsonError(r.stdout)).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^prompt has 20002 tokens/) });
  });

  it('a chat template with range(10**9) (before: Node out of memory, exit 134)', async () => {
    const model = join(dir, 'looping-template');
    cpSync(demoModel, model, { recursive: true });
    const configFile = join(model, 'tokenizer_config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(configFile, JSON.stringify({ ...config, chat_template: '{% for i in range(10**9) %}{{ messages[0].content }}{% endfor %}' }));
    const r = await sftCapped(3 * 2 ** 20, ['generate', '--model', model, '--chat', 'hi', '--json']);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    expect(jsonError(r.stdout)).toMatchObject({ code: 'CHAT_TEMPLATE', message: expect.stringContaining('range(1000000000)') });
  });
});

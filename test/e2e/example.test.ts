// examples/ must keep working: run the README's API example as a user would.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const work = mkdtempSync(join(tmpdir(), 'nq-example-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('examples/train-and-eval.mjs', () => {
  it('trains, evaluates and prints the before/after row', async () => {
    const script = join(import.meta.dirname, '..', '..', 'examples', 'train-and-eval.mjs');
    const out = join(work, 'run');
    const { stdout } = await promisify(execFile)(process.execPath, [script, out], { timeout: 120_000 });
    expect(stdout).toMatch(/trained 125 steps in [\d.]+ s/);
    expect(stdout).toMatch(/acc_bf_train/);
    expect(existsSync(join(out, 'eval.json'))).toBe(true);
    expect(existsSync(join(out, 'adapter_model.safetensors'))).toBe(true);
  }, 120_000);
});

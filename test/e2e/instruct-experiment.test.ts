// The seed's open-ended SFT experiment on CPU (issue 16 point 4), as a user runs it: the one
// command (scripts/experiments/instruct.mjs over dist/) trains the bundled demo model on the
// bundled instruction set with the alpaca template and scores greedy generations on held-out
// rows before and after. A shortened recipe (320 rows x 2 epochs, 20 test rows) keeps it to
// about half a minute; the gain in ROUGE-L must show all the same, and the reported figures
// must be those of the generations it wrote.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { corpusBleu, rouge } from '../../src/api/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'nq-instruct-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Scores { rouge1: number; rouge2: number; rougeL: number; rougeLsum: number; bleu: number; n: number; newTokens: number }

describe('instruct experiment (demo model, bundled instruction set, CPU)', () => {
  it('training raises ROUGE-L on held-out rows, and the figures are those of the written generations', async () => {
    const out = join(work, 'run');
    const script = join(ROOT, 'scripts', 'experiments', 'instruct.mjs');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [script, '--model', 'demo', '--data', join(ROOT, 'assets', 'instruct'), '--out', out, '--train-limit', '320', '--epochs', '2', '--test-limit', '20', '--json'],
      { cwd: ROOT, timeout: 110_000, maxBuffer: 1 << 24 },
    );
    const result = JSON.parse(stdout) as { before: Scores; after: Scores; train: { steps: number; tokensPerSecond: number }; data: { trainRows: number } };
    expect(result.data.trainRows).toBe(320);
    expect(result.train.steps).toBe(40);
    expect(result.before.n).toBe(20);
    expect(result.after.rougeL - result.before.rougeL, `ROUGE-L before ${result.before.rougeL}, after ${result.after.rougeL}`).toBeGreaterThan(0.1);
    expect(result.after.rouge1).toBeGreaterThan(result.before.rouge1);
    expect(existsSync(join(out, 'adapter_model.safetensors'))).toBe(true);

    // The references are the held-out rows' outputs; the table is recomputed from predictions.jsonl.
    const expectedRefs = readFileSync(join(ROOT, 'assets', 'instruct', 'test.jsonl'), 'utf8').trim().split('\n').slice(0, 20).map((l) => (JSON.parse(l) as { output: string }).output);
    const lines = readFileSync(join(out, 'predictions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { reference: string; before: string; after: string });
    expect(lines.map((l) => l.reference)).toEqual(expectedRefs);
    expect(lines.some((l) => l.before !== l.after)).toBe(true);
    for (const which of ['before', 'after'] as const) {
      const texts = lines.map((l) => l[which]);
      const r = rouge(texts, expectedRefs);
      expect(result[which].rougeL).toBe(r.rougeL);
      expect(result[which].rougeLsum).toBe(r.rougeLsum);
      expect(result[which].bleu).toBe(corpusBleu(texts, expectedRefs).score);
    }
  }, 120_000);
});

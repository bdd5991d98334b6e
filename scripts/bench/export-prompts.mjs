#!/usr/bin/env node
// The seed job's prompts as text, for the Python side of the benchmark (anchor.py): each row of
// SAMPLE_DIR/{train,test}.jsonl (export-sample.mjs) through the same prompt builder `sft train`
// and `sft eval` use (the imdb template, no chat template, the review cut at a token boundary
// so prompt + answer fit --max-seq-len). Writes SAMPLE_DIR/prompts-{train,test}.jsonl with
// {id, prompt, completion, promptTokens, cutTokens}: prompt is the exact text whose tokens are
// ours (a cut prompt is the decoded ids of our cut), completion the answer of the label map.
// Reserve: the answer + EOS for train, max-new-tokens for test, as sft does.
//   node scripts/bench/export-prompts.mjs TOKENIZER_DIR SAMPLE_DIR [--max-seq-len 2048] [--max-new-tokens 3]
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadTokenizer } from '../../dist/tokenize/tokenizer.js';
import { PromptBuilder } from '../../dist/data/prompt-builder.js';
import { resolveTemplate } from '../../dist/data/templates.js';
import { labelMapFromString } from '../../dist/data/label-map.js';
import { DATA_DEFAULTS, EVAL_DEFAULTS } from '../../dist/config/defaults.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    'max-seq-len': { type: 'string', default: String(DATA_DEFAULTS.maxSeqLen) },
    'max-new-tokens': { type: 'string', default: String(EVAL_DEFAULTS.maxNewTokens) },
  },
});
const [tokenizerDir, sampleDir] = positionals;
if (!tokenizerDir || !sampleDir) throw new Error('usage: export-prompts.mjs TOKENIZER_DIR SAMPLE_DIR [--max-seq-len N] [--max-new-tokens N]');

const tokenizer = await loadTokenizer(tokenizerDir);
const builder = await PromptBuilder.create(tokenizer, resolveTemplate(DATA_DEFAULTS.template), { chat: false, maxSeqLen: Number(values['max-seq-len']) });
const answers = new Map(labelMapFromString(DATA_DEFAULTS.labelMap).map((c) => [c.name, c.answer]));

for (const split of ['train', 'test']) {
  const rows = readFileSync(join(sampleDir, `${split}.jsonl`), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const lines = [];
  let cut = 0;
  for (const row of rows) {
    const completion = answers.get(row.sentiment);
    if (completion === undefined) throw new Error(`${split}.jsonl ${row.id}: sentiment ${JSON.stringify(row.sentiment)} is not in the label map ${DATA_DEFAULTS.labelMap}`);
    const reserve = split === 'train' ? (await builder.response(completion)).length : Number(values['max-new-tokens']);
    const { ids, cutTokens } = await builder.prompt(row.review, reserve);
    const prompt = cutTokens === 0 ? builder.promptText(row.review) : await tokenizer.decode(ids);
    if (cutTokens > 0) cut++;
    lines.push(JSON.stringify({ id: row.id, prompt, completion, promptTokens: ids.length, cutTokens }));
  }
  writeFileSync(join(sampleDir, `prompts-${split}.jsonl`), `${lines.join('\n')}\n`);
  console.log(`${split}: ${lines.length} prompts -> ${join(sampleDir, `prompts-${split}.jsonl`)} (${cut} cut to fit)`);
}

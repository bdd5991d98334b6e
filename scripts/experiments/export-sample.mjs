// Writes the fixed, seeded IMDB samples both stacks of the experiment read, as JSON Lines
// (id, review, sentiment): the same rows `sft` would pick with --limit N --seed S, so the
// transformers + peft baseline trains and scores exactly the rows we do.
//   node scripts/experiments/export-sample.mjs IMDB_DIR OUT_DIR [--train 4000] [--test 2000] [--seed 3407]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadLabelledData } from '../../dist/api/dataset.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { train: { type: 'string', default: '4000' }, test: { type: 'string', default: '2000' }, seed: { type: 'string', default: '3407' } },
});
const [imdbDir, outDir] = positionals;
if (!imdbDir || !outDir) throw new Error('usage: export-sample.mjs IMDB_DIR OUT_DIR [--train N] [--test N] [--seed S]');
mkdirSync(outDir, { recursive: true });
for (const [split, n] of [['train', Number(values.train)], ['test', Number(values.test)]]) {
  const data = await loadLabelledData(
    {
      data: join(imdbDir, `${split}.csv.gz`), textColumn: 'review', labelColumn: 'sentiment', labelMap: 'positive=1,negative=0',
      valSplit: 0, testSplit: 0, limit: n, seed: Number(values.seed),
    },
    'eval',
  );
  // Raw text as in the file is what `sft` reads too (it cleans <br /> itself); keep the cleaned
  // text here so the Python side needs no HTML cleaning of its own.
  const lines = data.train.map((e) => JSON.stringify({ id: `${split}:${e.row}`, review: e.text, sentiment: e.label }));
  writeFileSync(join(outDir, `${split}.jsonl`), `${lines.join('\n')}\n`);
  console.log(`${split}: ${lines.length} rows -> ${join(outDir, `${split}.jsonl`)} (skipped ${data.skipped.length})`);
}

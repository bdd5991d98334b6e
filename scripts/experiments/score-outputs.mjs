// Scores raw generations ({label, output} per line) with node-qlora's own label parser and
// metrics, so both stacks of the experiment are scored by the same code.
//   node scripts/experiments/score-outputs.mjs outputs.jsonl [--label-map positive=1,negative=0]
// Prints one JSON object: n, acc, resp_acc, correct, valid, confusion.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { computeMetrics, createLabelParser } from '../../dist/api/index.js';
import { labelMapFromString } from '../../dist/data/label-map.js';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { 'label-map': { type: 'string', default: 'positive=1,negative=0' } } });
const [file] = positionals;
if (!file) throw new Error('usage: score-outputs.mjs outputs.jsonl [--label-map MAP]');
const classes = labelMapFromString(values['label-map']);
const parse = createLabelParser(classes);
const items = readFileSync(file, 'utf8').trim().split('\n').map((line) => {
  const { label, output } = JSON.parse(line);
  return { label, prediction: parse(output) };
});
const { seconds: _unused, ...metrics } = computeMetrics(items, classes, 0);
console.log(JSON.stringify(metrics));

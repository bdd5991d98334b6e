// `sft train --preview N`: the first N training rows as the model sees them, decoded, with the
// trained part (the tokens whose labels are not -100) between « and », then exit. It reads the
// data and the model's tokenizer and config.json only: no weights are loaded, no run folder is
// written. Each span's text is the difference of decoding the ids up to its end and up to its
// start, so a character split across the span edge is shown once.
import { IGNORE_INDEX } from '../data/collate.js';
import { resolveModelForRun } from '../api/model-source.js';
import type { RunControl } from '../api/progress.js';
import { loadTrainData, type TrainExample } from '../api/train-data.js';
import type { ResolvedTrainOptions } from '../config/run-options.js';
import { ErrorCode, SftError } from '../errors.js';
import type { Tokenizer } from '../tokenize/tokenizer.js';

/** sft train's options less the run folder, which a preview never reads. */
export type PreviewOptions = Omit<ResolvedTrainOptions, 'out'>;

export const TRAINED_OPEN = '«';
export const TRAINED_CLOSE = '»';

export interface PreviewSegment {
  text: string;
  trained: boolean;
}

export interface PreviewRow {
  file: string;
  row: number;
  tokens: number;
  trainedTokens: number;
  segments: PreviewSegment[];
}

/** The example's ids decoded in runs of trained and untrained tokens. */
export async function previewRow(example: TrainExample, tokenizer: Tokenizer): Promise<PreviewRow> {
  const edges: number[] = [];
  example.labels.forEach((label, t) => {
    if (t > 0 && (label === IGNORE_INDEX) !== (example.labels[t - 1] === IGNORE_INDEX)) edges.push(t);
  });
  edges.push(example.ids.length);
  const texts = await tokenizer.decodeBatch(edges.map((end) => example.ids.slice(0, end)), { skipSpecialTokens: false });
  let start = 0;
  let before = '';
  const segments: PreviewSegment[] = edges.map((end, k) => {
    const text = (texts[k] as string).slice(before.length);
    const segment = { text, trained: example.labels[start] !== IGNORE_INDEX };
    before = texts[k] as string;
    start = end;
    return segment;
  });
  return { file: example.file, row: example.row, tokens: example.ids.length, trainedTokens: example.labels.filter((l) => l !== IGNORE_INDEX).length, segments };
}

export function formatPreview(rows: readonly PreviewRow[], summary: string): string {
  const blocks = rows.map((r, i) => {
    const text = r.segments.map((s) => (s.trained ? `${TRAINED_OPEN}${s.text}${TRAINED_CLOSE}` : s.text)).join('');
    return `--- ${i + 1}/${rows.length}: ${r.file} row ${r.row}, ${r.tokens} tokens, ${r.trainedTokens} trained ---\n${text}`;
  });
  return [summary, `${TRAINED_OPEN}...${TRAINED_CLOSE} marks the trained tokens (the loss); the rest is context (label -100).`, ...blocks, ''].join('\n');
}

/** The preview of a train command's options: the summary line and the first `count` rows. */
export async function previewTraining(o: PreviewOptions, count: number, control: RunControl = {}): Promise<{ summary: string; rows: PreviewRow[] }> {
  const { dir } = await resolveModelForRun(o.model, control);
  const train = await loadTrainData(dir, o, control);
  if (train.examples.length === 0) {
    throw new SftError(`no training rows to preview in ${train.data.source} (${train.skipped.length} skipped${train.skipped[0] ? `; the first: row ${train.skipped[0].row}, ${train.skipped[0].reason}` : ''})`, ErrorCode.InvalidArgument);
  }
  const rows: PreviewRow[] = [];
  for (const example of train.examples.slice(0, count)) rows.push(await previewRow(example, train.tokenizer));
  return { summary: train.summary, rows };
}

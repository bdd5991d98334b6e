// The training rows of a run as token ids and labels, whatever the data format: label rows go
// through the label prompt builder (template + answer from the label map), instruction rows
// (alpaca, ShareGPT, chat messages, prompt/completion) through the instruction builder (response
// and every assistant turn trained). train() and `sft train --preview` read their rows here, so
// the preview shows exactly what training sees.
import type { TokenizedExample } from '../data/collate.js';
import type { PromptBuilder } from '../data/prompt-builder.js';
import type { SkippedRow } from '../eval/report-types.js';
import type { Tokenizer } from '../tokenize/tokenizer.js';
import { loadTaskData, type DataOptions, type InstructionData, type LabelledData } from './dataset.js';
import type { RunControl } from './progress.js';
import { instructionSetup, promptSetup } from './task-setup.js';

export interface TrainExample extends TokenizedExample {
  file: string;
  row: number;
}

export interface TrainData {
  /** The rows as read and split (label rows or instruction rows). */
  data: LabelledData | InstructionData;
  /** The training split tokenized, in split order (rows that did not fit are in `skipped`). */
  examples: TrainExample[];
  /** Rows left out: while reading (data.skipped) and while tokenizing. */
  skipped: SkippedRow[];
  tokenizer: Tokenizer;
  maxSeqLen: number;
  /** The validation split tokenized as `examples` (asked for with withVal: evaluation during training). */
  valExamples?: TrainExample[];
  /** What the label path's validation pass needs; absent for instruction data. */
  labelled?: { data: LabelledData; builder: PromptBuilder };
  /** One line for the progress view: counts, the format, what was cut or skipped. */
  summary: string;
}

export async function loadTrainData(
  modelDir: string,
  o: DataOptions & { template: string; chat: boolean; maxSeqLen: number },
  control: RunControl = {},
  withVal = false,
): Promise<TrainData> {
  const loaded = await loadTaskData(o, 'train');
  const { data } = loaded;
  const split = `val ${data.val.length}, test ${data.test.length}`;
  if (loaded.kind === 'label') {
    const labelled = loaded.data;
    const { tokenizer, builder, maxSeqLen } = await promptSetup(modelDir, o, control);
    const answerOf = new Map(labelled.classes.map((c) => [c.name, c.answer]));
    const built = await builder.examples(labelled.train.map((e) => ({ text: e.text, answer: answerOf.get(e.label) as string })));
    const examples = built.map(({ ids, labels }, i) => ({ file: (labelled.train[i] as { file: string }).file, row: (labelled.train[i] as { row: number }).row, ids, labels }));
    const cut = built.filter((e) => e.cutTokens > 0).length;
    const valBuilt = withVal ? await builder.examples(labelled.val.map((e) => ({ text: e.text, answer: answerOf.get(e.label) as string }))) : [];
    const valExamples = valBuilt.map(({ ids, labels }, i) => ({ file: (labelled.val[i] as { file: string }).file, row: (labelled.val[i] as { row: number }).row, ids, labels }));
    return {
      data,
      examples,
      ...(withVal ? { valExamples } : {}),
      skipped: labelled.skipped,
      tokenizer,
      maxSeqLen,
      labelled: { data: labelled, builder },
      summary: `${labelled.train.length} training rows from ${labelled.source} (${split}, skipped ${labelled.skipped.length}; ${cut} texts cut to fit max-seq-len ${maxSeqLen})`,
    };
  }
  const instructions = loaded.data;
  const { tokenizer, builder, template, maxSeqLen } = await instructionSetup(modelDir, o, control);
  const built = await builder.build(instructions.train);
  // Validation rows the template refuses are left out of the validation loss (the summary counts the training rows' only).
  const valExamples = withVal ? (await builder.build(instructions.val)).examples : undefined;
  const how = !o.chat ? `template ${template?.name}` : template === undefined ? "the model's chat template, every assistant turn trained" : `template ${template.name} inside the model's chat template`;
  return {
    data,
    examples: built.examples,
    ...(valExamples ? { valExamples } : {}),
    skipped: [...instructions.skipped, ...built.skipped],
    tokenizer,
    maxSeqLen,
    summary:
      `${built.examples.length} training rows (${instructions.format}, ${how}) from ${instructions.source} (${split}, skipped ${instructions.skipped.length}` +
      `${built.skipped[0] ? ` while reading and ${built.skipped.length} while tokenizing, the first: row ${built.skipped[0].row}, ${built.skipped[0].reason}` : ''})`,
  };
}

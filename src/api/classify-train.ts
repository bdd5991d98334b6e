// train() with task 'classify': the label rows' prompts (the template with the text, no answer:
// the score head reads the prompt's last token) and each row's class index, the label map's order.
import type { ClassifyExample } from '../engine/classify-batch.js';
import { ErrorCode, SftError } from '../errors.js';
import type { TrainData } from './train-data.js';

export interface ClassifyTrainRows {
  examples: ClassifyExample[];
  /** Classes of the head: numLabels when given, else the label map's size. */
  numLabels: number;
  /** Prompts whose input text was cut to fit max-seq-len. */
  cut: number;
}

export async function classifyTrainRows(trainData: TrainData, numLabels: number | undefined): Promise<ClassifyTrainRows> {
  const labelled = trainData.labelled;
  if (!labelled) {
    throw new SftError(
      `task 'classify' trains on label rows (a text column and a label column, --label-map); ${trainData.data.source} holds instruction rows`,
      ErrorCode.InvalidArgument,
    );
  }
  const { classes, train } = labelled.data;
  const labels = numLabels ?? classes.length;
  if (labels < classes.length) {
    throw new SftError(`numLabels ${labels} is smaller than the label map's ${classes.length} classes (${classes.map((c) => c.name).join(', ')})`, ErrorCode.InvalidArgument);
  }
  const index = new Map(classes.map((c, i) => [c.name, i]));
  const prompts = await labelled.builder.prompts(train.map((e) => e.text), 0);
  return {
    examples: prompts.map((p, i) => ({ ids: p.ids, label: index.get((train[i] as { label: string }).label) as number })),
    numLabels: labels,
    cut: prompts.filter((p) => p.cutTokens > 0).length,
  };
}

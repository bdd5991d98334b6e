// The --preview branch of `sft train`: checks N, runs the preview and prints it (text, or one
// JSON object with --json).
import type { ResolvedTrainOptions } from '../config/run-options.js';
import { ErrorCode, SftError } from '../errors.js';
import { formatPreview, previewTraining } from './preview.js';
import { progressView } from './progress-view.js';

export async function printPreview(options: ResolvedTrainOptions, value: unknown, json: boolean): Promise<void> {
  const count = Number(value);
  if (typeof value !== 'string' || !Number.isInteger(count) || count < 1 || count > 10_000) {
    throw new SftError(`--preview: expected a whole number of rows in [1, 10000] but received ${JSON.stringify(value)}`, ErrorCode.InvalidArgument);
  }
  const { summary, rows } = await previewTraining(options, count, json ? {} : { onProgress: progressView() });
  process.stdout.write(json ? `${JSON.stringify({ summary, rows })}\n` : formatPreview(rows, summary));
}

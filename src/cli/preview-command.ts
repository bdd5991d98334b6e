// The --preview branch of `sft train`: checks the options and N, runs the preview and prints it
// (text, or one JSON object with --json). A preview writes nothing, so --out may be left out.
import { flagName, parseOptions } from '../config/parse-options.js';
import { trainOptionsSchema } from '../config/run-options.js';
import { ErrorCode, SftError } from '../errors.js';
import { formatPreview, previewTraining, type PreviewOptions } from './preview.js';
import { progressView } from './progress-view.js';

/**
 * Stands in for a missing --out while the options pass train's schema (its refinements cannot be
 * kept on a copy with `out` optional); dropped right after, so nothing can write to it.
 */
const NO_RUN_FOLDER = '(preview: no run folder)';

/** The options of `sft train --preview` (toApiOptions of its flags): train's checks, --out optional. */
export function parsePreviewOptions(apiOptions: Record<string, unknown>): PreviewOptions {
  const { out, ...options } = parseOptions(trainOptionsSchema, { out: NO_RUN_FOLDER, ...apiOptions }, 'sft train options', flagName);
  void out;
  return options;
}

export async function printPreview(apiOptions: Record<string, unknown>, value: unknown, json: boolean): Promise<void> {
  const options = parsePreviewOptions(apiOptions);
  const count = Number(value);
  if (typeof value !== 'string' || !Number.isInteger(count) || count < 1 || count > 10_000) {
    throw new SftError(`--preview: expected a whole number of rows in [1, 10000] but received ${JSON.stringify(value)}`, ErrorCode.InvalidArgument);
  }
  const { summary, rows } = await previewTraining(options, count, json ? {} : { onProgress: progressView() });
  process.stdout.write(json ? `${JSON.stringify({ summary, rows })}\n` : formatPreview(rows, summary));
}

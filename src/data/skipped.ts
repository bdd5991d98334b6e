// A short human summary of skipped rows for the CLI's output (the full list goes into run.json
// and eval.json): how many, and the first few with where they are and why.
import type { SkippedRow } from '../eval/report-types.js';

export function describeSkipped(skipped: readonly SkippedRow[], shown = 5): string {
  if (skipped.length === 0) return 'no rows skipped';
  const lines = skipped.slice(0, shown).map((s) => `  ${s.file} row ${s.row}: ${s.reason}`);
  if (skipped.length > shown) lines.push(`  ... and ${skipped.length - shown} more`);
  return `${skipped.length} row${skipped.length === 1 ? '' : 's'} skipped:\n${lines.join('\n')}`;
}

// Rows of an instruction format -> InstructionExamples. A row that cannot be one (an empty
// output, a conversation that is not valid JSON or whose roles do not alternate) is returned in
// `skipped` with its file, row and reason, never dropped silently.
import type { SkippedRow } from '../eval/report-types.js';
import { alpacaExample } from './alpaca.js';
import type { InstructionExample, InstructionFormat } from './instruction-example.js';
import { messagesExample } from './messages.js';
import { promptCompletionExample } from './prompt-completion.js';
import type { DataRow } from './row.js';
import { sharegptExample } from './sharegpt.js';

export interface InstructionExamplesResult {
  examples: InstructionExample[];
  skipped: SkippedRow[];
}

const READERS: Readonly<Record<InstructionFormat, (row: DataRow) => InstructionExample | { reason: string }>> = {
  alpaca: alpacaExample,
  sharegpt: sharegptExample,
  messages: messagesExample,
  'prompt-completion': promptCompletionExample,
};

export function toInstructionExamples(rows: readonly DataRow[], format: InstructionFormat): InstructionExamplesResult {
  const read = READERS[format];
  const examples: InstructionExample[] = [];
  const skipped: SkippedRow[] = [];
  for (const row of rows) {
    const result = read(row);
    if ('reason' in result) skipped.push({ file: row.file, row: row.row, reason: result.reason });
    else examples.push(result);
  }
  return { examples, skipped };
}

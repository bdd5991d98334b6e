// prompt / completion rows (trl's "standard prompt-completion" format) -> an InstructionExample.
// Either both cells are text (one user turn, one assistant turn), or both are conversations
// (trl's "conversational prompt-completion": prompt = the turns before, completion = the
// assistant's answer as a list of {role, content}). A template reads `prompt` / `completion`,
// or the alpaca names they fill: instruction = prompt, input = '', output = completion.
import { parseMessagesCell } from './conversation-cell.js';
import type { InstructionExample, Turn } from './instruction-example.js';
import { conversationFields, textColumns, turnOrderProblem } from './instruction-example.js';
import type { DataRow } from './row.js';

export const PROMPT_COMPLETION_COLUMNS = { required: ['prompt', 'completion'], optional: [] } as const;

/** A cell written as a JSON list (a conversational row) rather than text. */
function looksLikeTurnList(cell: string): boolean {
  return /^\s*\[\s*\{/.test(cell);
}

export function promptCompletionExample(row: DataRow): InstructionExample | { reason: string } {
  const { prompt, completion } = row.values;
  if (prompt == null || prompt.trim() === '') return { reason: 'empty prompt' };
  if (completion == null || completion.trim() === '') return { reason: 'empty completion' };
  const columns = textColumns(row.values);
  const conversational = looksLikeTurnList(prompt) && looksLikeTurnList(completion);
  if (!conversational) {
    const turns: Turn[] = [
      { role: 'user', content: prompt },
      { role: 'assistant', content: completion },
    ];
    return { file: row.file, row: row.row, format: 'prompt-completion', turns, fields: { ...columns, instruction: prompt, input: '', output: completion } };
  }
  const before = parseMessagesCell(prompt, 'prompt');
  if ('reason' in before) return before;
  const answer = parseMessagesCell(completion, 'completion');
  if ('reason' in answer) return answer;
  const turns = [...before.turns, ...answer.turns];
  const problem = turnOrderProblem(turns);
  if (problem !== undefined) return { reason: problem };
  return { file: row.file, row: row.row, format: 'prompt-completion', turns, fields: conversationFields(turns, columns) };
}

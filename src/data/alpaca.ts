// Alpaca rows (instruction, optional input, output; Stanford Alpaca / alpaca-cleaned) -> an
// InstructionExample. The user turn is the instruction, followed by the input after a blank line
// when there is one (what a chat template sees with --chat); a template reads the three fields
// by name. A `system` column, when the row has one, becomes the system turn.
import type { InstructionExample, Turn } from './instruction-example.js';
import { textColumns } from './instruction-example.js';
import type { DataRow } from './row.js';

export const ALPACA_COLUMNS = { required: ['instruction', 'output'], optional: ['input', 'system'] } as const;

export function alpacaExample(row: DataRow): InstructionExample | { reason: string } {
  const { instruction, input, output, system } = row.values;
  const reasons: string[] = [];
  if (instruction == null || instruction.trim() === '') reasons.push('empty instruction');
  if (output == null || output.trim() === '') reasons.push('empty output');
  if (reasons.length > 0) return { reason: reasons.join('; ') };
  const inputText = input ?? '';
  const turns: Turn[] = [
    ...(system != null && system.trim() !== '' ? [{ role: 'system' as const, content: system }] : []),
    { role: 'user', content: inputText.trim() === '' ? (instruction as string) : `${instruction as string}\n\n${inputText}` },
    { role: 'assistant', content: output as string },
  ];
  return {
    file: row.file,
    row: row.row,
    format: 'alpaca',
    turns,
    fields: { ...textColumns(row.values), instruction: instruction as string, input: inputText, output: output as string },
  };
}

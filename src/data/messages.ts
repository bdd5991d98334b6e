// Chat-messages rows (`messages`: [{role: system | user | assistant, content}], the trl / OpenAI
// format) -> an InstructionExample. Content may be a string or a list of text parts; tool turns
// are not supported and make the row a skipped row that names the turn.
import { conversationExample, parseMessagesCell } from './conversation-cell.js';
import type { InstructionExample } from './instruction-example.js';
import type { DataRow } from './row.js';

export const MESSAGES_COLUMNS = { required: ['messages'], optional: [] } as const;

export function messagesExample(row: DataRow): InstructionExample | { reason: string } {
  return conversationExample(row, 'messages', 'messages', parseMessagesCell(row.values.messages, 'messages'));
}

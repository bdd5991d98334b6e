// ShareGPT rows (`conversations`: [{from: human | gpt | system, value}], as Vicuna, axolotl and
// LLaMA-Factory read them) -> an InstructionExample. `user` / `assistant` are accepted as
// `from` values too (converted dumps mix them); tool and function turns are not supported and
// make the row a skipped row that names the turn.
import { conversationExample, parseTurnList, turnsFromItems } from './conversation-cell.js';
import type { InstructionExample, TurnRole } from './instruction-example.js';
import type { DataRow } from './row.js';

export const SHAREGPT_COLUMNS = { required: ['conversations'], optional: [] } as const;

const SHAREGPT_ROLES: Readonly<Record<string, TurnRole>> = {
  system: 'system',
  human: 'user',
  user: 'user',
  gpt: 'assistant',
  assistant: 'assistant',
};

export function sharegptExample(row: DataRow): InstructionExample | { reason: string } {
  const list = parseTurnList(row.values.conversations, 'conversations');
  const parsed = 'reason' in list ? list : turnsFromItems(list.items, 'conversations', { roleKey: 'from', textKey: 'value' }, SHAREGPT_ROLES);
  return conversationExample(row, 'sharegpt', 'conversations', parsed);
}

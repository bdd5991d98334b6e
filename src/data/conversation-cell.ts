// A conversation stored in one cell: a JSON list of turn objects (ShareGPT's `conversations`,
// the chat `messages` column, trl's conversational prompt / completion). Readers hand every
// JSON or parquet cell over as a string (row.ts cellToString writes lists and structs as JSON),
// and a CSV cell holds the same JSON text, so one parser serves every file type.
import type { InstructionExample, InstructionFormat, Turn, TurnRole } from './instruction-example.js';
import { conversationFields, textColumns, turnOrderProblem } from './instruction-example.js';
import type { DataRow } from './row.js';

/** A parsed cell, or why it is not a conversation. */
export type ParsedTurns = { turns: Turn[] } | { reason: string };

/** The JSON list in a cell, or why there is none. */
export function parseTurnList(cell: string | null | undefined, column: string): { items: unknown[] } | { reason: string } {
  if (cell == null || cell.trim() === '') return { reason: `missing ${column}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(cell);
  } catch {
    return { reason: `${column} is not a JSON list of turns (it starts ${JSON.stringify(cell.slice(0, 30))})` };
  }
  if (!Array.isArray(parsed)) return { reason: `${column} is not a list of turns` };
  return { items: parsed };
}

/** A turn's text: a string, or a list of parts whose `text` parts are joined (the OpenAI content-parts form). */
export function turnText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  const texts: string[] = [];
  for (const part of content) {
    if (typeof part === 'string') texts.push(part);
    else if (typeof part === 'object' && part !== null && (part as { type?: unknown }).type === 'text' && typeof (part as { text?: unknown }).text === 'string') {
      texts.push((part as { text: string }).text);
    } else return undefined;
  }
  return texts.join('');
}

/**
 * Turns from a list of objects with a role field and a text field (`roleKey` / `textKey`), the
 * role names mapped by `roles`; the first turn the list cannot express is the reason.
 */
export function turnsFromItems(
  items: readonly unknown[],
  column: string,
  keys: { roleKey: string; textKey: string },
  roles: Readonly<Record<string, TurnRole>>,
): ParsedTurns {
  const turns: Turn[] = [];
  for (const [i, item] of items.entries()) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return { reason: `${column}[${i}] is not an object` };
    const record = item as Record<string, unknown>;
    const roleName = record[keys.roleKey];
    if (typeof roleName !== 'string') return { reason: `${column}[${i}] has no "${keys.roleKey}" string` };
    const role = Object.hasOwn(roles, roleName) ? roles[roleName] : undefined;
    if (role === undefined) {
      return { reason: `${column}[${i}] has ${keys.roleKey} ${JSON.stringify(roleName)}; expected one of ${Object.keys(roles).join(', ')}` };
    }
    const content = turnText(record[keys.textKey]);
    if (content === undefined) return { reason: `${column}[${i}] has no "${keys.textKey}" text` };
    turns.push({ role, content });
  }
  return { turns };
}

/** The chat-messages form ({role, content}), as trl and OpenAI write it. */
export const MESSAGE_ROLES: Readonly<Record<string, TurnRole>> = { system: 'system', user: 'user', assistant: 'assistant' };

export function parseMessagesCell(cell: string | null | undefined, column: string): ParsedTurns {
  const list = parseTurnList(cell, column);
  if ('reason' in list) return list;
  return turnsFromItems(list.items, column, { roleKey: 'role', textKey: 'content' }, MESSAGE_ROLES);
}

/** The example of a row whose conversation sits in `column` (parsed into `parsed`), or why it is none. */
export function conversationExample(row: DataRow, format: InstructionFormat, column: string, parsed: ParsedTurns): InstructionExample | { reason: string } {
  if ('reason' in parsed) return parsed;
  const problem = turnOrderProblem(parsed.turns);
  if (problem !== undefined) return { reason: problem };
  const columns = textColumns(row.values);
  delete columns[column];
  return { file: row.file, row: row.row, format, turns: parsed.turns, fields: conversationFields(parsed.turns, columns) };
}

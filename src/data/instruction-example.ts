// The one shape every instruction-data format becomes before tokenization (DESIGN.md: "Data
// formats ... become one Example shape {prompt, response | label}"). Label rows keep their own
// shape (examples.ts: text + label); alpaca, ShareGPT, chat messages and prompt/completion rows
// become an InstructionExample: the conversation as turns, whose last turn is the response the
// model learns to write, plus the row's named fields for user templates.
//
// Not here: reading files (read-rows.ts), telling formats apart (format-detect.ts), turning a
// row of one format into turns (alpaca.ts, sharegpt.ts, messages.ts, prompt-completion.ts) and
// tokenization (instruction-builder.ts).

/** The data formats of `--format`; 'label' is today's text + label rows (examples.ts). */
export const DATA_FORMATS = ['label', 'alpaca', 'sharegpt', 'messages', 'prompt-completion'] as const;
export type DataFormat = (typeof DATA_FORMATS)[number];
/** The formats whose rows become InstructionExamples. */
export type InstructionFormat = Exclude<DataFormat, 'label'>;

export type TurnRole = 'system' | 'user' | 'assistant';

export interface Turn {
  role: TurnRole;
  content: string;
}

export interface InstructionExample {
  file: string;
  /** 1-based data row within `file`. */
  row: number;
  format: InstructionFormat;
  /**
   * The conversation: an optional system turn first, then user and assistant turns alternating,
   * starting with a user turn and ending with an assistant turn. Single-turn data (alpaca,
   * prompt/completion) is [user, assistant]. Every assistant turn is trained on (with --chat;
   * a plain template renders single-turn rows only).
   */
  turns: Turn[];
  /**
   * What a template's placeholders read: `instruction`, `input`, `output` (alpaca's names; a
   * prompt/completion row or a single-turn conversation fills them from its prompt and answer),
   * `system` when there is one, and every other column of the row that holds text.
   */
  fields: Record<string, string>;
}

/** The turns the model reads before its last answer (the prompt at evaluation time). */
export function promptTurns(example: InstructionExample): Turn[] {
  return example.turns.slice(0, -1);
}

/** The last assistant turn's text: the reference answer of an evaluation. */
export function referenceResponse(example: InstructionExample): string {
  return (example.turns.at(-1) as Turn).content;
}

/** Assistant turns of an example (1 for single-turn data). */
export function assistantTurnCount(example: InstructionExample): number {
  return example.turns.filter((t) => t.role === 'assistant').length;
}

/**
 * Checks the turn order an InstructionExample promises (see `turns`); returns why it fails, or
 * undefined. Readers call it so that a malformed conversation is a skipped row with a reason.
 */
export function turnOrderProblem(turns: readonly Turn[]): string | undefined {
  if (turns.length === 0) return 'the conversation has no turns';
  const body = turns[0]?.role === 'system' ? turns.slice(1) : turns;
  if (body.length === 0) return 'the conversation has only a system turn';
  for (let i = 0; i < body.length; i++) {
    const turn = body[i] as Turn;
    const expected: TurnRole = i % 2 === 0 ? 'user' : 'assistant';
    if (turn.role !== expected) {
      const where = turns[0]?.role === 'system' ? i + 1 : i;
      return turn.role === 'system'
        ? `turn ${where + 1} is a system turn; only the first turn may be one`
        : `turn ${where + 1} is a ${turn.role} turn where a ${expected} turn was expected (user and assistant turns must alternate, starting with user)`;
    }
  }
  if (body.at(-1)?.role !== 'assistant') return 'the last turn is not an assistant turn, so there is nothing to learn from it';
  const empty = turns.findIndex((t) => t.role === 'assistant' && t.content.trim() === '');
  if (empty !== -1) return `assistant turn ${empty + 1} is empty`;
  return undefined;
}

/** The fields every example offers a template, from a single-turn conversation; a multi-turn one offers its first exchange. */
export function conversationFields(turns: readonly Turn[], columns: Record<string, string>): Record<string, string> {
  const system = turns[0]?.role === 'system' ? turns[0].content : undefined;
  const body = system === undefined ? turns : turns.slice(1);
  return {
    ...columns,
    instruction: body[0]?.content ?? '',
    input: '',
    output: body.length === 2 ? (body[1] as Turn).content : (body.at(-1)?.content ?? ''),
    ...(system !== undefined ? { system } : {}),
  };
}

/** A row's cells that hold text (null cells left out), for `fields`. */
export function textColumns(values: Record<string, string | null>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) if (value !== null) out[key] = value;
  return out;
}

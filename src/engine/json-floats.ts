// JSON that keeps how its numbers were written: JavaScript reads 8.0 and 8 as the same number,
// but transformers' config classes validate types strictly (final_logit_softcapping: float
// rejects 8), so a config.json we rewrite must still say 8.0 where its source did.
/** A number literal written with a fraction or an exponent (8.0, 1e-06), kept as written. */
export class JsonFloat {
  constructor(readonly text: string) {}
  valueOf(): number {
    return Number(this.text);
  }
}

const MARK = '\u0000float:';
const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** JSON.parse, with each fractional or exponent number literal as a JsonFloat. */
export function parseJsonKeepingFloats(text: string): unknown {
  let marked = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (inString) {
      marked += c;
      if (c === '\\') marked += text[++i] ?? '';
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      marked += c;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      const token = NUMBER.exec(text)?.[0] ?? c;
      marked += /[.eE]/.test(token) ? JSON.stringify(MARK + token) : token;
      i += token.length - 1;
    } else {
      marked += c;
    }
  }
  return JSON.parse(marked, (_key, v: unknown) => (typeof v === 'string' && v.startsWith(MARK) ? new JsonFloat(v.slice(MARK.length)) : v));
}

/** JSON.stringify (2-space indent, final newline) writing each JsonFloat as it was read. */
export function stringifyJsonKeepingFloats(value: unknown): string {
  const text = JSON.stringify(value, (_key, v: unknown) => (v instanceof JsonFloat ? MARK + v.text : v), 2);
  return `${text.replace(/"\\u0000float:([^"]*)"/g, '$1')}\n`;
}

// Cleans review text before it goes into a prompt: normalizes line endings and turns HTML line
// breaks (IMDB reviews carry `<br /><br />` between paragraphs) into real newlines. Deliberately
// conservative: no other tags are removed and no entities are decoded, because text that merely
// looks like markup ("a <b> grade", "5 < 6 & 7 > 4") is common in reviews and must survive.

const BR_TAG = /<br\s*\/?\s*>/gi;

/**
 * `<br>`, `<br/>`, `<br />` (any case, any inner spacing) become '\n'; CRLF and lone CR become
 * '\n'; spaces and tabs next to a newline are dropped; three or more newlines collapse to two
 * (one blank line, i.e. a paragraph break); the result is trimmed.
 */
export function cleanText(raw: string): string {
  return raw
    .replace(/\r\n?/g, '\n')
    .replace(BR_TAG, '\n')
    .replace(/[ \t]*\n[ \t]*/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
